import { BACKEND_KINDS, type BackendKind } from '../backends/backend';
import type { VolumeOptions } from '../options/schema';

/** What the plugin remembers of a volume. Options never hold secrets, only file names. */
export interface VolumeRecord {
  name: string;
  backend: BackendKind;
  options: VolumeOptions;
  /** RFC 3339. */
  createdAt: string;
  /** Mount ID -> how many times it is mounted (Docker may send the same ID twice). */
  mounts: Record<string, number>;
}

// Mount IDs are user-controlled keys: a prototype-less map keeps "__proto__" an ordinary key.
export const emptyMounts = (): Record<string, number> => Object.create(null) as Record<string, number>;

export const mountCount = (record: VolumeRecord): number =>
  Object.values(record.mounts).reduce((sum, count) => sum + count, 0);

/** Returns a description of what is wrong with `value` as a record, or null when it is one. */
export function recordProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null) return 'is not an object';
  const r = value as Record<string, unknown>;
  if (typeof r.name !== 'string' || r.name === '') return 'has no name';
  if (!(BACKEND_KINDS as readonly unknown[]).includes(r.backend)) return `has unknown backend ${JSON.stringify(r.backend)}`;
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
