/**
 * The workloads of the metadata suite (scripts/bench --only metadata). Each runs as one
 * spawned command on the host inside a fresh mount and is timed from spawn to exit with
 * the monotonic clock (performance.now in test/support/run.ts); preparing and checking
 * happen outside the figure, directly on the server's file system, as another host would
 * see it.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { TestSshd } from '../../test/support/sshd';
import { run, runOk, type RunResult } from '../../test/support/run';

export type WorkloadId = 'ls-lR' | 'find-newer' | 'stat-walk' | 'stat-paths' | 'extract' | 'read-back' | 'creates' | 'rm-rf';

export interface Workload {
  id: WorkloadId;
  label: string;
  /** What exactly runs, for the report (MNT is the mountpoint). */
  command: string;
  /** A cold walk of the tree another host wrote (the "cold walks"). */
  walk: boolean;
}

export const WORKLOADS: Record<WorkloadId, Workload> = {
  'ls-lR': { id: 'ls-lR', label: 'ls -lR', command: 'ls -lR MNT/tree', walk: true },
  'find-newer': { id: 'find-newer', label: 'find -newer', command: 'find MNT/tree -type f -newer MNT/tree/ref', walk: true },
  'stat-walk': { id: 'stat-walk', label: 'stat walk', command: "find MNT/tree -type f -printf '%s %T@\\n'", walk: true },
  'stat-paths': {
    id: 'stat-paths',
    label: 'stat by path',
    command: "xargs -d '\\n' -a LIST stat -c '%s %Y' (every file by its path, no listing first: git's index refresh)",
    walk: true,
  },
  extract: { id: 'extract', label: 'tar extract', command: 'tar -x --no-same-owner -f small.tar -C MNT/scratch', walk: false },
  'read-back': { id: 'read-back', label: 'read back', command: 'find MNT/tree -type f -exec cat {} + | wc -c', walk: false },
  creates: { id: 'creates', label: 'small creates', command: 'cd MNT/scratch && i=0; while [ $i -lt N ]; do echo x > f$i; i=$((i+1)); done', walk: false },
  'rm-rf': { id: 'rm-rf', label: 'rm -rf', command: 'rm -rf MNT/scratch/tree (a copy of the tree, written on the server)', walk: false },
};

/** The default set: the workloads. stat-paths is extra (--workloads). */
export const DEFAULT_WORKLOADS: WorkloadId[] = ['ls-lR', 'find-newer', 'stat-walk', 'extract', 'read-back', 'creates', 'rm-rf'];
export const WORKLOAD_IDS = Object.keys(WORKLOADS) as WorkloadId[];

export const FILE_SIZE = 4096;
const PER_DIR = 100;

/**
 * What the workloads work on: the server's directory every peer mounts (`vol`), with the
 * tree another host wrote (`vol/tree`) and a tarball of the same shape on the host.
 */
export class Fixture {
  readonly volume: string;
  readonly tree: string;
  readonly tarball: string;
  private scratchCounter = 0;

  /** The server's directory below the sshd's root that every peer mounts. */
  readonly name: string;

  constructor(
    readonly sshd: TestSshd,
    readonly files: number,
    readonly workDir: string,
    rtt: number,
  ) {
    this.name = `vol-${rtt}ms`;
    this.volume = sshd.serverPath(this.name);
    this.tree = path.join(this.volume, 'tree');
    this.tarball = path.join(workDir, `small-${files}.tar`);
  }

  relativePaths(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.files; i += 1) out.push(`d${String(Math.floor(i / PER_DIR)).padStart(3, '0')}/f${String(i % PER_DIR).padStart(3, '0')}`);
    return out;
  }

  async prepare(): Promise<void> {
    await this.sshd.mkdirAsUser(this.name);
    this.writeTree(this.tree);
    // The tarball: the same shape, built from a local copy.
    fs.mkdirSync(this.workDir, { recursive: true });
    if (fs.existsSync(this.tarball)) return;
    const src = path.join(this.workDir, 'src');
    fs.rmSync(src, { recursive: true, force: true });
    for (const rel of this.relativePaths()) {
      fs.mkdirSync(path.dirname(path.join(src, rel)), { recursive: true });
      fs.writeFileSync(path.join(src, rel), crypto.randomBytes(FILE_SIZE));
    }
    await runOk('tar', ['--owner=0', '--group=0', '-cf', this.tarball, '-C', src, '.']);
    fs.rmSync(src, { recursive: true, force: true });
  }

  /**
   * Writes the tree as another host would: `files` files of 4 KiB in directories of 100,
   * owned by the server's user, file i with mtime base + i s (whole seconds, as SFTP v3
   * carries them), and `ref` with mtime base + files/2 - 1 s, so `find -newer ref`
   * selects exactly half of the files.
   */
  writeTree(root: string): void {
    const { uid, gid } = this.sshd;
    const base = Math.floor(Date.now() / 1000) - 2 * 86_400;
    fs.mkdirSync(root, { recursive: true });
    fs.chownSync(root, uid, gid);
    const paths = this.relativePaths();
    for (const [i, rel] of paths.entries()) {
      const file = path.join(root, rel);
      if (i % PER_DIR === 0) {
        fs.mkdirSync(path.dirname(file));
        fs.chownSync(path.dirname(file), uid, gid);
      }
      fs.writeFileSync(file, crypto.randomBytes(FILE_SIZE));
      fs.chownSync(file, uid, gid);
      fs.utimesSync(file, base + i, base + i);
    }
    const ref = path.join(root, 'ref');
    fs.writeFileSync(ref, '');
    fs.chownSync(ref, uid, gid);
    const refTime = base + Math.floor(this.files / 2) - 1;
    fs.utimesSync(ref, refTime, refTime);
    // Directories last: writing files into them moved their mtimes.
    for (const dir of new Set(paths.map((p) => path.dirname(p)))) fs.utimesSync(path.join(root, dir), base, base);
  }

  /** A fresh scratch directory on the server (owned by the user); its name below vol. */
  async scratch(): Promise<string> {
    this.scratchCounter += 1;
    const name = `scratch-${this.scratchCounter}`;
    await this.sshd.mkdirAsUser(path.join(this.name, name));
    return name;
  }

  removeScratch(name: string): void {
    fs.rmSync(path.join(this.volume, name), { recursive: true, force: true });
  }
}

