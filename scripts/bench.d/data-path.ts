/**
 * Data path through containers: each step is one `docker run --rm -v TARGET:/d dvs-busybox`
 * that times its own work with a microsecond clock (busybox adjtimex), so container start
 * is not in the figure. Caches are dropped on the host between writing and reading. Peers
 * alternate within every round and the order rotates from round to round.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { IMAGE, PEERS, PREFIX, rethrowIfEngineGone, type Target, type World } from './env';
import { runOk } from '../../test/support/run';
import { cpuOf, cpuSecondsByCommand, readCpu } from './lib/cpu-by-command';
import { dropCaches, log } from './lib/proc';
import { rotate } from './lib/rotate';
import type { SuiteStore } from './lib/results';

export interface DataSizes {
  rounds: number;
  seqMiB: number;
  files: number;
}

export const TESTS = {
  seqWrite: 'sequential write (dd conv=fsync)',
  seqRead: 'sequential read (caches dropped)',
  extract: 'extract 4 KiB files from tar',
  readBack: 'read back the files',
  stat: 'stat each file',
  list: 'list the tree (ls -lR)',
} as const;

/** CPU seconds per GB moved, on each side of an SFTP peer's sequential steps (not rates: the page keeps them apart). */
export const CPU_TESTS = {
  writeClient: 'CPU per GB written, client',
  writeServer: 'CPU per GB written, server',
  readClient: 'CPU per GB read, client',
  readServer: 'CPU per GB read, server',
} as const;

/** Whose CPU is whose: a peer's client processes on this host and the SFTP server's (the same host here). */
export const CLIENT_COMMANDS = ['sshfs', 'ssh', 'rclone'] as const;
export const SERVER_COMMANDS = ['sshd', 'sftp-server'] as const;

const NOW = `now() { adjtimex | awk '/tv_sec/{s=$2}/tv_usec/{u=$2}END{printf "%d%06d\\n", s, u}'; }`;

interface Step {
  before?: string;
  timed: string;
  after?: string;
}

/**
 * Runs one step in a fresh container; returns the timed part's seconds, the "check" line and
 * the CPU seconds each command on this host used during the whole run (container start adds
 * none to the client's or the server's commands).
 */
async function step(world: World, target: Target, s: Step): Promise<{ seconds: number; check: string | undefined; cpu: Map<string, number> }> {
  const script = [NOW, 'set -e', s.before ?? ':', 't0=$(now)', s.timed, 't1=$(now)', 'echo "elapsed $((t1 - t0))"', s.after ?? ':'].join('\n');
  const before = readCpu();
  const result = await world.docker(
    ['run', '--rm', '--label', PREFIX, '--network', 'none', '-v', `${target.arg}:/d`, '-v', `${world.workDir}:/t:ro`, IMAGE, 'sh', '-c', script],
    { timeoutMs: 60 * 60_000 },
  );
  const elapsed = /^elapsed (\d+)$/m.exec(result.stdout);
  if (elapsed === null) throw new Error(`no timing in the output: ${result.stdout} ${result.stderr}`);
  const cpu = cpuSecondsByCommand(before, readCpu());
  return { seconds: Number(elapsed[1]) / 1e6, check: /^check (.*)$/m.exec(result.stdout)?.[1], cpu };
}

/** A tar of `files` random 4 KiB files in directories of 100, and the list of their paths. */
export async function makeTarball(workDir: string, files: number): Promise<void> {
  const tar = path.join(workDir, `small-${files}.tar`);
  const lists = path.join(workDir, `small-${files}.lists`);
  if (fs.existsSync(tar) && fs.existsSync(lists)) return;
  const src = path.join(workDir, `small-${files}`);
  fs.rmSync(src, { recursive: true, force: true });
  const names: string[] = [];
  for (let i = 0; i < files; i += 1) {
    const dir = path.join(src, `d${String(Math.floor(i / 100)).padStart(3, '0')}`);
    if (i % 100 === 0) fs.mkdirSync(dir, { recursive: true });
    const name = `f${String(i % 100).padStart(3, '0')}`;
    fs.writeFileSync(path.join(dir, name), crypto.randomBytes(4096));
    names.push(`${path.basename(dir)}/${name}`);
  }
  // The paths in parts of 500, passed as arguments with $(cat PART): busybox xargs was seen to
  // split a path in two where its 32 KiB argument buffer filled up.
  fs.rmSync(lists, { recursive: true, force: true });
  fs.mkdirSync(lists);
  for (let i = 0; i < names.length; i += 500) {
    fs.writeFileSync(path.join(lists, `part-${String(i / 500).padStart(3, '0')}`), `${names.slice(i, i + 500).join('\n')}\n`);
  }
  await runOk('tar', ['--owner=0', '--group=0', '-cf', `${tar}.tmp`, '-C', src, '.']);
  fs.renameSync(`${tar}.tmp`, tar);
  fs.rmSync(src, { recursive: true, force: true });
}

function clean(target: Target, dir: string): void {
  fs.rmSync(path.join(target.hostDir, dir), { recursive: true, force: true });
}

