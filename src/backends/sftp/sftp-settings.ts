import path from 'node:path';
import { PluginError } from '../../errors';
import type { VolumeSpec } from '../backend';
import type { ControlTarget } from './control/control-connections';
import type { HostTrust } from './control/host-trust';
import type { DefaultStore } from './default-store';
import { volumePath, type PathBound } from './remote-path';
import { SFTP_OPTION_DEFAULTS as DEFAULTS, optionValue, type SftpOptionName } from './sftp-options';

/** Everything needed to reach and mount one SFTP volume, typed, with defaults applied. */
export interface SftpSettings {
  host: string;
  port: number;
  user: string;
  /** Absolute, or relative to the login directory (then starting with "./": see forSftpClient). */
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
  /** Symlinks that are absolute or hold ".." read as EPERM (for servers whose links are not to be followed). */
  containSymlinks: boolean;
}

/**
 * Parses a volume's options into settings. Plugin-level defaults describe one default
 * store, so they apply only to the volumes that store holds (DefaultStore.holds).
 */
export function resolveSettings(spec: VolumeSpec, store: DefaultStore, keysDir: string): SftpSettings {
  const o = spec.options;
  const value = <K extends SftpOptionName>(name: K) => optionValue(o, name);
  const defaults = store.defaults;
  const onDefaultStore = store.holds(o);
  const fallback = (given: string | undefined): string | undefined => (onDefaultStore ? given : undefined);

  const host = value('host') ?? defaults.host;
  if (host === undefined) {
    throw new PluginError('BAD_OPTION', 'an SFTP volume needs a server: add -o host=NAME (or set SFTP_HOST on the plugin)');
  }
  const user = value('user') ?? fallback(defaults.user);
  if (user === undefined) {
    throw new PluginError('BAD_OPTION', `an SFTP volume needs a user: add -o user=NAME${onDefaultStore || defaults.host === undefined ? ' (or set SFTP_USER on the plugin)' : ''}`);
  }
  const passwordFile = value('password_file');
  // A base path with no default host confines every volume; with one, the volumes on it.
  const basePath = defaults.host === undefined ? defaults.basePath : fallback(defaults.basePath);
  const identity = value('identity') ?? (passwordFile === undefined ? fallback(defaults.identity) : undefined);
  return {
    host,
    port: value('port') ?? (onDefaultStore ? store.port : DEFAULTS.port),
    user,
    remotePath: volumePath(spec.name, value('path'), boundOf(basePath, onDefaultStore)),
    basePath,
    identityFile: identity === undefined ? undefined : path.join(keysDir, identity),
    passwordFile: passwordFile === undefined ? undefined : path.join(keysDir, passwordFile),
    hostkey: value('hostkey') ?? fallback(defaults.hostkey),
    readonly: value('readonly') ?? DEFAULTS.readonly,
    uid: value('uid'),
    gid: value('gid'),
    umask: value('umask'),
    allowOther: value('allow_other') ?? DEFAULTS.allow_other,
    deleteOnRemove: (value('remove') ?? DEFAULTS.remove) === 'delete',
    connections: connectionsFor(value('connections'), passwordFile !== undefined),
    cipher: value('cipher') ?? DEFAULTS.cipher,
    compression: value('compression') ?? DEFAULTS.compression,
    cacheTimeout: value('cache_timeout') ?? DEFAULTS.cache_timeout,
    keepalive: value('keepalive') ?? DEFAULTS.keepalive,
    connectTimeoutSeconds: value('connect_timeout') ?? DEFAULTS.connect_timeout,
    containSymlinks: value('contain_symlinks') ?? DEFAULTS.contain_symlinks,
  };
}

// sshfs reads a password from stdin once, so password logins cannot open parallel connections.
function connectionsFor(given: number | undefined, password: boolean): number {
  if (!password) return given ?? DEFAULTS.connections;
  if (given !== undefined && given !== 1) {
    throw new PluginError('BAD_OPTION', `option connections=${given} needs key authentication: sshfs cannot open parallel connections with password_file; use identity=KEYFILE, or connections=1`);
  }
  return 1;
}

/** The base path; without one, the login directory of the default store, which holds its catalogue. */
function boundOf(basePath: string | undefined, onDefaultStore: boolean): PathBound | undefined {
  if (basePath !== undefined) return { dir: basePath, what: "the plugin's base path" };
  return onDefaultStore ? { dir: '.', what: 'the login directory' } : undefined;
}

/** user@host:port/path, for Status and messages: no secret is part of it. */
export const describeRemote = (s: SftpSettings): string => `${describeServer(s)}${s.remotePath.startsWith('/') ? '' : '/~/'}${s.remotePath.replace(/^\.\//, '')}`;

/** user@host:port, for messages about a server rather than a volume. */
export const describeServer = (s: SftpSettings): string => `${s.user}@${s.host.includes(':') ? `[${s.host}]` : s.host}:${s.port}`;

/** The login for control work on the volume's server, trusted as `trust` says. */
export const controlTargetOf = (s: SftpSettings, trust: HostTrust): ControlTarget => ({
  host: s.host,
  port: s.port,
  user: s.user,
  identityFile: s.identityFile,
  passwordFile: s.passwordFile,
  trust,
  connectTimeoutSeconds: s.connectTimeoutSeconds,
});
