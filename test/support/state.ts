import { readStateFile } from '../../src/state/state-file';

/** The backends the daemon runs with, as its state file names them. */
export const BACKEND_KINDS = ['local', 'sftp'];

/** The volumes a state file holds, read as the daemon reads it at start. */
export const readVolumes = async (file: string): Promise<Awaited<ReturnType<typeof readStateFile>>['volumes']> =>
  (await readStateFile(file, BACKEND_KINDS)).volumes;