async function sequential(world: World, store: SuiteStore, target: Target, sizes: DataSizes, dir: string): Promise<void> {
  const section = `rtt-${target.rtt}`;
  const bytes = sizes.seqMiB * 1024 * 1024;
  try {
    const write = await step(world, target, {
      before: `mkdir -p /d/${dir}`,
      timed: `dd if=/dev/zero of=/d/${dir}/seq.bin bs=1M count=${sizes.seqMiB} conv=fsync 2>/dev/null`,
      after: `echo "check $(stat -c %s /d/${dir}/seq.bin)"`,
    });
    if (write.check !== String(bytes)) throw new Error(`wrote ${String(write.check)} bytes instead of ${bytes}`);
    store.add(section, TESTS.seqWrite, target.peer, 'MB/s', 'higher', bytes / 1e6 / write.seconds);
    addCpu(store, section, target, bytes, write.cpu, CPU_TESTS.writeClient, CPU_TESTS.writeServer);
    await dropCaches();
    const read = await step(world, target, {
      timed: `dd if=/d/${dir}/seq.bin of=/dev/null bs=1M 2>/tmp/dd.err`,
      after: `echo "check $(sed -n 's/^\\([0-9]*\\)+0 records in$/\\1/p' /tmp/dd.err)"`,
    });
    if (read.check !== String(sizes.seqMiB)) throw new Error(`read ${String(read.check)} MiB instead of ${sizes.seqMiB}`);
    store.add(section, TESTS.seqRead, target.peer, 'MB/s', 'higher', bytes / 1e6 / read.seconds);
    addCpu(store, section, target, bytes, read.cpu, CPU_TESTS.readClient, CPU_TESTS.readServer);
  } catch (error) {
    rethrowIfEngineGone(error);
    store.error(`${section} sequential ${target.peer}: ${(error as Error).message}`);
    log(`  FAILED sequential ${target.peer} at ${target.rtt} ms: ${(error as Error).message}`);
  } finally {
    clean(target, dir);
  }
}

function addCpu(store: SuiteStore, section: string, target: Target, bytes: number, cpu: Map<string, number>, client: string, server: string): void {
  if (target.peer === 'ours-local' || target.peer === 'local-driver') return;
  store.add(section, client, target.peer, 'CPU s/GB', 'lower', cpuOf(cpu, CLIENT_COMMANDS) / (bytes / 1e9));
  store.add(section, server, target.peer, 'CPU s/GB', 'lower', cpuOf(cpu, SERVER_COMMANDS) / (bytes / 1e9));
}

async function smallFiles(world: World, store: SuiteStore, target: Target, sizes: DataSizes, dir: string): Promise<void> {
  const section = `rtt-${target.rtt}`;
  const n = sizes.files;
  const perSecond = (seconds: number): number => n / seconds;
  try {
    const extract = await step(world, target, {
      before: `mkdir -p /d/${dir}`,
      timed: `tar -xof /t/small-${n}.tar -C /d/${dir}`,
      after: `echo "check $(find /d/${dir} -type f | wc -l)"`,
    });
    if (Number(extract.check) !== n) throw new Error(`extracted ${String(extract.check)} files instead of ${n}`);
    store.add(section, TESTS.extract, target.peer, 'files/s', 'higher', perSecond(extract.seconds));
    await dropCaches();
    const read = await step(world, target, { before: `cd /d/${dir}`, timed: 'find . -type f -exec cat {} + >/dev/null' });
    store.add(section, TESTS.readBack, target.peer, 'files/s', 'higher', perSecond(read.seconds));
    await dropCaches();
    const stat = await step(world, target, { before: `cd /d/${dir}`, timed: `for part in /t/small-${n}.lists/part-*; do stat -c %s $(cat "$part") >/dev/null; done` });
    store.add(section, TESTS.stat, target.peer, 'files/s', 'higher', perSecond(stat.seconds));
    await dropCaches();
    const list = await step(world, target, {
      timed: `ls -lR /d/${dir} >/dev/null`,
      after: `echo "check $(ls -lR /d/${dir} | grep -c '^-')"`,
    });
    if (Number(list.check) !== n) throw new Error(`listed ${String(list.check)} files instead of ${n}`);
    store.add(section, TESTS.list, target.peer, 'files/s', 'higher', perSecond(list.seconds));
  } catch (error) {
    rethrowIfEngineGone(error);
    store.error(`${section} small files ${target.peer}: ${(error as Error).message}`);
    log(`  FAILED small files ${target.peer} at ${target.rtt} ms: ${(error as Error).message}`);
  } finally {
    clean(target, dir);
  }
}

/** All data-path tests at one round-trip time, for the given targets. */
export async function dataPath(world: World, store: SuiteStore, targets: Target[], sizes: DataSizes): Promise<void> {
  const rtt = targets[0]?.rtt ?? 0;
  await makeTarball(world.workDir, sizes.files);
  for (let round = 0; round < sizes.rounds; round += 1) {
    const order = rotate(targets, round);
    log(`data path, RTT ${rtt} ms, round ${round + 1}/${sizes.rounds}: ${order.map((t) => t.peer).join(', ')}`);
    for (const target of order) await sequential(world, store, target, sizes, `seq-r${round}`);
    store.save();
    for (const target of order) await smallFiles(world, store, target, sizes, `small-r${round}`);
    store.save();
  }
  for (const target of targets) {
    const figure = store.find(`rtt-${rtt}`, TESTS.seqRead, target.peer);
    if (figure !== undefined) log(`  ${PEERS[target.peer].label}: read ${figure.samples.map((v) => v.toFixed(0)).join(' ')} MB/s`);
  }
}
