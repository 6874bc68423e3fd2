import assert from 'node:assert/strict';
import fs from 'node:fs';
import { sftpOptions } from '../../support/sftp-fixtures';
import type { TestSshd } from '../../support/sshd';
import type { Engine, VolumeInspect } from './engine';
import { eventually } from './proc';

export { sftpOptions, eventually };

/** RFC 3339 date-time as Docker's CLI parses CreatedAt. */
export const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;

/** PID 1 that stops at once on SIGTERM (a bare `sleep` as PID 1 ignores it for 10 s). */
export const SLEEPER = "trap 'exit 0' TERM INT; sleep 3600 & wait";

export function assertCreatedAt(v: VolumeInspect): void {
  assert.match(v.CreatedAt, RFC3339, `CreatedAt ${v.CreatedAt} is not RFC 3339`);
  const t = Date.parse(v.CreatedAt);
  assert.ok(Number.isFinite(t), `CreatedAt ${v.CreatedAt} does not parse`);
  assert.ok(Math.abs(Date.now() - t) < 3600_000, `CreatedAt ${v.CreatedAt} is not close to now`);
}

/** Server-side content of root/rel, waiting for it (the server is the source of truth). */
export async function serverFile(sshd: TestSshd, rel: string[], expected?: string, timeoutMs = 5000): Promise<string> {
  return eventually(
    `server file ${rel.join('/')}${expected === undefined ? '' : ` = ${JSON.stringify(expected)}`}`,
    () => {
      const text = fs.readFileSync(sshd.serverPath(...rel), 'utf8');
      if (expected !== undefined) assert.equal(text, expected);
      return text;
    },
    timeoutMs,
  );
}

/** Waits until `container` runs (it has its volumes mounted then). */
export async function waitRunning(engine: Engine, container: string, timeoutMs = 60_000): Promise<void> {
  await eventually(
    `${container} running on ${engine.name}`,
    async () => assert.ok(await engine.isRunning(container), `${container} is not running`),
    timeoutMs,
    200,
  );
}

/** Status.mounts of a volume as the plugin reports it. */
export async function mountCount(engine: Engine, volume: string): Promise<number> {
  const v = await engine.volumeInspect(volume);
  const n = v.Status?.mounts;
  assert.equal(typeof n, 'number', `Status.mounts of ${volume}: ${JSON.stringify(v.Status)}`);
  return n as number;
}

/** Unique names per run, so that a failed earlier run never collides. */
export const RUN_ID = Date.now().toString(36).slice(-5);
