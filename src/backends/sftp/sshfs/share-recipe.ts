import crypto from 'node:crypto';
import path from 'node:path';
import { hostKeyFromBlob } from '../control/host-keys';
import { describeServer, type SftpSettings } from '../sftp-settings';
import { sshConfigLines, sshConfigText } from './ssh-config';
import type { SshfsRuntime } from './sshfs-runtime';
import { sshfsOptions, staleForAtMost } from './sshfs-options';

/**
 * Everything that makes one sshfs share, and where its files go: volumes whose recipes
 * have the same key share one sshfs. Holds no secret: the password is read from
 * `passwordFile` when sshfs starts (sshfs-start.ts).
 */
export interface ShareRecipe {
  /** Of the config lines, the pinned key, the options, the root and the password file's name. */
  key: string;
  /** The share's directory: its mountpoint, config, known_hosts and sshfs's log are in it. */
  dir: string;
  mountpoint: string;
  sshConfigFile: string;
  /** The complete ssh_config text, naming knownHostsFile. */
  sshConfig: string;
  knownHostsFile: string;
  knownHosts: string;
  options: readonly string[];
  /** sshfs's environment beyond the minimal one; the options already say what it changes. */
  env: Readonly<Record<string, string>>;
  /** Volumes with an absolute path share a mount of '/', the others one of the login directory. */
  root: '/' | '';
  passwordFile: string | undefined;
  logFile: string;
  /** Handshakes to this server go through one gate (handshake-gate.ts): host:port. */
  server: string;
  /** For messages: user@host:port. */
  login: string;
  /** A refused handshake is tried again while this lasts; sshfs gets 5 s more to answer. */
  connectTimeoutSeconds: number;
  /** Another host's change shows within this (plus a round trip) when sshfs runs the clock library... */
  staleForAtMostSeconds: number;
  /** ...and within this when it does not (a whole second read for each tick). */
  staleForAtMostWithoutClockSeconds: number;
}

/**
 * The share recipe of a volume: a pure function of its settings, the known_hosts line
 * pinned at its Create, the sshfs this host runs, and the directory the
 * shares live in. Used by the backend and by the benchmarks, so both run the same sshfs.
 */
export function shareRecipe(settings: SftpSettings, knownHosts: string, sshfs: SshfsRuntime, sharesDir: string): ShareRecipe {
  const hostKeyType = hostKeyFromBlob(Buffer.from(knownHosts.split(/\s+/)[2] ?? '', 'base64')).type;
  const lines = sshConfigLines(settings, hostKeyType);
  const options = sshfsOptions(settings, sshfs);
  const root = settings.remotePath.startsWith('/') ? '/' : '';
  const material = JSON.stringify([lines, knownHosts, options, root, settings.passwordFile ?? null]);
  const key = crypto.createHash('sha256').update(material).digest('hex').slice(0, 16);
  const dir = path.join(sharesDir, key);
  const knownHostsFile = path.join(dir, 'known_hosts');
  return {
    key,
    dir,
    mountpoint: path.join(dir, 'mnt'),
    sshConfigFile: path.join(dir, 'ssh_config'),
    sshConfig: sshConfigText(lines, knownHostsFile),
    knownHostsFile,
    knownHosts,
    options,
    // sshfs-open-files.so opens every connection at mount time (sshfs opens 2..N lazily).
    env: { ...sshfs.env, SSHFS_CONNECTIONS: String(settings.connections) },
    root,
    passwordFile: settings.passwordFile,
    logFile: path.join(dir, 'sshfs.log'),
    server: `${settings.host}:${settings.port}`,
    login: describeServer(settings),
    connectTimeoutSeconds: settings.connectTimeoutSeconds,
    staleForAtMostSeconds: staleForAtMost(settings.cacheTimeout, sshfs.ticksPerSecond),
    staleForAtMostWithoutClockSeconds: staleForAtMost(settings.cacheTimeout, sshfs.ticksPerSecond, 1),
  };
}
