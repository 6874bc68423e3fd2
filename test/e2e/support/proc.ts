/**
 * Child processes for the end-to-end tier: always an argument array (execFile style),
 * never a shell string on the host. Every call has a timeout and captures its output.
 */
import { spawnSync } from 'node:child_process';
import { eventually as retryUntil } from '../../support/eventually';
import { describeCommand, run as runAny, RunError as ProcError, type RunOptions as ProcOptions, type RunResult as ProcResult } from '../../support/run';

export { describeCommand, ProcError, type ProcOptions, type ProcResult };

const VERBOSE = process.env.DVS_E2E_VERBOSE === '1';

/** test/support/run.ts's run() with the tier's default timeout (5 minutes), logged when DVS_E2E_VERBOSE=1. */
export async function run(cmd: string, args: readonly string[], opts: ProcOptions = {}): Promise<ProcResult> {
  const result = await runAny(cmd, args, { ...opts, timeoutMs: opts.timeoutMs ?? 300_000 });
  if (VERBOSE) process.stderr.write(`      [e2e] ${describeCommand(cmd, args)} -> ${String(result.code ?? result.signal)} (${Math.round(result.ms)} ms)\n`);
  return result;
}

/** Runs and throws a ProcError unless the exit code is 0; returns stdout. */
export async function runOk(cmd: string, args: readonly string[], opts: ProcOptions = {}): Promise<string> {
  const result = await run(cmd, args, opts);
  if (result.code !== 0) throw new ProcError(describeCommand(cmd, args), result);
  return result.stdout;
}

/** Synchronous variant for process 'exit' handlers; never throws. */
export function runSyncQuiet(cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv, timeoutMs = 90_000): number | null {
  try {
    return spawnSync(cmd, args, { env: env ?? process.env, stdio: 'ignore', timeout: timeoutMs }).status;
  } catch {
    return null;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `eventually` with the end-to-end tier's pace: engines answer in seconds, not milliseconds. */
export const eventually = <T>(what: string, probe: () => T | Promise<T>, timeoutMs = 10_000, stepMs = 100): Promise<T> =>
  retryUntil(what, probe, timeoutMs, stepMs);
