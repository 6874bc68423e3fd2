/**
 * What picking up a change costs as the store holds more volumes: host A creates and then
 * removes a volume, host B (reaching the store through a latency proxy) polls its List
 * until the name is there, then gone; per number of store volumes and B's round-trip time.
 * List answers from B's memory, so the time is B's pick-up of the change, not a lookup.
 * B's store operations from the Create to the name's appearance are counted from its debug
 * log, by kind. Two daemons as hosts of one store on a real loopback sshd.
 */
import http from 'node:http';
import { delay, type DaemonProcess } from '../../test/support/daemon-process';
import { startLatencyProxy } from '../../test/support/latency-proxy';
import { TestSshd } from '../../test/support/sshd';
import { heldStoreHost } from './catalogue-hosts';
import { seedRecords } from './catalogue-seed';
import type { Cleanup } from './cleanup';
import { log } from './lib/proc';
import type { SuiteStore } from './lib/results';
import { median } from './lib/stats';

export interface PickupSizes {
  /** Store volumes in the catalogue, ascending: a few created through A, the others seeded as files. */
  volumes: number[];
  /** Round-trip times (ms) between host B and the store. */
  rtts: number[];
  /** Creates (and their Removes) timed per number of volumes and round-trip time. */
  rounds: number;
}

/** The figures' section on the page. */
export const PICKUP_SECTION = 'pickup';

/** The measures, per number of store volumes and B's round-trip time. */
export const PICKUP_TESTS = {
  create: (volumes: number, rtt: number): string => `Create on A to listed on B, ${volumes} store volumes, B at ${rtt} ms RTT`,
  remove: (volumes: number, rtt: number): string => `Remove on A to gone from B's List, ${volumes} store volumes, B at ${rtt} ms RTT`,
  operations: (volumes: number, rtt: number): string => `B's store operations per Create picked up, ${volumes} store volumes, B at ${rtt} ms RTT`,
  fullReads: (volumes: number, rtt: number): string => `B's full listings of the catalogue per Create picked up, ${volumes} store volumes, B at ${rtt} ms RTT`,
};

/** What catalogue-remote.ts's `list` (every record: a listing of volumes/, unchanged ones not read again) logs as a store operation. */
export const FULL_READ = 'list the volume records';

/** Volumes created through A before the others are seeded: the first is the seeds' template. */
const MADE = 3;
/** How long B may take to learn the seeded records (at 0 ms), and to pick up one change. */
const LEARN_MS = 15 * 60_000;
const PICKUP_LIMIT_MS = 120_000;

const since = (started: bigint): number => Number(process.hrtime.bigint() - started) / 1e6;

/** B's List as sent, unparsed: parsing 10,000 volumes every 5 ms would load the machine that measures. */
function listRaw(agent: http.Agent, socketPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { socketPath, agent, method: 'POST', path: '/VolumeDriver.List', headers: { Accept: 'application/vnd.docker.plugins.v1.2+json', 'Content-Length': 2 } },
      (response) => {
        let raw = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (raw += chunk));
        response.on('end', () => (response.statusCode === 200 && !/"Err":"[^"]/.test(raw) ? resolve(raw) : reject(new Error(`List failed (${response.statusCode}): ${raw.slice(0, 200)}`))));
      },
    );
    request.on('error', reject);
    request.end('{}');
  });
}

/** Polls B's List every 5 ms until `name` is in it (or out of it); the time it took (ms) from the call. */
async function untilListed(agent: http.Agent, b: DaemonProcess, name: string, listed: boolean): Promise<number> {
  const started = process.hrtime.bigint();
  const needle = `"Name":${JSON.stringify(name)}`;
  while ((await listRaw(agent, b.client.socketPath)).includes(needle) !== listed) {
    if (since(started) > PICKUP_LIMIT_MS) throw new Error(`volume ${name} was not ${listed ? 'in' : 'gone from'} B's List after ${PICKUP_LIMIT_MS / 1000} s`);
    await delay(5);
  }
  return since(started);
}

/** B's store operations logged from `from` to `to` (Date.now() ms), by kind; the volume's name made NAME. */
function operationsBetween(b: DaemonProcess, from: number, to: number, name: string): string[] {
  return b
    .logLines()
    .filter((line) => line.msg === 'store operation' && typeof line.time === 'string')
    .filter((line) => {
      const at = Date.parse(line.time as string);
      return at >= from && at <= to;
    })
    .map((line) => String(line.what).replaceAll(name, 'NAME'));
}

