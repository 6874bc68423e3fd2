/**
 * Child processes for the end-to-end tier: always an argument array (execFile style),
 * never a shell string on the host. Every call has a timeout and captures its output.
 */
import { spawn, spawnSync } from 'node:child_process';
import { eventually as retryUntil } from '../../support/eventually';

export interface ProcResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface ProcOptions {
  env?: NodeJS.ProcessEnv;
  input?: string;
  cwd?: string;
  /** Kill the process (SIGKILL) after this long; default 5 minutes. */
  timeoutMs?: number;
}

export class ProcError extends Error {
  constructor(
    readonly command: string,
    readonly result: ProcResult,
  ) {
    const status = result.signal ?? `exit ${String(result.code)}`;
    super(`${command} failed (${status}, ${result.ms} ms):\n${tail(result.stderr || result.stdout, 40)}`);
  }
}

export const VERBOSE = process.env.DVS_E2E_VERBOSE === '1';

export function describeCommand(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

export function run(cmd: string, args: readonly string[], opts: ProcOptions = {}): Promise<ProcResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      stderr += `\n[e2e] ${describeCommand(cmd, args)}: killed after ${opts.timeoutMs ?? 300_000} ms`;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 300_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code, signal, stdout, stderr, ms: Date.now() - started };
      if (VERBOSE) process.stderr.write(`      [e2e] ${describeCommand(cmd, args)} -> ${String(code ?? signal)} (${result.ms} ms)\n`);
      resolve(result);
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
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

export function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `eventually` with the end-to-end tier's pace: engines answer in seconds, not milliseconds. */
export const eventually = <T>(what: string, probe: () => T | Promise<T>, timeoutMs = 10_000, stepMs = 100): Promise<T> =>
  retryUntil(what, probe, timeoutMs, stepMs);
