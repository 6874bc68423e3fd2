import { run } from './run';

/** What an lstat found: GNU stat's %F, 'directory' or 'symbolic link' among them. */
export interface FoundKind {
  kind: string;
}

/** An lstat failure with node's errno code, so callers read it as they would fs.lstat's. */
export class LstatError extends Error {
  constructor(
    readonly code: 'ENOENT' | 'EACCES' | 'EPERM' | 'ETIMEDOUT' | 'EIO',
    message: string,
  ) {
    super(message);
    this.name = 'LstatError';
  }
}

// stat(1) names the error with strerror in the C locale (run's environment).
const ERRNO_OF: readonly (readonly [string, LstatError['code']])[] = [
  ['No such file or directory', 'ENOENT'],
  ['Permission denied', 'EACCES'],
  ['Operation not permitted', 'EPERM'],
];

/**
 * lstat of a path that may lie on a FUSE mount, in a stat(1) process killed after
 * `timeoutMs`. fs.lstat would run on one of node's four file-system threads and wait there
 * as long as the FUSE server does: four of them on a hung server stop every file operation
 * of the daemon, local volumes and the state journal included. A FUSE request gives way to
 * SIGKILL, so the process and its wait end on time.
 */
export async function lstatBounded(file: string, timeoutMs: number): Promise<FoundKind> {
  // A timeout of 0 would be none at all for spawn.
  const result = await run('stat', ['-c', '%F', '--', file], { timeoutMs: Math.max(1, timeoutMs) });
  if (result.code === 0) return { kind: result.stdout.trim() };
  if (result.signal !== null) throw new LstatError('ETIMEDOUT', `no answer within ${(timeoutMs / 1000).toFixed(1)} s`);
  const said = result.stderr.trim();
  const code = ERRNO_OF.find(([text]) => said.endsWith(text))?.[1] ?? 'EIO';
  throw new LstatError(code, said.replace(/^stat: /, '') || `stat exited with status ${result.code}`);
}
