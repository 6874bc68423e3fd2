import { readFile } from 'node:fs/promises';
import { PluginError } from '../errors';
import { checkVolumeName } from '../service/volume-name';
import { emptyMounts, recordProblem, type VolumeRecord } from './volume-record';

export const STATE_VERSION = 1;
export const STATE_FILE_NAME = 'state.json';

export interface StateFile {
  version: typeof STATE_VERSION;
  volumes: VolumeRecord[];
}

const unreadable = (file: string, why: string): PluginError =>
  new PluginError(
    'STATE_UNREADABLE',
    `state file ${file} ${why}. It has not been changed. Restore it from a backup, or move it aside to start with no volumes.`,
  );

/**
 * Loads the state file; a missing file is a first start. Anything else that is not a
 * state file of this version stops the daemon: silently starting empty would make Docker
 * forget every volume (it deletes volumes whose Get fails after a restart).
 */
export async function loadStateFile(file: string): Promise<Map<string, VolumeRecord>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw unreadable(file, `cannot be read (${(error as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw unreadable(file, `is not valid JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null) throw unreadable(file, 'is not a JSON object');
  const { version, volumes } = parsed as Record<string, unknown>;
  if (version !== STATE_VERSION) {
    throw unreadable(file, `has version ${JSON.stringify(version)}, but this plugin reads only version ${STATE_VERSION}`);
  }
  if (!Array.isArray(volumes)) throw unreadable(file, 'has no volumes list');
  const records = new Map<string, VolumeRecord>();
  volumes.forEach((value: unknown, index) => {
    const problem = recordProblem(value);
    if (problem !== null) throw unreadable(file, `has a volume at index ${index} that ${problem}`);
    const record = value as VolumeRecord;
    try {
      checkVolumeName(record.name);
    } catch {
      throw unreadable(file, `has a volume with an invalid name ${JSON.stringify(record.name)}`);
    }
    if (records.has(record.name)) throw unreadable(file, `lists volume ${record.name} twice`);
    records.set(record.name, { ...record, mounts: Object.assign(emptyMounts(), record.mounts) });
  });
  return records;
}

export const serializeState = (records: Iterable<VolumeRecord>): string =>
  `${JSON.stringify({ version: STATE_VERSION, volumes: [...records] } satisfies StateFile)}\n`;