/** Waits until both hosts list exactly `count` volumes; fails on records a host refused. */
async function learnAll(a: DaemonProcess, b: DaemonProcess, count: number): Promise<number> {
  const started = process.hrtime.bigint();
  for (;;) {
    for (const [which, daemon] of [['A', a], ['B', b]] as const) {
      const refused = daemon.logLines().find((line) => line.msg === 'store record ignored');
      if (refused !== undefined) throw new Error(`host ${which} refused a store record: ${JSON.stringify(refused)}`);
    }
    const [onA, onB] = [(await a.client.list()).length, (await b.client.list()).length];
    if (onA === count && onB === count) return since(started);
    if (onA > count || onB > count) throw new Error(`A lists ${onA} volumes and B ${onB}, more than the ${count} on the store`);
    if (since(started) > LEARN_MS) throw new Error(`after ${LEARN_MS / 60_000} min A lists ${onA} volumes and B ${onB} of ${count}`);
    await delay(1000);
  }
}

export async function cataloguePickup(sizes: PickupSizes, store: SuiteStore, cleanupPath: Cleanup): Promise<void> {
  const sshd = await TestSshd.start();
  const held = [cleanupPath.hold('sshd', () => sshd.dispose())];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  held.push(cleanupPath.hold('List agent', () => agent.destroy()));
  const proxy = await startLatencyProxy(`${sshd.host}:${sshd.port}`, 0);
  held.push(cleanupPath.hold('latency proxy of host B', () => proxy.stop()));
  const host = (name: string, env: Record<string, string>): Promise<DaemonProcess> => heldStoreHost(sshd, cleanupPath, held, name, env);
  try {
    await sshd.mkdirAsUser('store');
    const a = await host('host-a', {});
    const b = await host('host-b', { SFTP_PORT: String(proxy.port) });
    for (let i = 0; i < MADE; i += 1) await a.client.create(`made-${i}`);
    let onStore = MADE;
    for (const volumes of sizes.volumes) {
      await proxy.setRtt(0);
      const names = Array.from({ length: Math.max(0, volumes - onStore) }, (_, i) => `seeded-${onStore + i}`);
      seedRecords(sshd, 'store', 'made-0', names);
      onStore += names.length;
      log(`catalogue pickup: ${onStore} store volumes (${names.length} seeded); hosts A and B learn them, B at 0 ms`);
      const learnt = await learnAll(a, b, onStore);
      log(`catalogue pickup: both hosts list ${onStore} volumes after ${(learnt / 1000).toFixed(1)} s`);
      for (const rtt of sizes.rtts) {
        await proxy.setRtt(rtt);
        await delay(3000);
        log(`catalogue pickup: ${sizes.rounds} creates and removes picked up, ${onStore} volumes, B at ${rtt} ms RTT`);
        const kinds = new Map<string, number>();
        const counts: number[] = [];
        for (let round = 0; round < sizes.rounds; round += 1) {
          // Changes at random phases of B's once-a-second poll of the change marker.
          await delay(Math.random() * 1000);
          const name = `pickup-${onStore}-${rtt}-${round}`;
          const from = Date.now();
          await a.client.create(name);
          const created = await untilListed(agent, b, name, true);
          const to = Date.now();
          await delay(Math.random() * 1000); // the Remove too: right after a pick-up it would come at one phase
          await a.client.remove(name);
          const removed = await untilListed(agent, b, name, false);
          store.add(PICKUP_SECTION, PICKUP_TESTS.create(volumes, rtt), 'ours', 'ms', 'lower', created);
          store.add(PICKUP_SECTION, PICKUP_TESTS.remove(volumes, rtt), 'ours', 'ms', 'lower', removed);
          // Logged lines arrive through a pipe: by now (after the Remove's pick-up) the Create's have.
          const operations = operationsBetween(b, from, to, name);
          store.add(PICKUP_SECTION, PICKUP_TESTS.operations(volumes, rtt), 'ours', 'operations', 'lower', operations.length);
          store.add(PICKUP_SECTION, PICKUP_TESTS.fullReads(volumes, rtt), 'ours', 'operations', 'lower', operations.filter((what) => what === FULL_READ).length);
          counts.push(operations.length);
          for (const what of operations) kinds.set(what, (kinds.get(what) ?? 0) + 1);
          log(`catalogue pickup: ${name}: listed on B after ${created.toFixed(0)} ms, gone after ${removed.toFixed(0)} ms, ${operations.length} store operations of B`);
        }
        store.note(
          `Pick-up with ${volumes} store volumes, B at ${rtt} ms RTT: B's store operations per Create picked up, median ${median(counts)}; ` +
            `over ${sizes.rounds} Creates: ${[...kinds].map(([what, n]) => `${what}: ${n}`).join(', ') || 'none'}.`,
        );
        store.save();
      }
    }
  } finally {
    for (const h of held.reverse()) await h.release();
  }
}
