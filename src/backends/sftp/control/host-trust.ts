import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import { parseKnownHosts, type KnownHostsEntry } from './host-keys';

/** How a server's host key is to be trusted. Host keys are never accepted blindly. */
export interface HostTrust {
  /** A pinned fingerprint, SHA256:... */
  fingerprint?: string | undefined;
  /** known_hosts entries: the administrator's file, or the line the plugin pinned at Create. */
  knownHosts?: readonly KnownHostsEntry[] | undefined;
  /** Equal labels mean equal trust: connections are pooled by it, never by the entries. */
  label: string;
}

/** Trust in exactly the key a known_hosts text names (the line pinned at a volume's Create). */
export function pinnedTrust(knownHostsText: string): HostTrust {
  return { knownHosts: parseKnownHosts(knownHostsText), label: `pinned:${crypto.createHash('sha256').update(knownHostsText).digest('hex')}` };
}

/**
 * The administrator's trust: a fingerprint given as `hostkey=` (or SFTP_HOSTKEY) wins;
 * else the known_hosts file in the plugin's keys directory. The file is parsed once per
 * version of it (its mtime and size), not per operation: the store catalogue asks every
 * second. An administrator's edit is seen by the next operation.
 */
export class AdministratorTrust {
  private parsed: { stamp: string; trust: HostTrust } | undefined;

  constructor(private readonly knownHostsFile: string) {}

  async of(fingerprint: string | undefined): Promise<HostTrust> {
    if (fingerprint !== undefined) return { fingerprint, label: `fingerprint:${fingerprint}` };
    let stamp: string;
    try {
      const stat = await fs.stat(this.knownHostsFile);
      stamp = `${stat.mtimeMs}:${stat.size}:${stat.ino}`;
    } catch {
      return { label: 'none' };
    }
    if (this.parsed?.stamp !== stamp) {
      const text = await fs.readFile(this.knownHostsFile, 'utf8').catch(() => '');
      this.parsed = { stamp, trust: { knownHosts: parseKnownHosts(text), label: `known_hosts:${stamp}` } };
    }
    return this.parsed.trust;
  }
}
