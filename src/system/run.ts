import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  timeoutMs?: number;
}

/**
 * Runs a program with an argument array: never a shell, so no value can become syntax.
 * Resolves with the exit status and output; rejects only when the program cannot start.
 * At `timeoutMs` (30 s by default) it is SIGKILLed and the result (signal SIGKILL) comes at
 * once: a process waiting on a FUSE request that its server has already read cannot die
 * until the server answers, and the caller must not wait for that.
 */
export function run(program: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'], env: minimalEnv() });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      // Left to die when it can: nothing of it may keep the daemon from exiting meanwhile.
      child.unref();
      for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as Partial<Socket>).unref?.();
      resolve({ code: null, signal: 'SIGKILL', stdout, stderr });
    }, Math.max(1, options.timeoutMs ?? 30_000));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end();
  });
}

/** Children get a fixed, small environment: nothing of ours leaks into them. */
export function minimalEnv(): NodeJS.ProcessEnv {
  return { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' };
}