/** Regular files below dir on the server and their total size. */
function countFiles(dir: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  const walk = (d: string): void => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile()) {
        files += 1;
        bytes += fs.statSync(p).size;
      }
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return { files, bytes };
}

const lines = (text: string): string[] => text.split('\n').filter((l) => l !== '');

/** Limit for one timed command: a hung mount fails the sample, not the run. */
const TIMEOUT_MS = 15 * 60_000;

/**
 * Prepares, runs (timed) and checks one workload in the mount at `mnt`. Returns seconds.
 * Throws when the command fails or its result is wrong (a peer that "wins" by not doing
 * the work is an error, not a figure).
 */
export async function runWorkload(id: WorkloadId, fixture: Fixture, mnt: string, scratch: string): Promise<number> {
  const n = fixture.files;
  const timed = async (cmd: string, args: string[], cwd?: string): Promise<RunResult> => {
    const result = await run(cmd, args, { timeoutMs: TIMEOUT_MS, cwd });
    if (result.code !== 0) throw new Error(`${cmd} exited ${String(result.code ?? result.signal)}: ${result.stderr.trim().split('\n').slice(-3).join(' | ').slice(0, 600)}`);
    return result;
  };
  const expect = (what: string, got: number, want: number): void => {
    if (got !== want) throw new Error(`${what}: ${got} instead of ${want}`);
  };
  const tree = path.join(mnt, 'tree');
  switch (id) {
    case 'ls-lR': {
      const r = await timed('ls', ['-lR', tree]);
      expect('files listed', lines(r.stdout).filter((l) => l.startsWith('-')).length, n + 1);
      return r.ms / 1000;
    }
    case 'find-newer': {
      const r = await timed('find', [tree, '-type', 'f', '-newer', path.join(tree, 'ref')]);
      expect('files newer than ref', lines(r.stdout).length, n / 2);
      return r.ms / 1000;
    }
    case 'stat-walk': {
      const r = await timed('find', [tree, '-type', 'f', '-printf', '%s %T@\n']);
      const out = lines(r.stdout);
      expect('files stat-ed', out.length, n + 1);
      expect('bytes seen', out.reduce((sum, l) => sum + Number(l.split(' ')[0]), 0), n * FILE_SIZE);
      return r.ms / 1000;
    }
    case 'stat-paths': {
      const list = path.join(fixture.workDir, `paths-${n}.list`);
      fs.writeFileSync(list, `${fixture.relativePaths().join('\n')}\n`);
      const r = await timed('xargs', ['-d', '\n', '-a', list, 'stat', '-c', '%s %Y'], tree);
      expect('files stat-ed', lines(r.stdout).length, n);
      return r.ms / 1000;
    }
    case 'extract': {
      const r = await timed('tar', ['-x', '--no-same-owner', '-f', fixture.tarball, '-C', path.join(mnt, scratch)]);
      const seen = countFiles(path.join(fixture.volume, scratch));
      expect('files on the server', seen.files, n);
      expect('bytes on the server', seen.bytes, n * FILE_SIZE);
      return r.ms / 1000;
    }
    case 'read-back': {
      const r = await timed('sh', ['-c', 'find "$1" -type f -exec cat {} + | wc -c', 'sh', tree]);
      expect('bytes read', Number(r.stdout.trim()), n * FILE_SIZE);
      return r.ms / 1000;
    }
    case 'creates': {
      const script = 'cd "$1" && i=0; while [ "$i" -lt "$2" ]; do echo x > "f$i"; i=$((i + 1)); done';
      const r = await timed('sh', ['-c', script, 'sh', path.join(mnt, scratch), String(n)]);
      const seen = countFiles(path.join(fixture.volume, scratch));
      expect('files on the server', seen.files, n);
      expect('bytes on the server', seen.bytes, n * 2);
      return r.ms / 1000;
    }
    case 'rm-rf': {
      const r = await timed('rm', ['-rf', path.join(mnt, scratch, 'tree')]);
      if (fs.existsSync(path.join(fixture.volume, scratch, 'tree'))) throw new Error('the tree is still on the server');
      return r.ms / 1000;
    }
  }
}

/** Server-side preparation a workload needs in its scratch directory (not timed). */
export function prepareScratch(id: WorkloadId, fixture: Fixture, scratch: string): void {
  if (id === 'rm-rf') fixture.writeTree(path.join(fixture.volume, scratch, 'tree'));
}
