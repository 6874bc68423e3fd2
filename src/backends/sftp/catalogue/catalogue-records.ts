import type { CatalogueEntry, HostIdentity } from '../../backend';
import { printableHostName } from './host-identity';

/** A host's claim that it has a volume mounted; alive while the server-side mtime is fresh. */
export interface Lease {
  host: HostIdentity;
  /** Seconds since the holder last renewed it, by the server's clock. */
  ageSeconds: number;
}

/** What a Remove leaves on the store, so other hosts can say who removed a volume. */
export interface Tombstone {
  name: string;
  removedBy: HostIdentity;
  removedAt: string;
}

export function parseTombstone(text: string, name: string): Tombstone | undefined {
  try {
    const value = JSON.parse(text) as Partial<Tombstone>;
    const by = parseHost(JSON.stringify(value.removedBy ?? {}));
    if (value.name !== name || typeof value.removedAt !== 'string' || by === undefined) return undefined;
    // Shown in messages: a time as this plugin writes it, or nothing that could carry escapes.
    const removedAt = /^[0-9T:.Z-]{1,40}$/.test(value.removedAt) ? value.removedAt : 'an unknown time';
    return { name, removedBy: by, removedAt };
  } catch {
    return undefined;
  }
}

/**
 * A record as the store keeps it, one small JSON file per volume; undefined when it is not
 * one. Parsed only: whether this host may use it is record-checks.ts's question.
 */
export function parseEntry(text: string, name: string): CatalogueEntry | undefined {
  try {
    const value = JSON.parse(text) as Partial<CatalogueEntry>;
    if (value.name !== name || typeof value.createdAt !== 'string' || typeof value.options !== 'object' || value.options === null) return undefined;
    if (!Object.values(value.options).every((v) => typeof v === 'string')) return undefined;
    const by = value.createdBy as Partial<HostIdentity> | undefined;
    return { name, options: value.options, createdAt: value.createdAt, createdBy: { id: String(by?.id ?? '?'), name: String(by?.name ?? '?') } };
  } catch {
    return undefined;
  }
}

/** A host as a lease or tombstone names it; both parts made printable, as they reach messages. */
export function parseHost(text: string): HostIdentity | undefined {
  try {
    const value = JSON.parse(text) as Partial<HostIdentity>;
    return typeof value.id === 'string' && typeof value.name === 'string' ? { id: printableHostName(value.id), name: printableHostName(value.name) } : undefined;
  } catch {
    return undefined;
  }
}
