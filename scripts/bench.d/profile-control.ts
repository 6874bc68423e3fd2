/**
 * Where the daemon spends its time on one kind of VolumeDriver call: starts `node
 * dist/main.js` outside Docker with --cpu-prof, fills it with local volumes, sends CALLS
 * calls of one kind, stops it and prints the functions with the most self time.
 *
 *   scripts/bench --profile KIND[:VOLUMES[:CALLS]]
 *   KIND: list | get | path | capabilities | create | mount | remove
 *
 * Self time of a function is time spent in it, not in what it calls; "(program)" and
 * "(garbage collector)" are V8's own. Paths are shortened to the repository.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { cleanup, delay, MAIN, makeDirs, NODE_FLAGS } from '../../test/support/daemon-process';
import { EngineClient } from '../../test/support/engine-client';
import type { Cleanup } from './cleanup';
import { quantile } from './lib/stats';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time per function over the samples taken at or after `fromMicros` (CLOCK_MONOTONIC, as V8 stamps them). */
function selfTimes(profile: Profile, fromMicros = 0): { name: string; ms: number }[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, number>();
  let stamp = profile.startTime;
  profile.samples.forEach((id, i) => {
    stamp += profile.timeDeltas[i] ?? 0;
    if (stamp < fromMicros) return;
    const node = byId.get(id);
    if (node === undefined) return;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url === '' ? '' : ` ${url.replace(/^file:\/\//, '').replace(`${path.resolve(__dirname, '..', '..')}/`, '')}:${lineNumber + 1}`;
    const key = `${functionName || '(anonymous)'}${where}`;
    totals.set(key, (totals.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  return [...totals.entries()].map(([name, ms]) => ({ name, ms })).sort((a, b) => b.ms - a.ms);
}

export async function profileControl(kind: string, volumes: number, calls: number, cleanupPath: Cleanup): Promise<void> {
  const profDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dvs-prof-'));
  const dirs = makeDirs('dvs-bench-prof');
  // --cpu-prof is refused in NODE_OPTIONS, so the daemon is spawned here with it.
  const child = spawn(process.execPath, [...NODE_FLAGS, '--cpu-prof', `--cpu-prof-dir=${profDir}`, MAIN], {
    env: { PATH: process.env.PATH, PLUGIN_SOCKET: dirs.socket, PLUGIN_DATA_DIR: dirs.dataDir, PLUGIN_MOUNT_ROOT: dirs.mountRoot, PLUGIN_RUN_DIR: dirs.runDir, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const held = cleanupPath.hold('profiled daemon', async () => {
    child.kill('SIGTERM');
    await exited;
    cleanup(dirs.base);
  });
  const c = new EngineClient(dirs.socket);
  for (let i = 0; ; i += 1) {
    try {
      await c.call('/Plugin.Activate');
      break;
    } catch (error) {
      if (i > 200) throw error;
      await delay(50);
    }
  }
  const times: number[] = [];
  let measureFrom = 0;
  try {
    for (let i = 0; i < volumes; i += 100) {
      await Promise.all(Array.from({ length: Math.min(100, volumes - i) }, (_, j) => c.create(`fill${i + j}`)));
    }
    await delay(500);
    measureFrom = Number(process.hrtime.bigint() / 1000n);
    for (let i = 0; i < calls; i += 1) {
      const started = performance.now();
      const name = `probe${i}`;
      switch (kind) {
        case 'list':
          await c.list();
          break;
        case 'get':
          await c.get(`fill${i % volumes}`);
          break;
        case 'path':
          await c.ok('/VolumeDriver.Path', { Name: `fill${i % volumes}` });
          break;
        case 'capabilities':
          await c.ok('/VolumeDriver.Capabilities');
          break;
        case 'create':
          await c.create(name);
          break;
        case 'mount':
          await c.mount(`fill${i % volumes}`, 'id');
          await c.unmount(`fill${i % volumes}`, 'id');
          break;
        case 'remove':
          await c.remove(`fill${i}`);
          break;
        default:
          throw new Error(`unknown kind ${kind}`);
      }
      times.push(performance.now() - started);
    }
  } finally {
    c.close();
    await held.release();
  }
  const file = fs.readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error(`no profile written in ${profDir}`);
  const profile = JSON.parse(fs.readFileSync(path.join(profDir, file), 'utf8')) as Profile;
  const self = selfTimes(profile, measureFrom);
  const total = self.reduce((a, b) => a + b.ms, 0);
  console.log(`${kind} x${calls} at ${volumes} volumes: client-side p50 ${quantile(times, 0.5).toFixed(2)} ms, p99 ${quantile(times, 0.99).toFixed(2)} ms; profile ${path.join(profDir, file)} (${total.toFixed(0)} ms sampled during the calls)`);
  for (const { name, ms } of self.slice(0, 25)) console.log(`${ms.toFixed(1).padStart(8)} ms ${((ms / total) * 100).toFixed(1).padStart(5)}%  ${name}`);
}
