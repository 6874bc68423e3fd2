/**
 * The entry point of scripts/bench (which runs it with tsx): every benchmark in one run,
 * then docs/benchmarks.md and the charts. See usage() or `scripts/bench --help`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { controlPath } from './control-path';
import { dataPath, type DataSizes } from './data-path';
import { memoryWithMounts, mountLatency, recordMemory, volumeCommands } from './docker-ops';
import { REPO, World, type Target } from './env';
import { run, runOk } from '../../test/support/run';
import { log } from './lib/proc';
import { ResultStore, type Results } from './lib/results';
import { renderReport } from './report';

const PHASES = ['control', 'data', 'rtt', 'mount', 'volumes', 'memory'] as const;
type Phase = (typeof PHASES)[number];

function usage(): string {
  return `Usage: scripts/bench [--quick] [--resume] [--only PHASE,...] [--reuse] [--keep] [--out DIR] [--dir DIR]
  --quick        small sizes and few repeats (about 5 minutes plus the plugin build), for development
  --only LIST    run only these phases: ${PHASES.join(', ')}
  --resume       continue a run that was stopped (its benchmarks.json in the output
                 directory): completed steps are kept, the others run again
  --reuse        reuse the engine and plugin a --keep run left (skips the plugin build)
  --keep         leave the engine and plugin running at the end (sshd, rclone, proxies
                 and mounts are always stopped)
  --out DIR      where benchmarks.md, benchmarks.json and the SVG charts go
                 (default docs/; with --quick /tmp/dvs-bench-quick)
  --dir DIR      working directory for engine, sshd, plugins (default /run/dvs-bench)
npx tsx scripts/bench.d/report.ts [DIR] rebuilds the page from DIR/benchmarks.json.`;
}

interface Args {
  quick: boolean;
  resume: boolean;
  only: Set<Phase>;
  reuse: boolean;
  keep: boolean;
  out: string;
  dir: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false, resume: false, only: new Set(PHASES), reuse: false, keep: false, out: '', dir: '/run/dvs-bench' };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') args.quick = true;
    else if (a === '--resume') args.resume = true;
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
  const sshfs = await run('sshfs', ['--version']); // prints fusermount3's version first
  const commit = (await first('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'])) + ((await run('git', ['-C', REPO, 'diff', '--quiet', 'HEAD', '--', 'src'])).code === 0 ? '' : ' with uncommitted changes in src/');
  return {
    cpus: `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? '?'}`,
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    kernel: os.release(),
    engine: world === undefined ? '?' : `dockerd ${await first('docker', ['version', '-f', '{{.Server.Version}}'])}`,
    node: process.version,
    sshfs: /SSHFS version (\S+)/.exec(`${sshfs.stdout}${sshfs.stderr}`)?.[1] ?? '?',
    openssh: await first('ssh', ['-V']),
    rclone: await first('rclone', ['version']),
    commit,
  };
}

/** The steps of a run, in order; a --resume run skips those a stopped run completed. */
type Step = 'control' | 'memory-idle' | 'data-0' | 'data-10' | 'data-50' | 'mount' | 'volumes' | 'memory-mounts';

/** Which step produced a figure (for dropping what a stopped step left half-done). */
function stepOf(section: string, test: string): Step {
  if (section.startsWith('control')) return 'control';
  if (section.startsWith('data-')) return section as Step;
  if (section === 'mount' || section === 'mount-reference' || section === 'plugin-calls-mount') return 'mount';
  if (section === 'volume-cli' || section === 'volume-api' || section === 'plugin-calls-volumes') return 'volumes';
  if (test === 'idle') return 'memory-idle';
  return / volumes$/.test(test) ? 'volumes' : 'memory-mounts';
}

const ERROR_PREFIX: Record<Step, string[]> = {
  control: ['control'],
  'memory-idle': ['memory idle'],
  'data-0': ['data-0 '],
  'data-10': ['data-10 '],
  'data-50': ['data-50 '],
  mount: ['mount latency'],
  volumes: ['volume commands', 'memory '],
  'memory-mounts': ['memory with mounts', 'rclone serve docker stopped'],
};

