/**
 * p50 and p99 latency of every VolumeDriver call at several volume counts, from a client
 * on the socket that speaks as the engine does, for two builds side by side (this
 * checkout's and a baseline's), alternating. Local volumes, so the figures are the daemon's
 * own cost: protocol, service, locking and the durable state write. The daemons run as
 * `node MAIN` outside Docker. Also the floor: the same client against a bare node server.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cleanup, DaemonProcess, makeDirs } from '../../test/support/daemon-process';
import { EngineClient } from '../../test/support/engine-client';
import type { Build } from './baseline';
import type { Cleanup } from './cleanup';
import { log } from './lib/proc';
import type { SuiteStore } from './lib/results';
import { rotate } from './lib/rotate';
import { quantile } from './lib/stats';

export const CALLS = ['Create', 'Mount', 'Unmount', 'Remove', 'Get', 'List', 'Path', 'Capabilities'] as const;
export type Call = (typeof CALLS)[number];

export interface ControlSizes {
  /** Volume counts the daemon is filled with. */
  counts: number[];
  /** Calls of each kind per daemon. */
  samples: number;
  /** Fresh daemons per build and count. */
  repetitions: number;
}

interface ControlRow {
  volumes: number;
  call: Call;
  p50: number;
  p99: number;
  samples: number;
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
  // pdeathsig: it dies with this process, however that ends.
  const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', process.execPath, '-e', FLOOR_SERVER, socket, String(count), mountRoot], { stdio: ['ignore', 'pipe', 'inherit'] });
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

/** One fresh daemon of `build` filled with `size` volumes: p50 and p99 per call, its RSS and the fill time. */
async function oneDaemon(build: Build, size: number, samplesPerCall: number, cleanupPath: Cleanup): Promise<{ rows: ControlRow[]; rss: number; fill: number; mountRoot: string }> {
  const daemon = new DaemonProcess(makeDirs('dvs-bench-ctl'), { LOG_LEVEL: 'warn' }, build.main);
  const held = cleanupPath.hold(`daemon ${build.id}`, async () => {
    await daemon.stop();
    cleanup(daemon.dirs.base);
  });
  const c = daemon.client;
  try {
    await daemon.start();
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
    log(`control path, ${build.id}: ${size} volumes (filled in ${fill.toFixed(1)} s): ${rows.map((r) => `${r.call} ${r.p99.toFixed(1)}`).join(', ')} ms p99`);
    return { rows, rss, fill, mountRoot: daemon.dirs.mountRoot };
  } finally {
    await held.release();
  }
}

/**
 * `repetitions` times: for every volume count (the order of counts rotates) a fresh daemon
 * of each build (their order alternates) and the floor server. The page takes medians of
 * the per-daemon p50s and p99s.
 */
export async function controlPath(builds: readonly Build[], sizes: ControlSizes, store: SuiteStore, cleanupPath: Cleanup): Promise<void> {
  for (let repetition = 0; repetition < sizes.repetitions; repetition += 1) {
    for (const size of rotate(sizes.counts, repetition)) {
      let mountRoot = '';
      for (const build of rotate(builds, repetition + sizes.counts.indexOf(size))) {
        const one = await oneDaemon(build, size, sizes.samples, cleanupPath);
        for (const row of one.rows) {
          store.add(`p50-${size}`, row.call, build.id, 'ms', 'lower', row.p50, `p50 of ${row.samples} calls, one sample per daemon`);
          store.add(`p99-${size}`, row.call, build.id, 'ms', 'lower', row.p99, `p99 of ${row.samples} calls, one sample per daemon`);
        }
        store.add('rss', `${size} volumes`, build.id, 'MB', 'lower', one.rss, 'RSS of the daemon after the calls');
        store.add('fill', `${size} volumes`, build.id, 's', 'lower', one.fill, '100 Creates in flight');
        mountRoot = one.mountRoot;
      }
      for (const f of await floor(size, sizes.samples, mountRoot)) {
        store.add(`p50-${size}`, f.call, 'floor', 'ms', 'lower', f.p50, 'bare node HTTP server on a Unix socket');
        store.add(`p99-${size}`, f.call, 'floor', 'ms', 'lower', f.p99, 'bare node HTTP server on a Unix socket');
      }
      store.save();
    }
  }
}
