/**
 * One run of scripts/bench: the selected suites' steps in one order (on the host first,
 * then in the engine, started once for all of them), their figures merged into the results
 * file after every step, then the page. Everything it starts is held by one Cleanup.
 */
import fs from 'node:fs';
import path from 'node:path';
import { runOk } from '../../test/support/run';
import { baselineBuild, baselineCommit, currentBuild, describeCheckout, type Build } from './baseline';
import { Cleanup, type Held } from './cleanup';
import type { Args } from './cli';
import { EngineGone, World } from './env';
import { log } from './lib/proc';
import { REPO } from './lib/repo';
import { loadResults, saveResults, SuiteStore, type ResultsFile, type SuiteRun } from './lib/results';
import { machine } from './machine';
import { writePage } from './report/page';
import { SIZES } from './sizes';
import type { Step, StepContext, SuiteId } from './suite';
import { SUITES } from './suites';

interface Planned {
  suite: SuiteId;
  step: Step;
}

/** The suite's run to continue (--resume: same sizes; figures of its completed steps kept), or a new one. */
function startRun(id: SuiteId, args: Args, old: SuiteRun | undefined, commit: string, machineFacts: Record<string, string>): SuiteRun {
  if (args.resume && old !== undefined && old.mode === args.sizes) {
    const done = new Set(old.completed);
    log(`${id}: resuming; steps done before: ${[...done].join(', ') || 'none'}`);
    delete old.finishedAt;
    return {
      ...old,
      figures: old.figures.filter((f) => done.has(f.step)),
      errors: old.errors.filter((e) => [...done].some((step) => e.startsWith(`${step}:`))),
      notes: [...old.notes, `Resumed at ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC at commit ${commit} after it had been stopped.`],
    };
  }
  return { mode: args.sizes, startedAt: new Date().toISOString(), commit, machine: machineFacts, params: SUITES[id].params(SIZES[args.sizes]), completed: [], figures: [], notes: [], errors: [] };
}

/** Measures; returns the exit status (0; 1 when a step failed; 130 when a signal stopped it). */
export async function runSuites(args: Args): Promise<number> {
  fs.mkdirSync(args.out, { recursive: true });
  fs.mkdirSync(args.dir, { recursive: true, mode: 0o755 });
  fs.chmodSync(args.dir, 0o755); // the sshd users walk to their roots below it
  const file = path.join(args.out, 'benchmarks.json');
  const results: ResultsFile = loadResults(file);
  const worldDir = path.join(args.dir, 'docker');
  const cleanup = new Cleanup(args.dir, args.keep ? { keepUnder: [worldDir] } : { removeDir: true });
  // Daemons and sshd of the host suites make their directories in TMPDIR: below the work directory.
  process.env.TMPDIR = path.join(args.dir, 'tmp');
  fs.mkdirSync(process.env.TMPDIR, { recursive: true, mode: 0o755 });

  const commit = await describeCheckout();
  const facts = await machine();
  const runs = new Map(args.only.map((id) => [id, startRun(id, args, results.suites[id], commit, facts)]));
  if (args.steps !== undefined) for (const run of runs.values()) run.notes.push(`Only steps ${args.steps.join(', ')} of the suite were run (--step).`);
  /** A suite's new run replaces its old one once it has something to show. */
  const persist = (): void => {
    for (const [id, run] of runs) if (run.completed.length > 0 || run.figures.length > 0 || run.errors.length > 0) results.suites[id] = run;
    saveResults(file, results);
  };
  cleanup.exitOnSignals(persist);
  const sizes = SIZES[args.sizes];
  const plan: Planned[] = args.only
    .flatMap((suite) => SUITES[suite].steps(sizes).map((step) => ({ suite, step })))
    .filter(({ suite, step }) => !runs.get(suite)!.completed.includes(step.id))
    .filter(({ step }) => args.steps === undefined || args.steps.includes(step.id))
    .sort((a, b) => a.step.order - b.step.order);
  log(`${args.sizes} sizes; suites ${args.only.join(', ')}; steps ${plan.map((p) => `${p.suite}:${p.step.id}`).join(', ') || 'none left'}; output in ${args.out}`);

  let world: Promise<World> | undefined;
  let worldHeld: Held | undefined;
  let builds: Promise<Build[]> | undefined;
  const engineRtts = [...new Set(plan.filter((p) => p.step.engine).flatMap((p) => SUITES[p.suite].engineRtts(sizes)))].sort((a, b) => a - b);
  const lastEngineStep = plan.filter((p) => p.step.engine).at(-1);
  let failed = 0;
  try {
    await runOk('npm', ['run', '--silent', 'build'], { cwd: REPO });
    for (const planned of plan) {
      if (cleanup.interrupted) break;
      const run = runs.get(planned.suite)!;
      const store = new SuiteStore(run, persist);
      store.step = planned.step.id;
      const ctx: StepContext = {
        store,
        sizes,
        cleanup,
        dir: path.join(args.dir, planned.suite),
        world: () =>
          (world ??= World.start({ dir: worldDir, rtts: engineRtts, reuse: args.reuse }).then((w) => {
            worldHeld = cleanup.hold('engine, plugin, sshd, rclone, raw sshfs', () => w.stop({ keepEngine: args.keep }));
            return w;
          })),
        // The page names the commits the suite compared.
        builds: async () => {
          const both = await (builds ??= Promise.all([currentBuild(), baselineBuild(args.baseline, args.dir)]));
          run.params.builds = both.map(({ id, commit }) => ({ id, commit }));
          return both;
        },
        commits: async () => {
          const both: Pick<Build, 'id' | 'commit'>[] = [
            { id: 'current', commit: await describeCheckout() },
            { id: 'baseline', commit: await baselineCommit(args.baseline) },
          ];
          run.params.builds = both;
          return both;
        },
      };
      log(`${planned.suite}: ${planned.step.id}`);
      const started = performance.now();
      try {
        await planned.step.run(ctx);
        if (!cleanup.interrupted) run.completed.push(planned.step.id);
      } catch (error) {
        if (error instanceof EngineGone || cleanup.interrupted) throw error;
        failed += 1;
        store.error((error as Error).message);
        log(`${planned.suite}: ${planned.step.id} FAILED: ${(error as Error).message}`);
      }
      log(`${planned.suite}: ${planned.step.id} took ${((performance.now() - started) / 60_000).toFixed(1)} min`);
      if (plan.filter((p) => p.suite === planned.suite).at(-1) === planned) run.finishedAt = new Date().toISOString();
      persist();
      if (planned === lastEngineStep) await worldHeld?.release();
    }
  } catch (error) {
    if (!cleanup.interrupted) throw error;
  } finally {
    await cleanup.close();
  }
  persist();
  if (cleanup.interrupted) return 130;
  writePage(results, args.out);
  const errors = [...runs.values()].reduce((n, r) => n + r.errors.length, 0);
  log(`wrote ${path.join(args.out, 'benchmarks.md')}${errors > 0 ? ` (${errors} errors, listed there)` : ''}`);
  return failed > 0 ? 1 : 0;
}