function loadForResume(file: string, mode: Results['mode']): Results | undefined {
  if (!fs.existsSync(file)) return undefined;
  const old = JSON.parse(fs.readFileSync(file, 'utf8')) as Results;
  if (old.mode !== mode || old.finishedAt !== undefined) return undefined;
  const done = new Set((old.params.completed as Step[] | undefined) ?? []);
  old.figures = old.figures.filter((f) => done.has(stepOf(f.section, f.test)));
  old.errors = old.errors.filter((e) => !Object.entries(ERROR_PREFIX).some(([step, prefixes]) => !done.has(step as Step) && prefixes.some((p) => e.startsWith(p))));
  old.notes.push(`This run was resumed at ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC after it had been stopped; steps done before: ${[...done].join(', ') || 'none'}.`);
  return old;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('scripts/bench needs root (engine, mounts, drop_caches)');
  const params = parameters(args.quick);
  const rtts = args.only.has('rtt') ? [0, 10, 50] : [0];
  fs.mkdirSync(args.out, { recursive: true });
  const file = path.join(args.out, 'benchmarks.json');
  const mode = args.quick ? 'quick' : 'full';
  const resumed = args.resume ? loadForResume(file, mode) : undefined;
  if (args.resume && resumed === undefined) log(`nothing to resume in ${file}: starting afresh`);
  const results: Results = resumed ?? {
    mode,
    startedAt: new Date().toISOString(),
    machine: {},
    params: { ...params, phases: [...args.only], data: Object.fromEntries(rtts.map((r) => [String(r), params.data[r]])), completed: [] },
    figures: [],
    notes: [],
    errors: [],
  };
  const completed = results.params.completed as Step[];
  const store = new ResultStore(results, file);
  const todo = (step: Step): boolean => !completed.includes(step);
  let interrupted = false;
  const done = (step: Step): void => {
    if (interrupted) return; // a step cut short by a signal runs again on --resume
    completed.push(step);
    store.save();
  };
  log(`${results.mode} run; phases ${[...args.only].join(', ')}${completed.length > 0 ? `; resuming after ${completed.join(', ')}` : ''}; output in ${args.out}`);
  await runOk('npm', ['run', '--silent', 'build'], { cwd: REPO });

  if (args.only.has('control') && todo('control')) {
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
    done('control');
  }

  const needsWorld = [...args.only].some((p) => p !== 'control');
  let world: World | undefined;
  const stop = async (): Promise<void> => {
    if (world !== undefined) await world.stop({ keepEngine: args.keep });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      interrupted = true;
      log(`${signal}: stopping (scripts/bench --resume continues where this run stopped)`);
      stopping = stop().finally(() => process.exit(130));
    });
  }
  try {
    if (needsWorld) {
      world = await World.start({ dir: args.dir, rtts, reuse: args.reuse });
      if (Object.keys(results.machine).length === 0) results.machine = await machine(world);
      store.save();
      if (args.only.has('memory') && todo('memory-idle')) {
        await recordMemory(world, store, 'idle');
        done('memory-idle');
      }
      for (const rtt of rtts) {
        const step = `data-${rtt}` as Step;
        if (!(rtt === 0 ? args.only.has('data') : args.only.has('rtt')) || !todo(step)) continue;
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
        done(step);
      }
      if (args.only.has('mount') && todo('mount')) {
        await mountLatency(world, store, ['local-driver', 'ours-local', 'ours-sftp', 'rclone'], params.mountFirst, params.mountRepeats);
        done('mount');
      }
      if (args.only.has('volumes') && todo('volumes')) {
        await volumeCommands(world, store, ['local-driver', 'ours-local', 'rclone', 'ours-sftp'], params.cliVolumes, params.cliRepeats, params.cliSftpVolumes);
        done('volumes');
      }
      if (args.only.has('memory') && todo('memory-mounts')) {
        await memoryWithMounts(world, store, params.mountedForMemory);
        done('memory-mounts');
      }
    } else if (Object.keys(results.machine).length === 0) {
      results.machine = await machine(undefined);
    }
  } finally {
    if (!interrupted) await stop();
  }
  results.finishedAt = new Date().toISOString();
  store.save();
  renderReport(results, args.out);
  log(`wrote ${path.join(args.out, 'benchmarks.md')}${results.errors.length > 0 ? ` (${results.errors.length} errors, listed there)` : ''}`);
}

/** Set by a signal handler: the clean-up in progress, which must finish before the process exits. */
let stopping: Promise<void> | undefined;

main().catch(async (error: unknown) => {
  if (stopping !== undefined) {
    await stopping; // exits 130 when done
    return;
  }
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
