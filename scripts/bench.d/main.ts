/**
 * scripts/bench: every benchmark in one run, then docs/benchmarks.md and the charts.
 * See usage() or `scripts/bench --help`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { controlPath } from './control-path';
import { dataPath, type DataSizes } from './data-path';
import { memoryWithMounts, mountLatency, recordMemory, volumeCommands } from './docker-ops';
import { REPO, World, type Target } from './env';
import { log, run, runOk } from './lib/proc';
import { ResultStore, type Results } from './lib/results';
import { renderReport } from './report';

const PHASES = ['control', 'data', 'rtt', 'mount', 'volumes', 'memory'] as const;
type Phase = (typeof PHASES)[number];

function usage(): string {
  return `Usage: scripts/bench [--quick] [--only PHASE,...] [--reuse] [--keep] [--out DIR] [--dir DIR]
  --quick        small sizes and few repeats (about 5 minutes plus the plugin build), for development
  --only LIST    run only these phases: ${PHASES.join(', ')}
  --reuse        reuse the engine and plugin a --keep run left (skips the plugin build)
  --keep         leave the engine and plugin running at the end (sshd, rclone, proxies
                 and mounts are always stopped)
  --out DIR      where benchmarks.md, benchmarks.json and the SVG charts go
                 (default docs/; with --quick /tmp/dvs-bench-quick)
  --dir DIR      working directory for engine, sshd, plugins (default /run/dvs-bench)
scripts/bench/report.ts [DIR] rebuilds the page from DIR/benchmarks.json.`;
}

interface Args {
  quick: boolean;
  only: Set<Phase>;
  reuse: boolean;
  keep: boolean;
  out: string;
  dir: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false, only: new Set(PHASES), reuse: false, keep: false, out: '', dir: '/run/dvs-bench' };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') args.quick = true;
    else if (a === '--reuse') args.reuse = true;
    else if (a === '--keep') args.keep = true;
    else if (a === '--out') args.out = path.resolve(value());
    else if (a === '--dir') args.dir = path.resolve(value());
    else if (a === '--only') {
      const list = value().split(',');
      for (const p of list) if (!(PHASES as readonly string[]).includes(p)) throw new Error(`unknown phase ${p}`);
      args.only = new Set(list as Phase[]);
    } else if (a === '-h' || a === '--help') {
      console.log(usage());
      process.exit(0);
    } else throw new Error(`unknown argument ${a}\n${usage()}`);
  }
  // A quick run never overwrites the published figures unless asked to.
  if (args.out === '') args.out = args.quick ? '/tmp/dvs-bench-quick' : path.join(REPO, 'docs');
  return args;
}

/** Sizes per mode. Higher round-trip times get smaller sizes: 5,000 small files at 50 ms would take half an hour per peer. */
function parameters(quick: boolean) {
  return quick
    ? {
        data: { 0: { rounds: 2, seqMiB: 64, files: 200 }, 10: { rounds: 1, seqMiB: 8, files: 20 }, 50: { rounds: 1, seqMiB: 4, files: 5 } } as Record<number, DataSizes>,
        controlCounts: [10, 1000],
        controlSamples: 100,
        controlRepetitions: 1,
        cliVolumes: 50,
        cliSftpVolumes: 5,
        cliRepeats: 3,
        mountFirst: 2,
        mountRepeats: 3,
        mountedForMemory: 5,
      }
    : {
        data: { 0: { rounds: 5, seqMiB: 1024, files: 5000 }, 10: { rounds: 3, seqMiB: 256, files: 200 }, 50: { rounds: 3, seqMiB: 32, files: 50 } } as Record<number, DataSizes>,
        controlCounts: [10, 1000, 10000],
        controlSamples: 500,
        controlRepetitions: 3,
        cliVolumes: 1000,
        cliSftpVolumes: 100,
        cliRepeats: 20,
        mountFirst: 10,
        mountRepeats: 20,
        mountedForMemory: 20,
      };
}

