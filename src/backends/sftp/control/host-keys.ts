import { createHash, createHmac } from 'node:crypto';

/** A server's public host key as it travels in SSH: the raw blob, and its algorithm name. */
export interface HostKey {
  type: string;
  blob: Buffer;
}

/** The key blob starts with its type as an SSH string (uint32 length, bytes). */
export function hostKeyFromBlob(blob: Buffer): HostKey {
  const length = blob.length >= 4 ? blob.readUInt32BE(0) : 0;
  const type = blob.subarray(4, 4 + length).toString('latin1');
  return { type, blob };
}

/** As `ssh-keygen -l` prints it: SHA256 of the blob, base64 without padding. */
export const fingerprintOf = (key: HostKey): string =>
  `SHA256:${createHash('sha256').update(key.blob).digest('base64').replace(/=+$/, '')}`;

/** The same fingerprint with or without its trailing "=". */
export const sameFingerprint = (a: string, b: string): boolean => a.replace(/=+$/, '') === b.replace(/=+$/, '');

/** How OpenSSH names a host in known_hosts: the bare name on port 22, else [host]:port. */
export const knownHostsName = (host: string, port: number): string => (port === 22 ? host : `[${host}]:${port}`);

export const knownHostsLine = (host: string, port: number, key: HostKey): string =>
  `${knownHostsName(host, port)} ${key.type} ${key.blob.toString('base64')}`;

/** Host key algorithms ssh may negotiate for a key of this type. */
export function hostKeyAlgorithms(type: string): string {
  return type === 'ssh-rsa' ? 'rsa-sha2-512,rsa-sha2-256,ssh-rsa' : type;
}

/** One line of a known_hosts file, split once. */
export interface KnownHostsEntry {
  marker: string | undefined;
  hosts: string;
  type: string;
  keyData: string;
}

/** The lines of a known_hosts text (OpenSSH format) that can name a host key; comments and blanks dropped. */
export function parseKnownHosts(text: string): KnownHostsEntry[] {
  const entries: KnownHostsEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    const marker = fields[0]?.startsWith('@') ? fields.shift() : undefined;
    const [hosts, type, keyData] = fields;
    if (hosts === undefined || type === undefined || keyData === undefined || marker === '@cert-authority') continue;
    entries.push({ marker, hosts, type, keyData });
  }
  return entries;
}

/**
 * Whether known_hosts entries (plain, comma lists, wildcards and hashed names) trust `key`
 * for host:port. A @revoked line for the key always wins.
 */
export function knownHostsTrust(entries: readonly KnownHostsEntry[], host: string, port: number, key: HostKey): 'trusted' | 'revoked' | 'unknown' {
  const name = knownHostsName(host, port);
  const blob = key.blob.toString('base64');
  let trusted = false;
  for (const entry of entries) {
    if (entry.type !== key.type || entry.keyData !== blob || !hostsMatch(entry.hosts, name)) continue;
    if (entry.marker === '@revoked') return 'revoked';
    trusted = true;
  }
  return trusted ? 'trusted' : 'unknown';
}

function hostsMatch(patterns: string, name: string): boolean {
  if (patterns.startsWith('|1|')) {
    const [, , salt, hash] = patterns.split('|');
    if (salt === undefined || hash === undefined) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  let matched = false;
  for (const pattern of patterns.split(',')) {
    const negated = pattern.startsWith('!');
    if (globMatch(negated ? pattern.slice(1) : pattern, name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

function globMatch(pattern: string, name: string): boolean {
  const regex = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return regex.test(name);
}
