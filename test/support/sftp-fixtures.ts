import fs from 'node:fs';
import path from 'node:path';
import { parseMountinfo, topMountAt } from '../../src/system/mountinfo';
import { DaemonProcess, makeDirs, type DaemonDirs } from './daemon-process';
import type { TestSshd } from './sshd';

export const KEY_NAME = 'id_test';
export const PASSWORD_FILE = 'sftp-password';

/** The name of the client key of a suite's server `index` in a daemon's keys directory (the first: KEY_NAME). */
export const keyNameOf = (index: number): string => (index === 0 ? KEY_NAME : `${KEY_NAME}_${index}`);

/** Puts the test server's client key and password in a daemon's keys directory, mode 0600. */
export async function installCredentials(sshd: TestSshd, dirs: DaemonDirs): Promise<string> {
  const keysDir = path.join(dirs.dataDir, 'keys');
  await sshd.writeClientKeyInto(keysDir, KEY_NAME);
  fs.writeFileSync(path.join(keysDir, PASSWORD_FILE), `${sshd.password}\n`, { mode: 0o600 });
  return keysDir;
}

/** Options for an SFTP volume on the test server, key auth, host key pinned. */
export function sftpOptions(sshd: TestSshd, remoteDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    host: sshd.host,
    port: String(sshd.port),
    user: sshd.user,
    identity: KEY_NAME,
    hostkey: sshd.hostKeyFingerprint,
    path: sshd.serverPath(remoteDir),
    ...extra,
  };
}

export { eventually } from './eventually';

/** PIDs of every process whose argv names `program`. */
export function processesOf(program: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return path.basename(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '') === program;
      } catch {
        return false;
      }
    })
    .map(Number);
}

const argvOf = (pid: number): string[] => {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
};

/**
 * The sshfs processes serving the volume mounted at `mountpoint`: a volume is a bind of a
 * directory in its server's shared sshfs mount, found by the FUSE device they have in common.
 */
export function sshfsServing(mountpoint: string): number[] {
  const mounts = parseMountinfo(fs.readFileSync('/proc/self/mountinfo', 'utf8'));
  const volume = topMountAt(mounts, mountpoint);
  if (volume?.fsType !== 'fuse.sshfs') return [];
  const shares = mounts.filter((entry) => entry.device === volume.device && entry.root === '/').map((entry) => entry.mountPoint);
  return processesOf('sshfs').filter((pid) => argvOf(pid).some((arg) => shares.includes(arg)));
}

/** The sshfs processes whose mountpoint lies under `dir` (a daemon's data directory, say). */
export function sshfsUnder(dir: string): number[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return processesOf('sshfs').filter((pid) => argvOf(pid).some((arg) => arg.startsWith(prefix)));
}

/** The environment that makes a daemon host `name` of the default store at `storeDir` on the test server. */
export function storeHostEnv(sshd: TestSshd, name: string, storeDir: string): Record<string, string> {
  return {
    HOST_NAME: name,
    SFTP_HOST: sshd.host,
    SFTP_PORT: String(sshd.port),
    SFTP_USER: sshd.user,
    SFTP_IDENTITY: KEY_NAME,
    SFTP_HOSTKEY: sshd.hostKeyFingerprint,
    SFTP_BASE_PATH: sshd.serverPath(storeDir),
  };
}

/** A daemon as one host of the default store at `storeDir` on the test server. */
export async function startStoreHost(sshd: TestSshd, name: string, storeDir = 'store', env: Record<string, string> = {}): Promise<DaemonProcess> {
  const dirs = makeDirs(`dvs-cat-${name}`);
  await installCredentials(sshd, dirs);
  return DaemonProcess.start(dirs, { ...storeHostEnv(sshd, name, storeDir), ...env });
}

/** One SFTP volume on the test server, created and mounted once on each of two daemons ("hosts"). */
export async function mountOnBoth(sshd: TestSshd, [a, b]: [DaemonProcess, DaemonProcess], volume: string): Promise<{ onA: string; onB: string }> {
  const options = sftpOptions(sshd, volume);
  await a.client.create(volume, options);
  await b.client.create(volume, options);
  return { onA: await a.client.mount(volume, 'a'), onB: await b.client.mount(volume, 'b') };
}