async function machine(world: World | undefined): Promise<Record<string, string>> {
  const first = async (cmd: string, args: string[]): Promise<string> => {
    const r = await run(cmd, args, { env: world?.env ?? process.env });
    return `${r.stdout}${r.stderr}`.trim().split('\n')[0] ?? '';
  };
  const commit = (await first('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'])) + ((await run('git', ['-C', REPO, 'diff', '--quiet', 'HEAD', '--', 'src'])).code === 0 ? '' : ' with uncommitted changes in src/');
  return {
    cpus: `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? '?'}`,
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    kernel: os.release(),
    engine: world === undefined ? '?' : `dockerd ${await first('docker', ['version', '-f', '{{.Server.Version}}'])}`,
    node: process.version,
    sshfs: /SSHFS version (\S+)/.exec((await run('sshfs', ['--version'])).stdout + (await run('sshfs', ['--version'])).stderr)?.[1] ?? '?',
    openssh: await first('ssh', ['-V']),
    rclone: await first('rclone', ['version']),
    commit,
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('scripts/bench needs root (engine, mounts, drop_caches)');
  const params = parameters(args.quick);
  const rtts = args.only.has('rtt') ? [0, 10, 50] : [0];
  fs.mkdirSync(args.out, { recursive: true });
  const results: Results = {
    mode: args.quick ? 'quick' : 'full',
    startedAt: new Date().toISOString(),
    machine: {},
    params: { ...params, phases: [...args.only] },
    figures: [],
    notes: [],
    errors: [],
  };
  const store = new ResultStore(results, path.join(args.out, 'benchmarks.json'));
  log(`${results.mode} run; phases ${[...args.only].join(', ')}; output in ${args.out}`);
  await runOk('npm', ['run', '--silent', 'build'], { cwd: REPO });

  if (args.only.has('control')) {
    // Outside Docker and before anything else runs, so the engine is idle meanwhile.
    const control = await controlPath(params.controlCounts, params.controlSamples, params.controlRepetitions, log);
    for (const row of control.rows) {
      store.add('control-p50', row.call, String(row.volumes), 'ms', 'lower', row.p50, `p50 of ${row.samples} calls, one sample per repetition`);
      store.add('control-p99', row.call, String(row.volumes), 'ms', 'lower', row.p99, `p99 of ${row.samples} calls, one sample per repetition`);
    }
    for (const [count, values] of Object.entries(control.rss)) for (const v of values) store.add('control-rss', 'RSS', count, 'MB', 'lower', v);
    for (const [count, values] of Object.entries(control.fillSeconds)) for (const v of values) store.add('control-fill', 'fill', count, 's', 'lower', v);
    for (const f of control.floor) {
      store.add('control-floor-p50', f.call, String(f.volumes), 'ms', 'lower', f.p50, 'bare node HTTP server on a Unix socket');
      store.add('control-floor-p99', f.call, String(f.volumes), 'ms', 'lower', f.p99, 'bare node HTTP server on a Unix socket');
    }
    store.save();
  }

  const needsWorld = [...args.only].some((p) => p !== 'control');
  let world: World | undefined;
  const stop = async (): Promise<void> => {
    if (world !== undefined) await world.stop({ keepEngine: args.keep });
  };
  let interrupted = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      interrupted = true;
      log(`${signal}: stopping`);
      void stop().finally(() => process.exit(130));
    });
  }
  try {
    if (needsWorld) {
      world = await World.start({ dir: args.dir, rtts, reuse: args.reuse });
      results.machine = await machine(world);
      store.save();
      if (args.only.has('memory')) await recordMemory(world, store, 'idle');

      if (args.only.has('data') || args.only.has('rtt')) {
        for (const rtt of rtts) {
          if (rtt === 0 && !args.only.has('data')) continue;
          const targets: Target[] = [];
          targets.push(await world.volumeTarget('ours-sftp', rtt));
          targets.push(await world.volumeTarget('rclone', rtt));
          targets.push(await world.sshfsTarget('sshfs-defaults', rtt));
          targets.push(await world.sshfsTarget('sshfs-best', rtt));
          targets.push(await world.sshfsTarget('sshfs-best-ra', rtt));
          if (rtt === 0) {
            targets.push(await world.volumeTarget('ours-local', 0));
            targets.push(await world.volumeTarget('local-driver', 0));
          }
          await dataPath(world, store, targets, params.data[rtt]!);
        }
      }
      if (args.only.has('mount')) await mountLatency(world, store, ['local-driver', 'ours-local', 'ours-sftp', 'rclone'], params.mountFirst, params.mountRepeats);
      if (args.only.has('volumes')) await volumeCommands(world, store, ['local-driver', 'ours-local', 'rclone', 'ours-sftp'], params.cliVolumes, params.cliRepeats, params.cliSftpVolumes);
      if (args.only.has('memory')) await memoryWithMounts(world, store, params.mountedForMemory);
    } else {
      results.machine = await machine(undefined);
    }
  } finally {
    if (!interrupted) await stop();
  }
  results.finishedAt = new Date().toISOString();
  results.params.data = Object.fromEntries(rtts.map((r) => [String(r), params.data[r]]));
  store.save();
  renderReport(results, args.out);
  log(`wrote ${path.join(args.out, 'benchmarks.md')}${results.errors.length > 0 ? ` (${results.errors.length} errors, listed there)` : ''}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
