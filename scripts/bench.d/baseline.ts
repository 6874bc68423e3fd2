/**
 * The two builds the control and sharing suites compare side by side: this checkout's
 * dist/main.js (built at the start of the run) and a baseline commit's, built once per
 * commit below the work directory from `git archive` (the repository is only read).
 */
import fs from 'node:fs';
import path from 'node:path';
import { MAIN } from '../../test/support/daemon-process';
import { run, runOk } from '../../test/support/run';
import { log } from './lib/proc';
import { REPO } from './lib/repo';

export interface Build {
  id: 'current' | 'baseline';
  /** The daemon's entry point. */
  main: string;
  /** Short commit it was built from ("dirty" when the checkout had uncommitted changes). */
  commit: string;
}

/** `git rev-parse --short HEAD`, with " (dirty)" when tracked files have uncommitted changes. */
export async function describeCheckout(): Promise<string> {
  const head = (await runOk('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'])).stdout.trim();
  const changed = (await runOk('git', ['-C', REPO, 'status', '--porcelain', '--untracked-files=no'])).stdout.trim();
  return changed === '' ? head : `${head} (dirty)`;
}

export async function currentBuild(): Promise<Build> {
  return { id: 'current', main: MAIN, commit: await describeCheckout() };
}

/** The short commit `--baseline REF` names. */
export async function baselineCommit(ref: string): Promise<string> {
  const resolved = await run('git', ['-C', REPO, 'rev-parse', '--short', `${ref}^{commit}`]);
  if (resolved.code !== 0) throw new Error(`--baseline ${ref}: not a commit of this repository`);
  return resolved.stdout.trim();
}

/** The baseline's build: `ref`'s tree with this checkout's node_modules, `npm run build` in it. */
export async function baselineBuild(ref: string, workDir: string): Promise<Build> {
  const commit = await baselineCommit(ref);
  const dir = path.join(workDir, `baseline-${commit}`);
  const main = path.join(dir, 'dist', 'main.js');
  const built = path.join(dir, '.built');
  if (!fs.existsSync(built)) {
    log(`building the baseline ${commit} in ${dir}`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    await runOk('sh', ['-c', 'git -C "$1" archive --format=tar "$2" | tar -x -C "$3"', 'sh', REPO, commit, dir]);
    fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
    await runOk('npm', ['run', '--silent', 'build'], { cwd: dir, timeoutMs: 10 * 60_000 });
    fs.writeFileSync(built, '');
  }
  return { id: 'baseline', main, commit };
}
