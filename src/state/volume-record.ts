import type { VolumeOptions } from '../options/schema';

/** What the plugin remembers of a volume. Options never hold secrets, only file names. */
export interface VolumeRecord {
  name: string;
  /** The kind of the backend that holds its data (`local`, `sftp`, ...). */
  backend: string;
  options: VolumeOptions;
  /** RFC 3339. */
  createdAt: string;
  /** Mount ID -> how many times it is mounted (Docker may send the same ID twice). */
  mounts: Record<string, number>;
  /** Options a Create asked for that a shared catalogue's definition overruled. */
  ignoredOptions?: VolumeOptions;
}

// Mount IDs are user-controlled keys: a prototype-less map keeps "__proto__" an ordinary key.
export const emptyMounts = (): Record<string, number> => Object.create(null) as Record<string, number>;

export const mountCount = (record: VolumeRecord): number =>
  Object.values(record.mounts).reduce((sum, count) => sum + count, 0);

/** Whether any mount ID holds the volume; List asks it of every volume, so no array is made. */
export function isMounted(record: VolumeRecord): boolean {
  for (const _ in record.mounts) return true;
  return false;
}

/** One more mount of `id` (the engine may send the same ID twice). */
export function addMount(record: VolumeRecord, id: string): void {
  record.mounts[id] = (record.mounts[id] ?? 0) + 1;
}

/** One mount of `id` fewer; an ID at zero is gone, never negative. */
export function dropMount(record: VolumeRecord, id: string): void {
  const count = record.mounts[id] ?? 0;
  if (count <= 1) delete record.mounts[id];
  else record.mounts[id] = count - 1;
}

/**
 * Returns a description of what is wrong with `value` as a record, or null when it is one.
 * `kinds` are the backends this daemon runs with: a record of another is not one of ours.
 */
export function recordProblem(value: unknown, kinds: readonly string[]): string | null {
  if (typeof value !== 'object' || value === null) return 'is not an object';
  const r = value as Record<string, unknown>;
  if (typeof r.name !== 'string' || r.name === '') return 'has no name';
  if (typeof r.backend !== 'string' || !kinds.includes(r.backend)) return `has unknown backend ${JSON.stringify(r.backend)}`;
  if (!isStringMap(r.options)) return 'has options that are not a map of strings';
  if (typeof r.createdAt !== 'string' || Number.isNaN(Date.parse(r.createdAt))) return 'has no valid createdAt';
  if (typeof r.mounts !== 'object' || r.mounts === null || Array.isArray(r.mounts)) return 'has no mounts map';
  for (const count of Object.values(r.mounts)) {
    if (!Number.isInteger(count) || (count as number) < 1) return 'has a mount count that is not a positive integer';
  }
  return null;
}

function isStringMap(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');
}
