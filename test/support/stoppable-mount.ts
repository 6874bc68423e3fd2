import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eventually } from './eventually';
import { isSshfsMounted } from './sshd';

const SFTP_SERVER = '/usr/lib/openssh/sftp-server';

/**
 * A FUSE file system mounted over a directory that can be stopped, as a hung server would
 * stop: sshfs speaking SFTP over pipes to a local sftp-server (no network). While sshfs is
 * stopped, every access to the directory waits in the kernel: the kernel asks sshfs for
 * the attributes on each access (default_permissions, attr_timeout=0).
 */
export class StoppableMount {
  private constructor(
    readonly dir: string,
    private readonly source: string,
    private readonly server: ChildProcess,
    private readonly sshfs: ChildProcess,
  ) {}

  static async over(dir: string): Promise<StoppableMount> {
    const source = fs.mkdtempSync(path.join(os.tmpdir(), 'dvs-stoppable-'));
    const server = spawn(SFTP_SERVER, [], { stdio: ['pipe', 'pipe', 'ignore'] });
    // pdeathsig: a stopped sshfs left behind would hang whatever touches the directory.
    const sshfs = spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'sshfs', '-f', '-o', 'passive,default_permissions,attr_timeout=0', `:${source}`, dir], {
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    server.stdout.pipe(sshfs.stdin);
    sshfs.stdout.pipe(server.stdin);
    // Each side goes at close while the other may still write to it.
    for (const input of [server.stdin, sshfs.stdin]) input.on('error', () => undefined);
    const mount = new StoppableMount(dir, source, server, sshfs);
    try {
      await eventually(`sshfs mounted at ${dir}`, () => {
        if (!isSshfsMounted(dir)) throw new Error('not in the mount table');
      });
    } catch (error) {
      mount.close();
      throw error;
    }
    return mount;
  }

  stop(): void {
    this.sshfs.kill('SIGSTOP');
  }

  resume(): void {
    this.sshfs.kill('SIGCONT');
  }

  /** Resumes, unmounts and ends both processes. Synchronous, for finally blocks and hooks. */
  close(): void {
    this.resume();
    spawnSync('fusermount3', ['-u', '-z', this.dir], { stdio: 'ignore' });
    this.sshfs.kill('SIGKILL');
    this.server.kill('SIGKILL');
    fs.rmSync(this.source, { recursive: true, force: true });
  }
}

/**
 * Kernel functions a thread sleeps in while a FUSE file system does not answer: waiting for
 * the reply, or (seen with Node 24, when the stopped server left requests outstanding) for
 * the connection to take a new request at all.
 */
const FUSE_WAITS = new Set(['request_wait_answer', 'fuse_get_req']);

/** How many threads of process `pid` wait for a FUSE file system to answer. */
export function threadsWaitingOnFuse(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/task`).filter((task) => {
    try {
      return FUSE_WAITS.has(fs.readFileSync(`/proc/${pid}/task/${task}/wchan`, 'utf8'));
    } catch {
      return false;
    }
  }).length;
}
