import { readFile } from 'node:fs/promises';
import { PluginError } from '../errors';
import { checkVolumeName } from '../common/volume-name';
import { emptyMounts, recordProblem, type VolumeRecord } from './volume-record';

/**
 * The state file is a journal of JSON lines: a header naming the format and version, then
 * one line per change (`{"put": record}` or `{"delete": name}`). A change costs one short
 * append whatever the number of volumes; compaction rewrites the file atomically as the
 * header plus one `put` per volume.
 */
export const STATE_VERSION = 1;
export const STATE_FORMAT = 'docker-volume-sftp-state';
export const STATE_FILE_NAME = 'state.jsonl';

export const headerLine = (): string => `${JSON.stringify({ format: STATE_FORMAT, version: STATE_VERSION })}\n`;
export const putLine = (record: VolumeRecord): string => `${JSON.stringify({ put: record })}\n`;
export const deleteLine = (name: string): string => `${JSON.stringify({ delete: name })}\n`;
export const snapshotText = (records: Iterable<VolumeRecord>): string => headerLine() + [...records].map(putLine).join('');

export interface LoadedState {
  volumes: Map<string, VolumeRecord>;
  /** Bytes of a last line cut short by a crash mid-append: a change never acknowledged. */
  tornTailBytes: number;
}

const unreadable = (file: string, why: string): PluginError =>
  new PluginError(
    'STATE_UNREADABLE',
    `state file ${file} ${why}. It has not been changed. Restore it from a backup, or move it aside to start with no volumes.`,
  );

/**
 * Reads the state file; a missing file is a first start. Anything else that is not a
 * state file of this version stops the daemon: silently starting empty would make Docker
 * forget every volume (it deletes volumes whose Get fails after a restart).
 */
export async function readStateFile(file: string, kinds: readonly string[]): Promise<LoadedState> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { volumes: new Map(), tornTailBytes: 0 };
    throw unreadable(file, `cannot be read (${(error as Error).message})`);
  }
  const lines = text.split('\n');
  // Only the last line may be unfinished: an append the crash interrupted before its fsync.
  const tail = lines.pop() ?? '';
  const volumes = new Map<string, VolumeRecord>();
  lines.forEach((line, index) => {
    const where = `line ${index + 1}`;
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      throw unreadable(file, `is not valid: ${where} is not JSON`);
    }
    if (index === 0) return checkHeader(file, entry);
    applyEntry(file, where, entry, volumes, kinds);
  });
  if (lines.length === 0 && tail !== '') throw unreadable(file, 'has no header line');
  return { volumes, tornTailBytes: Buffer.byteLength(tail) };
}

function checkHeader(file: string, entry: unknown): void {
  const header = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
  if (header.format !== STATE_FORMAT) throw unreadable(file, 'is not a docker-volume-sftp state file (its first line has no "format")');
  if (header.version !== STATE_VERSION) {
    throw unreadable(file, `has version ${JSON.stringify(header.version)}, but this plugin reads only version ${STATE_VERSION}`);
  }
}

function applyEntry(file: string, where: string, entry: unknown, volumes: Map<string, VolumeRecord>, kinds: readonly string[]): void {
  const change = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
  if (typeof change.delete === 'string') {
    volumes.delete(change.delete);
    return;
  }
  const problem = change.put === undefined ? 'is neither a put nor a delete' : recordProblem(change.put, kinds);
  if (problem !== null) throw unreadable(file, `has a change at ${where} that ${problem}`);
  const record = change.put as VolumeRecord;
  try {
    checkVolumeName(record.name);
  } catch {
    throw unreadable(file, `has a volume with an invalid name ${JSON.stringify(record.name)} at ${where}`);
  }
  volumes.set(record.name, { ...record, mounts: Object.assign(emptyMounts(), record.mounts) });
}
