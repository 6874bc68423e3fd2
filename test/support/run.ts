/**
 * Child processes for every test tier and the benchmark: an argument array (never a shell,
 * so no value can become syntax), stdout and stderr captured, optional input and a hard
 * timeout. (src/system/run.ts is the daemon's own, which hands children a minimal
 * environment; this one passes the caller's on.)
 */
import { spawn } from 'node:child_process';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to close, milliseconds (fractional). */
  ms: number;
}

export interface RunOptions {
  /** The child's whole environment; default this process's. */
  env?: NodeJS.ProcessEnv | undefined;
  cwd?: string | undefined;
  /** Written to stdin, which is then closed (default: closed at once). */
  input?: string | undefined;
  /**
   * SIGKILL the child after this long (a process blocked in a FUSE request ignores SIGTERM),
   * noting it at the end of stderr; default: no limit.
   */
  timeoutMs?: number | undefined;
}

/** The command as a person would type it, quoting only what needs it; for messages. */
export function describeCommand(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

/** The last `lines` lines of `text`. */
export function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Resolves with the exit status and output whatever the status; rejects only when the program cannot start. */
export function run(cmd: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const { timeoutMs } = options;
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            stderr += `\n[run] ${describeCommand(cmd, args)}: killed after ${timeoutMs} ms`;
            child.kill('SIGKILL');
          }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started });
    });
    child.stdin.on('error', () => undefined); // a program that exits without reading stdin
    child.stdin.end(options.input ?? '');
  });
}

/** A command that did not exit 0: its status, time and the end of its output in the message. */
export class RunError extends Error {
  constructor(
    readonly command: string,
    readonly result: RunResult,
  ) {
    const status = result.signal ?? `exit ${String(result.code)}`;
    super(`${command} failed (${status}, ${Math.round(result.ms)} ms):\n${tail(result.stderr || result.stdout, 40)}`);
  }
}

/** run(), throwing a RunError unless the command exits 0. */
export async function runOk(cmd: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const result = await run(cmd, args, options);
  if (result.code !== 0) throw new RunError(describeCommand(cmd, args), result);
  return result;
}
