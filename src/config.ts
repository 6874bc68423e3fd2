import os from 'node:os';
import path from 'node:path';
import { PluginError } from './errors';
import { LOG_LEVELS, type LogLevel } from './log';

/** Environment variable names are a contract with config.json and with other tools. */
export interface Config {
  socketPath: string;
  dataDir: string;
  mountRoot: string;
  /** Mounts the plugin keeps to itself (SFTP shares): never under the data dir or the mount root. */
  runDir: string;
  logLevel: LogLevel;
  /** The environment's SFTP_* variables, raw: the sftp backend reads and checks its own at start. */
  sftpEnv: Readonly<Record<string, string>>;
  /** Seconds a host's lease on a mounted volume lasts without renewal. */
  leaseTtlSeconds: number;
  /** Seconds between reads of the default store's catalogue. */
  catalogueRefreshSeconds: number;
  /** Seconds an SFTP mount stays connected after its last Unmount; 0 releases it at once. */
  sftpIdleUnmountSeconds: number;
  /** How this host is named to the other hosts of a store: HOST_NAME, or the hostname. */
  hostName: string;
}

// sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH_BYTES = 107;

function absolutePath(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const value = env[name] ?? fallback;
  if (value === '' || !path.isAbsolute(value) || value.includes('\0')) {
    throw new PluginError('CONFIG', `${name} must be an absolute path, got ${JSON.stringify(value)}`);
  }
  const normalized = path.resolve(value);
  if (normalized === '/') {
    throw new PluginError('CONFIG', `${name} must not be the root directory`);
  }
  return normalized;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const socketPath = absolutePath(env, 'PLUGIN_SOCKET', '/run/docker/plugins/sftp.sock');
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) {
    throw new PluginError('CONFIG', `PLUGIN_SOCKET is longer than ${MAX_SOCKET_PATH_BYTES} bytes, which a Unix socket path cannot be`);
  }
  const dataDir = absolutePath(env, 'PLUGIN_DATA_DIR', '/var/lib/docker-volume-sftp');
  const mountRoot = absolutePath(env, 'PLUGIN_MOUNT_ROOT', '/mnt/volumes');
  const runDir = absolutePath(env, 'PLUGIN_RUN_DIR', '/run/docker-volume-sftp');

  const level = (env.LOG_LEVEL ?? 'info').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new PluginError('CONFIG', `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(env.LOG_LEVEL)}`);
  }

  const sftpEnv = Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[0].startsWith('SFTP_') && entry[1] !== undefined));

  const leaseTtlSeconds = seconds(env, 'SFTP_LEASE_TTL', 30, 3, 3600);
  const catalogueRefreshSeconds = seconds(env, 'SFTP_CATALOGUE_REFRESH', 300, 1, 3600);
  // Containers that come and go (docker run --rm, restarts, CI jobs) reuse the connection.
  const sftpIdleUnmountSeconds = seconds(env, 'SFTP_IDLE_UNMOUNT', 10, 0, 3600);
  // The managed plugin passes HOST_NAME= (empty) when it is not set: that means the hostname.
  const hostName = env.HOST_NAME || os.hostname();
  return { socketPath, dataDir, mountRoot, runDir, logLevel: level as LogLevel, sftpEnv, leaseTtlSeconds, catalogueRefreshSeconds, sftpIdleUnmountSeconds, hostName };
}

function seconds(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  if (!/^[0-9]+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new PluginError('CONFIG', `${name} must be a whole number of seconds from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

