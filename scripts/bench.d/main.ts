/**
 * The entry point of scripts/bench (which runs it with tsx): the benchmark suites, one
 * page. See cli.ts or `scripts/bench --help`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { runOk } from '../../test/support/run';
import { Cleanup } from './cleanup';
import { parseArgs, type Args } from './cli';
import { loadResults } from './lib/results';
import { REPO } from './lib/repo';
import { profileControl } from './profile-control';
import { writePage } from './report/page';
import { runSuites } from './run';

async function profile(args: Args, { kind, volumes, calls }: NonNullable<Args['profile']>): Promise<number> {
  const cleanup = new Cleanup(args.dir);
  cleanup.exitOnSignals(() => undefined);
  try {
    await runOk('npm', ['run', '--silent', 'build'], { cwd: REPO });
    await profileControl(kind, volumes, calls, cleanup);
  } finally {
    await cleanup.close();
  }
  return 0;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args === undefined) return 0;
  if (args.reportOnly) {
    const file = path.join(args.out, 'benchmarks.json');
    if (!fs.existsSync(file)) throw new Error(`no ${file} to rebuild the page from`);
    writePage(loadResults(file), args.out);
    console.log(`wrote ${path.join(args.out, 'benchmarks.md')}`);
    return 0;
  }
  if (process.getuid?.() !== 0) throw new Error('scripts/bench needs root (engine, sshd, mounts, drop_caches)');
  if (args.profile !== undefined) return profile(args, args.profile);
  return runSuites(args);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
