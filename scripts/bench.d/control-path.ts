/**
 * p50 and p99 latency of every VolumeDriver call at several volume counts, from a client
 * on the socket that speaks as the engine does. Local volumes, so the figures are the
 * daemon's own cost: protocol, service, locking and the durable state write. The daemon
 * is `node dist/main.js` outside Docker (build it first: npm run build).
 * Usage: npx tsx scripts/bench.d/control-path.ts [COUNTS...]   (default 10 1000 10000)
 * scripts/bench calls controlPath() and puts the figures in docs/benchmarks.md.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cleanup, DaemonProcess, makeDirs } from '../../test/support/daemon-process';
import { EngineClient } from '../../test/support/engine-client';
import { quantile } from './lib/stats';

export const CALLS = ['Create', 'Mount', 'Unmount', 'Remove', 'Get', 'List', 'Path', 'Capabilities'] as const;
export type Call = (typeof CALLS)[number];

export interface ControlRow {
  volumes: number;
  call: Call;
  p50: number;
  p99: number;
  samples: number;
}

export interface ControlResult {
  /** One row per call, volume count and repetition. */
  rows: (ControlRow & { repetition: number })[];
  /** RSS of the daemon (MB) after the samples, per volume count (one value per repetition). */
  rss: Record<number, number[]>;
  /** Seconds to fill the daemon with that many volumes (100 Creates in flight). */
  fillSeconds: Record<number, number[]>;
  /** The same calls on a bare node HTTP server (one entry per count and repetition): the floor. */
  floor: { volumes: number; call: 'Capabilities' | 'List'; p50: number; p99: number }[];
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

const FLOOR_SERVER = `
const http = require('node:http');
const [socket, count, prefix] = process.argv.slice(1);
const list = JSON.stringify({ Volumes: Array.from({ length: Number(count) }, (_, i) => ({ Name: 'fill' + i, Mountpoint: prefix + '/fill' + i })), Err: '' });
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => res.end(req.url === '/VolumeDriver.List' ? list : '{"Capabilities":{"Scope":"local"}}'));
});
server.listen(socket, () => process.stdout.write('ready\\n'));
`;

/**
 * The same client against a do-nothing node HTTP server that answers Capabilities, and
 * List with `count` entries shaped like the daemon's: what this machine and the reply size
 * alone cost, the floor under the daemon's figures.
 */
async function floor(count: number, samples: number, mountRoot: string): Promise<{ call: 'Capabilities' | 'List'; p50: number; p99: number }[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dvs-bench-floor-'));
  const socket = path.join(dir, 's.sock');
  const child = spawn(process.execPath, ['-e', FLOOR_SERVER, socket, String(count), mountRoot], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', () => resolve());
      child.once('exit', () => reject(new Error('floor server exited')));
    });
    const client = new EngineClient(socket);
    const caps: number[] = [];
    const list: number[] = [];
    for (let i = 0; i < samples; i += 1) {
      caps.push(await timed(() => client.ok('/VolumeDriver.Capabilities')));
      list.push(await timed(() => client.list()));
    }
    client.close();
    return [
      { call: 'Capabilities', p50: quantile(caps, 0.5), p99: quantile(caps, 0.99) },
      { call: 'List', p50: quantile(list, 0.5), p99: quantile(list, 0.99) },
    ];
  } finally {
    child.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function oneDaemon(size: number, samplesPerCall: number, onProgress: (text: string) => void): Promise<{ rows: ControlRow[]; rss: number; fill: number; mountRoot: string }> {
  const daemon = await DaemonProcess.start(makeDirs('dvs-bench-ctl'), { LOG_LEVEL: 'warn' });
  const c = daemon.client;
  try {
    // Fill in parallel batches: the fill itself is not measured.
    const fillStarted = performance.now();
    for (let i = 0; i < size; i += 100) {
      await Promise.all(Array.from({ length: Math.min(100, size - i) }, (_, j) => c.create(`fill${i + j}`)));
    }
    const fill = (performance.now() - fillStarted) / 1000;
    const samples: Record<Call, number[]> = { Create: [], Mount: [], Unmount: [], Remove: [], Get: [], List: [], Path: [], Capabilities: [] };
    for (let i = 0; i < samplesPerCall; i += 1) {
      const name = `probe${i}`;
      const target = `fill${i % size}`;
      samples.Create.push(await timed(() => c.create(name)));
      samples.Mount.push(await timed(() => c.mount(name, 'id')));
      samples.Get.push(await timed(() => c.get(target)));
      samples.Path.push(await timed(() => c.ok('/VolumeDriver.Path', { Name: target })));
      samples.Capabilities.push(await timed(() => c.ok('/VolumeDriver.Capabilities')));
      // List is the biggest reply; sampled as often as the others, so its p99 means the same.
      samples.List.push(await timed(() => c.list()));
      samples.Unmount.push(await timed(() => c.unmount(name, 'id')));
      samples.Remove.push(await timed(() => c.remove(name)));
    }
    const rows = CALLS.map((call) => ({ volumes: size, call, p50: quantile(samples[call], 0.5), p99: quantile(samples[call], 0.99), samples: samples[call].length }));
    const status = fs.readFileSync(`/proc/${daemon.child?.pid}/status`, 'utf8');
    const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
    onProgress(`control path: ${size} volumes (filled in ${fill.toFixed(1)} s): ${rows.map((r) => `${r.call} ${r.p99.toFixed(1)}`).join(', ')} ms p99`);
    return { rows, rss, fill, mountRoot: daemon.dirs.mountRoot };
  } finally {
    await daemon.stop();
    cleanup(daemon.dirs.base);
  }
}

/**
 * `repetitions` times: a fresh daemon per volume count (the order of counts rotates) and the
 * floor server, so that the report can take medians of the per-run p50s and p99s.
 */
export async function controlPath(sizes: readonly number[], samplesPerCall = 200, repetitions = 1, onProgress: (text: string) => void = () => undefined): Promise<ControlResult> {
  const result: ControlResult = { rows: [], rss: {}, fillSeconds: {}, floor: [] };
  for (let repetition = 0; repetition < repetitions; repetition += 1) {
    const order = sizes.map((_, i) => sizes[(i + repetition) % sizes.length]!);
    for (const size of order) {
      const one = await oneDaemon(size, samplesPerCall, onProgress);
      result.rows.push(...one.rows.map((row) => ({ ...row, repetition })));
      (result.rss[size] ??= []).push(one.rss);
      (result.fillSeconds[size] ??= []).push(one.fill);
      for (const f of await floor(size, samplesPerCall, one.mountRoot)) result.floor.push({ volumes: size, ...f });
    }
  }
  return result;
}

if (require.main === module) {
  const counts = process.argv.slice(2).map(Number);
  controlPath(counts.length > 0 ? counts : [10, 1000, 10000], 200, 1, (text) => console.error(text)).then(
    ({ rows, rss, floor: floors }) => {
      console.log('| volumes | call | p50 ms | p99 ms | samples |\n|---|---|---|---|---|');
      for (const r of rows) console.log(`| ${r.volumes} | ${r.call} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.samples} |`);
      for (const [size, mb] of Object.entries(rss)) console.log(`| ${size} | (daemon RSS MB) | ${mb.map((v) => v.toFixed(1)).join(' ')} | | |`);
      for (const f of floors) console.log(`| ${f.volumes} | ${f.call} on a bare node server | ${f.p50.toFixed(2)} | ${f.p99.toFixed(2)} | |`);
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
