import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { PluginError } from '../../../errors';
import { unmount } from '../../../system/mount-commands';
import { isMountPoint, readMounts, topMountAt } from '../../../system/mountinfo';
import { findProcesses, isAlive, terminate } from '../../../system/processes';
import { minimalEnv, run } from '../../../system/run';
import { SSH_HOST_ALIAS } from './ssh-config';

export interface SshfsLaunch {
  mountpoint: string;
  remotePath: string;
  sshConfigFile: string;
  /** sshfs's stderr goes here, not to a pipe: a pipe would break when the daemon dies. */
  logFile: string;
  /** Handed over on stdin (password_stdin); never argv, never the environment. */
  password: string | undefined;
  options: readonly string[];
  /** Added to sshfs's minimal environment: the libraries it preloads (sshfs-runtime.ts). */
  env: Readonly<Record<string, string>>;
  timeoutMs: number;
}

const POLL_MS = 25;

/**
 * The FUSE mount at `mountpoint` answers: a stat goes through FUSE to the server, and its
 * device must be the mount's. sshfs mounts before it connects and unmounts when the
 * connection fails, so a stat that lands after that unmount sees the empty directory
 * below: a directory, but not the mount's device. (A stat process, not fs.stat: a hung
 * FUSE mount would hold one of node's few file-system threads for good.)
 */
async function answers(mountpoint: string, device: string, timeoutMs: number): Promise<boolean> {
  const result = await run('stat', ['-c', '%F %Hd:%Ld', '--', mountpoint], { timeoutMs: Math.max(timeoutMs, 1000) });
  return result.code === 0 && result.stdout.trim() === `directory ${device}`;
}

/**
 * One sshfs process serving one mountpoint. sshfs runs in the foreground (-f) as our
 * child, in its own process group, so the daemon reaps it and a Ctrl-C does not reach it;
 * if the daemon dies, sshfs keeps serving and the next daemon adopts it.
 */
export class SshfsProcess {
  private exitedAt: number | null = null;

  private constructor(
    readonly pid: number,
    readonly mountpoint: string,
    private readonly logFile: string | undefined,
  ) {}

  static async start(launch: SshfsLaunch): Promise<SshfsProcess> {
    const log = fs.openSync(launch.logFile, 'w', 0o600);
    const args = ['-f', '-F', launch.sshConfigFile, `${SSH_HOST_ALIAS}:${launch.remotePath}`, launch.mountpoint, '-o', launch.options.join(',')];
    const child = spawn('sshfs', args, { stdio: ['pipe', log, log], env: { ...minimalEnv(), ...launch.env }, detached: true });
    fs.closeSync(log);
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    const stdin = child.stdin;
    if (stdin !== null) {
      stdin.on('error', () => undefined);
      if (launch.password !== undefined) stdin.write(`${launch.password}\n`);
      stdin.end();
    }
    child.unref();
    if (child.pid === undefined) throw new PluginError('BACKEND_FAILED', `could not start sshfs: ${(await spawnError).message}`);

    const sshfs = new SshfsProcess(child.pid, launch.mountpoint, launch.logFile);
    child.once('exit', () => {
      sshfs.exitedAt = Date.now();
    });
    const deadline = Date.now() + launch.timeoutMs;
    for (;;) {
      if (sshfs.exitedAt !== null) {
        throw new PluginError('BACKEND_FAILED', `sshfs could not mount the volume: ${sshfs.lastError() ?? `it exited with status ${child.exitCode}`}`);
      }
      // Listed is not enough: sshfs mounts before it connects (and unmounts if that fails).
      const entry = topMountAt(await readMounts(), launch.mountpoint);
      if (entry !== undefined && (await answers(launch.mountpoint, entry.device, deadline - Date.now())) && sshfs.alive) return sshfs;
      if (Date.now() > deadline) {
        await sshfs.abort();
        throw new PluginError('REMOTE_UNREACHABLE', `sshfs did not mount the volume within ${Math.round(launch.timeoutMs / 1000)} s: ${sshfs.lastError() ?? 'no reason given'}`);
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  /** Takes over an sshfs left running by an earlier daemon process, if there is one. */
  static async adopt(mountpoint: string): Promise<SshfsProcess | undefined> {
    const pids = (await findProcesses('sshfs', mountpoint)).filter(isAlive);
    const [pid, ...extra] = pids;
    for (const other of extra) await terminate(other);
    return pid === undefined ? undefined : new SshfsProcess(pid, mountpoint, undefined);
  }

  get alive(): boolean {
    return this.exitedAt === null && isAlive(this.pid);
  }

  /** The last lines sshfs wrote, for errors and Status. */
  lastError(): string | undefined {
    if (this.logFile === undefined) return undefined;
    try {
      const text = fs.readFileSync(this.logFile, 'utf8').trim();
      return text === '' ? undefined : text.split('\n').slice(-3).join(' ').slice(0, 500);
    } catch {
      return undefined;
    }
  }

  /**
   * Ends an sshfs that never served: killed first, which fails its FUSE requests at once,
   * then unmounted. Not stop(): its unmount would wait on a server that does not answer.
   */
  async abort(): Promise<void> {
    await terminate(this.pid, 0);
    if (await isMountPoint(this.mountpoint)) await unmount(this.mountpoint);
  }

  /** Unmounts (lazily if busy) and makes sure the process is gone. */
  async stop(): Promise<void> {
    if (await isMountPoint(this.mountpoint)) await unmount(this.mountpoint);
    const deadline = Date.now() + 2000;
    while (this.alive && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    if (this.alive) await terminate(this.pid);
  }
}
