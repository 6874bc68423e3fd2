/**
 * The entry point of scripts/bench-metadata (issue 12): metadata speed of sshfs option
 * profiles, of the plugin's own options (rendered by src/) and of rclone, next to raw
 * sshfs with its defaults, on the host (no Docker), at several round-trip times. Every
 * sample is one workload in a fresh mount (cold caches); peers alternate within a round
 * and their order rotates from round to round. See usage() or --help.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../../test/support/run';
import { log } from './lib/proc';
import { ResultStore, type Results } from './lib/results';
import { MetadataWorld, PEER_IDS, PEERS, type PeerId } from './metadata-peers';
import { describePerRtt, renderMetadataReport } from './metadata-report';
import { DEFAULT_WORKLOADS, Fixture, WORKLOAD_IDS, WORKLOADS, prepareScratch, runWorkload, warmConnections, type WorkloadId } from './metadata-workloads';

const REPO = path.resolve(__dirname, '..', '..');

function usage(): string {
  return `Usage: scripts/bench-metadata [--quick] [--rtt LIST] [--only-peers LIST] [--workloads LIST]
                              [--files N|LIST] [--rounds N|LIST] [--out DIR] [--dir DIR]
  --quick            ${describeFiles(QUICK.files)}; 1 round; writes to
                     /tmp/dvs-bench-metadata-quick unless --out
  --rtt LIST         round-trip times in ms (default 0,10,50)
  --only-peers LIST  peers to run (default all): ${PEER_IDS.join(', ')}
  --workloads LIST   default ${DEFAULT_WORKLOADS.join(',')}; also: ${WORKLOAD_IDS.filter((w) => !DEFAULT_WORKLOADS.includes(w)).join(', ')}
  --files N|LIST     files in the tree and the tarball, a multiple of 100, for every RTT or
                     as RTT:N,... (default ${describeFiles(FULL.files)})
  --rounds N|LIST    rounds, for every RTT or as RTT:N,... (default ${describePerRtt(FULL.rounds, 'rounds')})
  --out DIR          where benchmarks-metadata.{md,json,svg} go (default docs/)
  --dir DIR          working directory: sshd, mounts, logs (default /run/dvs-bench-metadata)
npx tsx scripts/bench.d/metadata-report.ts [DIR] rebuilds the page from DIR/benchmarks-metadata.json.`;
}

/**
 * Files and rounds per round-trip time. Every cost here grows with the file count
 * (directories always hold 100), so ratios between peers do not depend on it; but a small
 * file costs 4 to 6 round trips to create and the matrix has 10 peers × 7 workloads, about
 * 10 s per file and round at 50 ms: 1,000 files there would take hours. On loopback it is
 * the other way: a walk of 1,000 files takes 30 to 60 ms, and samples that short spread by
 * ±50% on a 2-CPU machine (a process start, a wake-up on the wrong CPU), so 0 ms gets more
 * files and more rounds. --files and --rounds override.
 */
const FULL = { files: { 0: 5000, 10: 200, 50: 100 } as Record<number, number>, rounds: { 0: 5, 10: 3, 50: 3 } as Record<number, number> };
const QUICK = { files: { 0: 200, 10: 100, 50: 100 } as Record<number, number>, rounds: { 0: 1 } as Record<number, number> };

/** The table's count for an RTT it does not list: the count of the nearest RTT listed. */
function perRtt(table: Record<number, number>, rtt: number): number {
  const listed = Object.keys(table).map(Number);
  const nearest = listed.reduce((a, b) => (Math.abs(b - rtt) < Math.abs(a - rtt) ? b : a));
  return table[nearest]!;
}

const describeFiles = (table: Record<number, number>): string => describePerRtt(table, 'files');

/** N for every RTT, or RTT:N,... */
function parsePerRtt(text: string, what: string, positive: (text: string, what: string) => number): Record<number, number> {
  if (!text.includes(':')) return { 0: positive(text, what) };
  return Object.fromEntries(text.split(',').map((part) => [Number(part.split(':')[0]), positive(part.split(':')[1] ?? '', what)]));
}

interface Args {
  quick: boolean;
  rtts: number[];
  peers: PeerId[];
  workloads: WorkloadId[];
  /** Files per RTT. */
  files: Record<number, number>;
  /** Rounds per RTT. */
  rounds: Record<number, number>;
  out: string;
  dir: string;
}

