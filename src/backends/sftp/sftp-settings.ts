import path from 'node:path';
import type { SftpDefaults } from '../../config';
import { PluginError } from '../../errors';
import { parseBoolean, parseInteger, parseMode, parseSeconds } from '../../options/values';
import type { VolumeSpec } from '../backend';

/** Everything needed to reach and mount one SFTP volume, typed, with defaults applied. */
export interface SftpSettings {
  host: string;
  port: number;
  user: string;
  /** Absolute, or relative to the login directory. */
  remotePath: string;
  /** The remote directory the volume must stay inside, when the plugin has one. */
  basePath: string | undefined;
  identityFile: string | undefined;
  passwordFile: string | undefined;
  hostkey: string | undefined;
  readonly: boolean;
  uid: number | undefined;
  gid: number | undefined;
  umask: number | undefined;
  allowOther: boolean;
  deleteOnRemove: boolean;
  connections: number;
  cipher: string;
  compression: boolean;
  cacheTimeout: number;
  keepalive: number;
  connectTimeoutSeconds: number;
}

// Measured here: AES-GCM with several connections roughly doubles sshfs's default throughput.
export const DEFAULT_CIPHER = 'aes128-gcm@openssh.com';
export const DEFAULT_CONNECTIONS = 4;
// Another host's write shows within this: a reader that looked at the file mid-write keeps
// the old size for at most this long after the writer closed it.
export const DEFAULT_CACHE_TIMEOUT = 0.5;

/**
 * Applies plugin-level defaults. They describe one default store, so they apply only when
 * the volume names no host or names that same host.
 */
export function resolveSettings(spec: VolumeSpec, defaults: SftpDefaults, keysDir: string): SftpSettings {
  const o = spec.options;
  const onDefaultStore = o.host === undefined || o.host === defaults.host;
  const fallback = (value: string | undefined): string | undefined => (onDefaultStore ? value : undefined);

  const host = o.host ?? defaults.host;
  if (host === undefined) {
    throw new PluginError('BAD_OPTION', 'an SFTP volume needs a server: add -o host=NAME (or set SFTP_HOST on the plugin)');
  }
  const user = o.user ?? fallback(defaults.user);
  if (user === undefined) {
    throw new PluginError('BAD_OPTION', 'an SFTP volume needs a user: add -o user=NAME (or set SFTP_USER on the plugin)');
  }
  // A base path with no default host confines every volume; with one, the volumes on it.
  const basePath = defaults.host === undefined ? defaults.basePath : fallback(defaults.basePath);
  const identity = o.identity ?? (o.password_file === undefined ? fallback(defaults.identity) : undefined);
  return {
    host,
    port: parseInteger(o.port ?? fallback(defaults.port), 22),
    user,
    remotePath: remotePathOf(spec.name, o.path, basePath),
    basePath,
    identityFile: identity === undefined ? undefined : path.join(keysDir, identity),
    passwordFile: o.password_file === undefined ? undefined : path.join(keysDir, o.password_file),
    hostkey: o.hostkey ?? fallback(defaults.hostkey),
    readonly: parseBoolean(o.readonly, false),
    uid: o.uid === undefined ? undefined : Number(o.uid),
    gid: o.gid === undefined ? undefined : Number(o.gid),
    umask: parseMode(o.umask),
    allowOther: parseBoolean(o.allow_other, true),
    deleteOnRemove: o.remove === 'delete',
    connections: connectionsFor(o.connections, o.password_file !== undefined),
    cipher: o.cipher ?? DEFAULT_CIPHER,
    compression: parseBoolean(o.compression, false),
    cacheTimeout: parseSeconds(o.cache_timeout, DEFAULT_CACHE_TIMEOUT),
    keepalive: parseInteger(o.keepalive, 5),
    connectTimeoutSeconds: parseInteger(o.connect_timeout, 10),
  };
}

// sshfs reads a password from stdin once, so password logins cannot open parallel connections.
function connectionsFor(given: string | undefined, password: boolean): number {
  if (!password) return parseInteger(given, DEFAULT_CONNECTIONS);
  if (given !== undefined && given !== '1') {
    throw new PluginError('BAD_OPTION', `option connections=${given} needs key authentication: sshfs cannot open parallel connections with password_file; use identity=KEYFILE, or connections=1`);
  }
  return 1;
}

function remotePathOf(name: string, given: string | undefined, basePath: string | undefined): string {
  if (given === undefined) return basePath === undefined ? name : path.posix.join(basePath, name);
  if (basePath === undefined) return path.posix.normalize(given);
  const resolved = path.posix.resolve(basePath, given);
  const base = path.posix.resolve(basePath);
  if (resolved !== base && !resolved.startsWith(`${base.replace(/\/$/, '')}/`)) {
    throw new PluginError('BAD_OPTION', `option path=${JSON.stringify(given)} is outside the plugin's base path ${base}; use a path inside it`);
  }
  return resolved;
}

/** user@host:port/path, for Status and messages: no secret is part of it. */
export const describeRemote = (s: SftpSettings): string =>
  `${s.user}@${s.host.includes(':') ? `[${s.host}]` : s.host}:${s.port}${s.remotePath.startsWith('/') ? '' : '/~/'}${s.remotePath}`;
