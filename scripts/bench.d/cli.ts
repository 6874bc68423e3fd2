/** The command line of scripts/bench: one parser, one usage text. */
import path from 'node:path';
import { SIZE_MODES, type SizeMode } from './lib/results';
import { REPO } from './lib/repo';
import { SUITE_IDS, type SuiteId } from './suite';
import { SUITES } from './suites';

export const DEFAULT_BASELINE = '36ff76b';

export interface Args {
  only: SuiteId[];
  /** Only these steps of the selected suites (undefined: all). */
  steps: string[] | undefined;
  sizes: SizeMode;
  baseline: string;
  out: string;
  dir: string;
  resume: boolean;
  reuse: boolean;
  keep: boolean;
  /** Rebuild the page from the results file; measure nothing. */
  reportOnly: boolean;
  /** Profile one kind of VolumeDriver call instead: KIND, volumes, calls. */
  profile: { kind: string; volumes: number; calls: number } | undefined;
}

export function usage(): string {
  const width = Math.max(...SUITE_IDS.map((id) => id.length));
  const suites = SUITE_IDS.map((id) => {
    const { summary, minutes } = SUITES[id];
    return `  ${id.padEnd(width)}  ${`~${minutes.reduced}/${minutes.full}/${minutes.quick} min`.padEnd(15)}${summary}`;
  });
  return `Usage: scripts/bench [--only SUITE,...] [--step STEP,...] [--quick | --sizes full|reduced|quick] [--baseline REF]
                    [--out DIR] [--dir DIR] [--resume] [--reuse] [--keep]
       scripts/bench --report-only [--out DIR]
       scripts/bench --profile KIND[:VOLUMES[:CALLS]]

Runs benchmark suites side by side with their peers and writes one page, DIR/benchmarks.md
(a section per suite: ## data, ## metadata, ...), its results DIR/benchmarks.json and charts.
A run of some suites replaces their sections and keeps the others. Needs root; everything
it starts (engine, sshd, proxies, daemons, mounts) is stopped and unmounted at the end, on
failure and on Ctrl-C.

Suites (all by default; minutes on a 2-core machine at reduced/full/quick sizes, plus ~3
for the builds and the engine; a whole reduced run: about 30 minutes):
${suites.join('\n')}

Options:
  --only LIST      suites to run, comma-separated
  --step LIST      only these steps of them, as the log names them (e.g. --only catalogue
                   --step pickup); the suite's page section then shows only their figures
  --sizes MODE     full (the published sizes), reduced (every suite in ~40 min; the page
                   says so), quick (small sizes, for development; figures mean nothing)
  --quick          --sizes quick; writes to /tmp/dvs-bench-quick unless --out
  --baseline REF   the commit control, sharing and image compare this checkout with (default
                   ${DEFAULT_BASELINE}); built once from git archive under the work directory
  --out DIR        where benchmarks.md, benchmarks.json and the charts go (default docs/)
  --dir DIR        work directory: engine, sshd, daemons, mounts (default /run/dvs-bench)
  --resume         continue a stopped run: steps it completed are kept, the others run
  --reuse          reuse the engine and plugin a --keep run left (skips the plugin build)
  --keep           leave the engine, the plugin and the baseline build in the work
                   directory (sshd, rclone, proxies, daemons and mounts always stop)
  --report-only    rebuild the page and charts from DIR/benchmarks.json
  --profile KIND[:VOLUMES[:CALLS]]
                   CPU profile of the daemon for one kind of call (list, get, path,
                   capabilities, create, mount, remove; default 10000 volumes, 500 calls);
                   prints the functions with the most self time, writes nothing`;
}

function list<T extends string>(text: string, known: readonly T[], what: string): T[] {
  const items = text.split(',').filter(Boolean);
  for (const item of items) if (!(known as readonly string[]).includes(item)) throw new Error(`unknown ${what} ${item}; known: ${known.join(', ')}`);
  if (items.length === 0) throw new Error(`no ${what} given`);
  return items as T[];
}

function profileOf(text: string): Args['profile'] {
  const [kind = '', volumes = '10000', calls = '500'] = text.split(':');
  const n = (v: string): number => {
    const x = Number(v);
    if (!Number.isInteger(x) || x < 1) throw new Error(`--profile: ${v} is not a positive integer`);
    return x;
  };
  return { kind, volumes: n(volumes), calls: n(calls) };
}

/** The arguments, or undefined after printing the usage for --help. */
export function parseArgs(argv: readonly string[]): Args | undefined {
  const args: Args = { only: [...SUITE_IDS], steps: undefined, sizes: 'full', baseline: DEFAULT_BASELINE, out: '', dir: '/run/dvs-bench', resume: false, reuse: false, keep: false, reportOnly: false, profile: undefined };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '-h' || a === '--help') {
      console.log(usage());
      return undefined;
    } else if (a === '--only') args.only = list(value(), SUITE_IDS, 'suite');
    else if (a === '--step') args.steps = value().split(',').filter(Boolean);
    else if (a === '--sizes') args.sizes = list(value(), SIZE_MODES, 'size mode')[0]!;
    else if (a === '--quick') args.sizes = 'quick';
    else if (a === '--baseline') args.baseline = value();
    else if (a === '--out') args.out = path.resolve(value());
    else if (a === '--dir') args.dir = path.resolve(value());
    else if (a === '--resume') args.resume = true;
    else if (a === '--reuse') args.reuse = true;
    else if (a === '--keep') args.keep = true;
    else if (a === '--report-only') args.reportOnly = true;
    else if (a === '--profile') args.profile = profileOf(value());
    else throw new Error(`unknown argument ${a}\n\n${usage()}`);
  }
  // A quick run never overwrites the published figures unless asked to.
  if (args.out === '') args.out = args.sizes === 'quick' ? '/tmp/dvs-bench-quick' : path.join(REPO, 'docs');
  args.only = SUITE_IDS.filter((id) => args.only.includes(id));
  return args;
}