function parseArgs(argv: string[]): Args {
  let quick = false;
  let rtts = [0, 10, 50];
  let peers = PEER_IDS;
  let workloads = DEFAULT_WORKLOADS;
  let files: Record<number, number> | undefined;
  let rounds: Record<number, number> | undefined;
  let out = '';
  let dir = '/run/dvs-bench-metadata';
  const list = <T extends string>(text: string, known: readonly T[], what: string): T[] => {
    const items = text.split(',').filter(Boolean);
    for (const item of items) if (!(known as readonly string[]).includes(item)) throw new Error(`unknown ${what} ${item}; known: ${known.join(', ')}`);
    return items as T[];
  };
  const positive = (text: string, what: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${what} must be a positive integer`);
    return n;
  };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') quick = true;
    else if (a === '--rtt') {
      rtts = value().split(',').map((r) => {
        const n = Number(r);
        if (!Number.isFinite(n) || n < 0) throw new Error(`bad RTT ${r}`);
        return n;
      });
    } else if (a === '--only-peers') peers = list(value(), PEER_IDS, 'peer');
    else if (a === '--workloads') workloads = list(value(), WORKLOAD_IDS, 'workload');
    else if (a === '--files') files = parsePerRtt(value(), '--files', positive);
    else if (a === '--rounds') rounds = parsePerRtt(value(), '--rounds', positive);
    else if (a === '--out') out = path.resolve(value());
    else if (a === '--dir') dir = path.resolve(value());
    else if (a === '-h' || a === '--help') {
      console.log(usage());
      process.exit(0);
    } else throw new Error(`unknown argument ${a}\n${usage()}`);
  }
  const sizes = quick ? QUICK : FULL;
  const filesPerRtt = Object.fromEntries(rtts.map((rtt) => [rtt, perRtt(files ?? sizes.files, rtt)]));
  const roundsPerRtt = Object.fromEntries(rtts.map((rtt) => [rtt, perRtt(rounds ?? sizes.rounds, rtt)]));
  if (Object.values(filesPerRtt).some((n) => n % 100 !== 0)) throw new Error('--files must be a multiple of 100');
  if (out === '') out = quick ? '/tmp/dvs-bench-metadata-quick' : path.join(REPO, 'docs');
  if (peers.length === 0 || workloads.length === 0 || rtts.length === 0) throw new Error('nothing to run');
  return { quick, rtts, peers, workloads, files: filesPerRtt, rounds: roundsPerRtt, out, dir };
}

async function machine(): Promise<Record<string, string>> {
  const first = async (cmd: string, args: string[]): Promise<string> => {
    const r = await run(cmd, args);
    return `${r.stdout}${r.stderr}`.trim().split('\n')[0] ?? '';
  };
  const sshfs = await run('sshfs', ['--version']); // prints fusermount3's version first
  const dirty = (await run('git', ['-C', REPO, 'diff', '--quiet', 'HEAD', '--', 'src'])).code === 0 ? '' : ' with uncommitted changes in src/';
  return {
    cpus: `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? '?'}`,
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    kernel: os.release(),
    node: process.version,
    sshfs: /SSHFS version (\S+)/.exec(`${sshfs.stdout}${sshfs.stderr}`)?.[1] ?? '?',
    fuse: /FUSE library version (\S+)/.exec(`${sshfs.stdout}${sshfs.stderr}`)?.[1] ?? '?',
    openssh: await first('ssh', ['-V']),
    rclone: await first('rclone', ['version']),
    commit: (await first('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'])) + dirty,
    load: os.loadavg().map((l) => l.toFixed(2)).join(' '),
  };
}

const rotate = <T>(items: readonly T[], by: number): T[] => items.map((_, i) => items[(i + by) % items.length]!);

/** Set by a signal handler: the clean-up in progress, which must finish before the process exits. */
let stopping: Promise<void> | undefined;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('scripts/bench-metadata needs root (sshd, mounts)');
  fs.mkdirSync(args.out, { recursive: true });
  const file = path.join(args.out, 'benchmarks-metadata.json');
  const results: Results = {
    mode: args.quick ? 'quick' : 'full',
    startedAt: new Date().toISOString(),
    machine: await machine(),
    params: { files: args.files, rounds: args.rounds, rtts: args.rtts, peers: args.peers, workloads: args.workloads, recipes: {} },
    figures: [],
    notes: [],
    errors: [],
  };
  const store = new ResultStore(results, file);
  log(`${results.mode} run: ${describeFiles(args.files)}; ${describePerRtt(args.rounds, 'rounds')}; RTT ${args.rtts.join('/')} ms, ${args.peers.length} peers × ${args.workloads.length} workloads; output in ${args.out}`);

  let world: MetadataWorld | undefined;
  let interrupted = false;
  const stop = async (): Promise<void> => {
    if (world !== undefined) {
      log('stopping: unmounting everything, stopping sshd and proxies');
      await world.stop();
    }
  };
  // `on`, not `once`: a Ctrl-C reaches this process twice (from the terminal and relayed
  // by tsx), and a second signal without a handler would end it before the clean-up.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (stopping !== undefined) return;
      interrupted = true;
      log(`${signal}: stopping`);
      stopping = stop().finally(() => {
        store.save();
        process.exit(130);
      });
    });
  }
  try {
    world = await MetadataWorld.start(args.dir, args.rtts);
    const fixtures = new Map<number, Fixture>();
    for (const rtt of args.rtts) {
      const fixture = new Fixture(world.sshd, args.files[rtt]!, path.join(args.dir, 'work'), rtt);
      log(`writing the tree for RTT ${rtt} ms on the server (${fixture.files} files) and the tarball`);
      await fixture.prepare();
      fixtures.set(rtt, fixture);
    }
    (results.params.recipes as Record<string, unknown>) = Object.fromEntries(args.peers.map((p) => [p, world!.recipe(p, 'REMOTE')]));
    store.save();
    const started = performance.now();
    for (const rtt of args.rtts) {
      const fixture = fixtures.get(rtt)!;
      const rounds = args.rounds[rtt]!;
      for (let round = 0; round < rounds; round += 1) {
        const order = rotate(args.peers, round);
        log(`RTT ${rtt} ms, round ${round + 1}/${rounds}: ${order.join(', ')}`);
        for (const workload of args.workloads) {
          const line: string[] = [];
          for (const peer of order) {
            if (interrupted) return;
            const seconds = await sample(world, fixture, store, peer, rtt, workload);
            line.push(`${PEERS[peer].short} ${seconds === undefined ? 'FAILED' : seconds.toFixed(2)}`);
          }
          log(`  ${WORKLOADS[workload].label}: ${line.join(', ')} (s)`);
          store.save();
        }
      }
    }
    results.notes.push(`Measuring took ${Math.round((performance.now() - started) / 60_000)} min.`);
  } finally {
    if (!interrupted) await stop();
  }
  results.finishedAt = new Date().toISOString();
  store.save();
  renderMetadataReport(results, args.out);
  log(`wrote ${path.join(args.out, 'benchmarks-metadata.md')}${results.errors.length > 0 ? ` (${results.errors.length} errors, listed there)` : ''}`);
}

/** One sample: a fresh mount, the workload timed, the mount gone. Failures are recorded, not thrown. */
async function sample(world: MetadataWorld, fixture: Fixture, store: ResultStore, peer: PeerId, rtt: number, workload: WorkloadId): Promise<number | undefined> {
  const needsScratch = workload === 'extract' || workload === 'creates' || workload === 'rm-rf';
  const scratch = needsScratch ? await fixture.scratch() : '';
  let mount;
  try {
    if (needsScratch) prepareScratch(workload, fixture, scratch);
    mount = await world.mount(peer, rtt, fixture.volume);
    await warmConnections(mount.mountpoint);
    const seconds = await runWorkload(workload, fixture, mount.mountpoint, scratch);
    store.add(`rtt-${rtt}`, workload, peer, 's', 'lower', seconds);
    return seconds;
  } catch (error) {
    const message = `rtt-${rtt} ${workload} ${peer}: ${(error as Error).message}`;
    store.error(message);
    log(`  FAILED ${message}`);
    return undefined;
  } finally {
    if (mount !== undefined) await world.unmount(mount);
    if (needsScratch) fixture.removeScratch(scratch);
  }
}

main().catch(async (error: unknown) => {
  if (stopping !== undefined) {
    await stopping; // exits 130 when done
    return;
  }
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
