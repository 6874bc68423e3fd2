/**
 * The store catalogue across two hosts (two daemons as hosts of one default store on a real
 * loopback sshd): Get of an unknown name with the store up and hung, create-to-visible and
 * remove-to-gone delays, and the catalogue's store operations per second on an idle host.
 */
import { delay, type DaemonProcess } from '../../test/support/daemon-process';
import { TestSshd } from '../../test/support/sshd';
import { heldStoreHost } from './catalogue-hosts';
import type { PickupSizes } from './catalogue-pickup';
import type { Cleanup } from './cleanup';
import { log } from './lib/proc';
import type { SuiteStore } from './lib/results';

export interface CatalogueSizes {
  /** Gets of unknown names (and of a remembered one); creates to visible are at most 100. */
  rounds: number;
  /** Removals timed until gone from the other host's List. */
  removals: number;
  /** Seconds an idle host's store operations are counted over. */
  idleSeconds: number;
  /** Mounted store volumes at which a host's store operations are counted (renewal traffic). */
  mountedVolumes: number[];
  /** A change picked up by another host as the store holds more volumes (its own step: catalogue-pickup.ts). */
  pickup: PickupSizes;
}

/** The measure of a host's store operations with `mounted` store volumes mounted. */
export const withMounted = (mounted: number): string => `store operations of a host with ${mounted} store volumes mounted`;

/** What is measured, in the order of the page. */
export const CATALOGUE_TESTS = {
  unknown: 'Get of an unknown name, store up (a lookup on the store)',
  repeated: 'Get of the same unknown name again within 1 s (remembered)',
  visible: 'Get on B right after Create on A (create to visible)',
  gone: 'Remove on A to gone from List on B',
  hung: 'Get of an unknown name, store hung (SIGSTOP)',
  idle: 'store operations of an idle host',
} as const;

const since = (started: bigint): number => Number(process.hrtime.bigint() - started) / 1e6;

export async function catalogue(sizes: CatalogueSizes, store: SuiteStore, cleanupPath: Cleanup): Promise<void> {
  const add = (test: string, ms: number): void => store.add('catalogue', test, 'ours', 'ms', 'lower', ms);
  const sshd = await TestSshd.start();
  const held = [cleanupPath.hold('sshd', () => sshd.dispose())];
  const host = (name: string): Promise<DaemonProcess> => heldStoreHost(sshd, cleanupPath, held, name);
  try {
    await sshd.mkdirAsUser('store');
    const a = await host('host-a');
    const b = await host('host-b');
    await delay(1500);

    log(`catalogue: ${sizes.rounds} Gets of unknown names`);
    for (let i = 0; i < sizes.rounds; i += 1) {
      const t = process.hrtime.bigint();
      await b.client.call('/VolumeDriver.Get', { Name: `nothing-here-${i}` });
      add(CATALOGUE_TESTS.unknown, since(t));
    }
    for (let i = 0; i < sizes.rounds; i += 1) {
      const t = process.hrtime.bigint();
      await b.client.call('/VolumeDriver.Get', { Name: `nothing-here-${sizes.rounds - 1}` });
      add(CATALOGUE_TESTS.repeated, since(t));
    }
    for (let i = 0; i < Math.min(sizes.rounds, 100); i += 1) {
      await a.client.create(`made-${i}`);
      const t = process.hrtime.bigint();
      await b.client.get(`made-${i}`);
      add(CATALOGUE_TESTS.visible, since(t));
    }
    log(`catalogue: ${sizes.removals} removals`);
    for (let i = 0; i < sizes.removals; i += 1) {
      await b.client.get(`made-${i}`);
      await a.client.remove(`made-${i}`);
      const t = process.hrtime.bigint();
      while ((await b.client.list()).some((v) => v.Name === `made-${i}`)) await delay(5);
      add(CATALOGUE_TESTS.gone, since(t));
    }

    log(`catalogue: counting an idle host's store operations for ${sizes.idleSeconds} s`);
    await delay(2000);
    const before = b.logLines().filter((line) => line.msg === 'store operation').length;
    await delay(sizes.idleSeconds * 1000);
    const idle = b.logLines().filter((line) => line.msg === 'store operation').slice(before);
    store.add('catalogue', CATALOGUE_TESTS.idle, 'ours', 'per second', 'lower', idle.length / sizes.idleSeconds);
    const kinds = new Map<string, number>();
    for (const line of idle) kinds.set(String(line.what), (kinds.get(String(line.what)) ?? 0) + 1);
    store.note(`An idle host's store operations in ${sizes.idleSeconds} s: ${[...kinds].map(([k, n]) => `${k}: ${n}`).join(', ') || 'none'}.`);

    // Renewal traffic: what keeping its mounts costs a host, as their number grows.
    let mounted = 0;
    for (const target of sizes.mountedVolumes) {
      log(`catalogue: host B mounts ${target} store volumes`);
      for (; mounted < target; mounted += 1) {
        await a.client.create(`leased-${mounted}`);
        await b.client.mount(`leased-${mounted}`, 'bench');
      }
      await delay(2000);
      const from = b.logLines().filter((line) => line.msg === 'store operation').length;
      await delay(sizes.idleSeconds * 1000);
      const ops = b.logLines().filter((line) => line.msg === 'store operation').slice(from);
      store.add('catalogue', withMounted(target), 'ours', 'per second', 'lower', ops.length / sizes.idleSeconds);
      const byKind = new Map<string, number>();
      for (const line of ops) byKind.set(String(line.what), (byKind.get(String(line.what)) ?? 0) + 1);
      store.note(`Host B with ${target} store volumes mounted, store operations in ${sizes.idleSeconds} s: ${[...byKind].map(([k, n]) => `${k}: ${n}`).join(', ') || 'none'}.`);
      store.save();
    }

    sshd.pause();
    try {
      for (let i = 0; i < 5; i += 1) {
        const t = process.hrtime.bigint();
        await b.client.call('/VolumeDriver.Get', { Name: `hung-${i}` });
        add(CATALOGUE_TESTS.hung, since(t));
      }
    } finally {
      sshd.resume();
    }
    store.save();
  } finally {
    for (const h of held.reverse()) await h.release();
  }
}
