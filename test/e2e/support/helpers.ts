import assert from 'node:assert/strict';
import fs from 'node:fs';
import { KEY_NAME, sftpOptions } from '../../support/sftp-fixtures';
import type { TestSshd } from '../../support/sshd';
import { PLUGIN, type Engine, type VolumeInspect } from './engine';
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

/** One line of the plugin's own log (src/log.ts: one JSON object per line). */
export type PluginLogEntry = Record<string, unknown> & { msg?: string; level?: string };

/**
 * The plugin's log lines on `engine`, parsed: the engine copies a managed plugin's stdout
 * into its own log as `msg="<the line, Go-quoted>" plugin=ID`.
 */
export function pluginLog(engine: Engine): PluginLogEntry[] {
  const entries: PluginLogEntry[] = [];
  for (const m of engine.log().matchAll(/ msg=("(?:[^"\\]|\\.)*") plugin=[0-9a-f]{64}$/gm)) {
    try {
      const line = JSON.parse(JSON.parse(m[1] ?? '""') as string) as unknown;
      if (typeof line === 'object' && line !== null) entries.push(line as PluginLogEntry);
    } catch {
      /* not one of our JSON lines (e.g. a Go escape JSON does not know) */
    }
  }
  return entries;
}

/**
 * disable -f, `docker plugin set` of the default store (SFTP_* on `sshd`, SFTP_BASE_PATH the
 * server directory `store`), HOST_NAME and any `extra` settings, enable: a plugin that keeps
 * the store's catalogue.
 */
export async function useDefaultStore(e: Engine, sshd: TestSshd, store: string, hostName: string, extra: Record<string, string> = {}): Promise<void> {
  await e.dockerOk(['plugin', 'disable', '-f', PLUGIN]);
  await e.dockerOk([
    'plugin', 'set', PLUGIN,
    `SFTP_HOST=${sshd.host}`,
    `SFTP_PORT=${sshd.port}`,
    `SFTP_USER=${sshd.user}`,
    `SFTP_IDENTITY=${KEY_NAME}`,
    `SFTP_HOSTKEY=${sshd.hostKeyFingerprint}`,
    `SFTP_BASE_PATH=${sshd.serverPath(store)}`,
    `HOST_NAME=${hostName}`,
    ...Object.entries(extra).map(([k, v]) => `${k}=${v}`),
  ]);
  await e.dockerOk(['plugin', 'enable', PLUGIN]);
}
