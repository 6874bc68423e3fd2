import path from 'node:path';
import { isPluginError } from '../../src/errors';
import { SimulatedHost, STORE_BASE } from './simulated-host';
import { SimulatedStore, type StoreMutation } from './simulated-store';

/**
 * A deterministic simulation of the store catalogue protocol (docs/catalogue-protocol.md):
 * several hosts run the real catalogue code against one simulated SFTP server; a seeded
 * PRNG picks which pending request the server applies next, when time passes, when the
 * server's clock steps, and which requests fail (before or after they take effect). The
 * invariants are checked after every request. The same seed replays the same schedule.
 */
export interface SimulationOptions {
  seed: number;
  hosts?: number;
  /** Names the hosts work on: `app` and `app.db` share a prefix on purpose. */
  names?: string[];
  actionsPerHost?: number;
  /** Chance that a request fails (half of them after taking effect). */
  faultRate?: number;
  leaseTtlSeconds?: number;
  /** Every host logs in as its own user (files are owned by whoever wrote them). */
  separateLogins?: boolean;
  /**
   * Seconds between the hosts' full reads of the catalogue. Long by default, so that what
   * hosts know of each other's changes comes from the change log alone.
   */
  refreshSeconds?: number;
  /** Hears every change to the store, for debugging a seed. */
  trace?: (mutation: StoreMutation & { step: number }) => void;
}

/**
 * The mix the test runs, by seed: a third of the schedules work on one name only (every
 * call races every other), a quarter without faults (races alone), a quarter with a login
 * per host (files owned by several users), a fifth with full reads every 10 s.
 */
export function scheduleFor(seed: number): SimulationOptions {
  return {
    seed,
    ...(seed % 3 === 0 ? { names: ['app'] } : {}),
    ...(seed % 4 === 1 ? { faultRate: 0 } : {}),
    ...(seed % 5 === 4 ? { refreshSeconds: 10 } : {}),
    separateLogins: seed % 4 === 2,
  };
}

export interface SimulationResult {
  seed: number;
  violations: string[];
  trace: string[];
  steps: number;
}

const CATALOGUE = path.posix.join(STORE_BASE, '.docker-volume-sftp');
/** Creates mostly agree on options (so they publish and race); some differ (and are overruled). */
const OPTION_SETS = [{ remove: 'delete' }, { remove: 'delete' }, { remove: 'delete', note: 'other' }] as const;
const MARGIN_SECONDS = 5;

/** A record's identity: its creator and creation time. */
function recordIdOf(text: string | undefined): string {
  try {
    const record = JSON.parse(text ?? '') as { createdBy?: { id?: unknown }; createdAt?: unknown };
    return `${String(record.createdBy?.id)}/${String(record.createdAt)}`;
  } catch {
    return 'unreadable';
  }
}

/** Which record a tombstone ends ("creator ID/creation time"), if it says. */
function tombstoneRecord(text: string | undefined): string | undefined {
  try {
    const record = (JSON.parse(text ?? '') as { record?: unknown }).record;
    return typeof record === 'string' ? record : undefined;
  } catch {
    return undefined;
  }
}

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Lets the hosts' code run until it waits on the store again. A few microtask turns carry
 * most continuations to their next request, and cost far less than a turn of the event
 * loop, which is taken only when nothing is pending yet. Either way the order is the same
 * for the same seed: nothing here waits on real time or I/O.
 */
async function settle(pending: readonly unknown[]): Promise<void> {
  for (let turn = 0; turn < 12; turn += 1) await Promise.resolve();
  if (pending.length === 0) await new Promise((resolve) => setImmediate(resolve));
}

export async function simulate(options: SimulationOptions): Promise<SimulationResult> {
  const { seed, hosts: hostCount = 3, names = ['app', 'app.db', 'logs'], actionsPerHost = 6, faultRate = 0.04, leaseTtlSeconds = 30, separateLogins = false, refreshSeconds = 3600 } = options;
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const store = new SimulatedStore();
  const trace: string[] = [];
  const violations: string[] = [];
  /** True time in seconds, for the hosts' own clocks; the server's clock may step away from it. */
  let elapsed = 0;
  const note = (line: string): void => void trace.push(`[${elapsed.toFixed(1)}s] ${line}`);
  const hosts: SimulatedHost[] = [];
  for (let index = 0; index < hostCount; index += 1) {
    const id = `${String(index + 1).repeat(8)}-0000-4000-8000-${String(seed % 1e12).padStart(12, '0')}`;
    const name = `host${String.fromCharCode(65 + index)}`;
    hosts.push(new SimulatedHost({ id, name }, separateLogins ? `user${index}` : 'user', store, leaseTtlSeconds, note, () => elapsed * 1000, { refreshSeconds }));
  }
  const byLogin = (mutation: StoreMutation): string => hosts.find((host) => host.login === mutation.by)?.identity.name ?? mutation.by;

  // A mount is protected while its host renewed its claim within the TTL, by the server's clock
  // (its heartbeat; the previous protocol renewed one lease per volume instead).
  const heartbeatOf = new Map(hosts.map((host) => [host, path.posix.join(CATALOGUE, 'hosts', `${host.identity.id}.json`)]));
  const leaseOf = new Map(hosts.map((host) => [host, new Map(names.map((name) => [name, path.posix.join(CATALOGUE, 'leases', name, `${host.identity.id}.json`)]))]));
  const lastRenewal = (host: SimulatedHost, name: string): number | undefined => store.mtime(heartbeatOf.get(host) ?? '') ?? store.mtime(leaseOf.get(host)?.get(name) ?? '');
  const renewedWithinTtl = (host: SimulatedHost, name: string): boolean => {
    const renewed = lastRenewal(host, name);
    return renewed !== undefined && store.now - renewed < leaseTtlSeconds;
  };
  // A host whose claim lapsed (cut off, or the server's clock stepped past it) while it had a
  // volume mounted may lose that volume to another host's Remove: the protocol's known gap
  // (docs/catalogue-protocol.md, "Fencing"). Its mount is protected again only from its next Mount.
  const lapsed = new Map(hosts.map((host) => [host, new Set<string>()]));
  const noteLapses = (): void => {
    for (const host of hosts) for (const name of host.mounted) if (!renewedWithinTtl(host, name)) lapsed.get(host)?.add(name);
    for (const host of hosts) for (const name of lapsed.get(host) ?? []) if (!host.mounted.has(name)) lapsed.get(host)?.delete(name);
  };
  const liveMounts = (name: string): SimulatedHost[] =>
    hosts.filter((host) => host.mounted.has(name) && lapsed.get(host)?.has(name) !== true && renewedWithinTtl(host, name));
  const violate = (text: string): void => {
    if (violations.length < 5) violations.push(`${text} (after step ${steps})`);
  };
  const records = new Map(names.map((name) => [name, path.posix.join(CATALOGUE, 'volumes', `${name}.json`)]));
  const recordOf = (name: string): string => records.get(name) ?? '';
  const removingDir = path.posix.join(CATALOGUE, 'removing');
  const takenOff = (name: string): boolean =>
    store.names(removingDir).some((file) => file === `${name}.json` || (file.startsWith(`${name}.`) && /^[0-9a-f-]{36}\.json$/.test(file.slice(name.length + 1))));

  const dataDirs = new Map(names.map((name) => [name, path.posix.join(STORE_BASE, name)]));
  const tombstones = new Map(names.map((name) => [name, path.posix.join(CATALOGUE, 'removed', `${name}.json`)]));
  store.onMutation = (mutation) => {
    options.trace?.({ ...mutation, step: steps });
    if (mutation.op === 'write' || mutation.op === 'mkdir' || mutation.op === 'times') return;
    for (const name of names) {
      const data = dataDirs.get(name) ?? '';
      const deletesData = (mutation.op === 'unlink' || mutation.op === 'rmdir') && (mutation.path === data || mutation.path.startsWith(`${data}/`));
      const tombstone = tombstones.get(name);
      const entombs = (mutation.op === 'replace' || mutation.op === 'rename') && mutation.path === tombstone;
      if (!deletesData && !entombs) continue;
      // A tombstone ends one record (it names it): another record of the name mounted meanwhile is not removed by it.
      const ended = entombs ? tombstoneRecord(store.text(mutation.path)) : undefined;
      for (const host of liveMounts(name)) {
        const mountedRecord = host.local.get(name);
        if (ended !== undefined && mountedRecord !== undefined && ended !== `${mountedRecord.createdBy.id}/${mountedRecord.createdAt}`) continue;
        violate(`${byLogin(mutation)} ${deletesData ? `deleted ${mutation.path}` : 'wrote the tombstone'} of ${name} while ${host.identity.name} has it mounted with a live lease`);
      }
    }
  };

  const checkAfterStep = (): void => {
    for (const name of names) {
      if (!hosts.some((host) => host.mounted.has(name))) continue;
      const live = liveMounts(name);
      for (const host of live) {
        if (!store.has(recordOf(name)) && !takenOff(name)) violate(`${host.identity.name} has ${name} mounted but the store has no record of it`);
      }
      const definitions = new Set(live.map((host) => JSON.stringify(host.local.get(name))));
      if (definitions.size > 1) violate(`hosts mount two definitions of ${name}: ${[...definitions].join(' / ')}`);
    }
  };

  const act = async (host: SimulatedHost, what: string, run: () => Promise<string>): Promise<void> => {
    try {
      note(`${host.identity.name} ${what}: ${await run()}`);
    } catch (error) {
      if (!isPluginError(error)) violate(`${host.identity.name} ${what} crashed: ${String((error as Error)?.stack ?? error)}`);
      note(`${host.identity.name} ${what} refused: ${(error as Error).message}`);
    }
  };

  const userScript = async (host: SimulatedHost): Promise<void> => {
    for (let index = 0; index < actionsPerHost; index += 1) {
      const name = pick(names);
      const action = pick(['create', 'create', 'remove', 'remove', 'mount', 'mount', 'unmount', 'write'] as const);
      if (action === 'create') {
        await act(host, `create ${name}`, () =>
          host.create(name, pick(OPTION_SETS)).catch((error: unknown) => {
            if (String((error as Error).message).includes('docker volume rm')) host.retryCreate.add(name);
            throw error;
          }),
        );
      }
      if (action === 'remove') await act(host, `remove ${name}`, () => host.remove(name));
      if (action === 'mount') await act(host, `mount ${name}`, () => host.mount(name));
      if (action === 'unmount') await act(host, `unmount ${name}`, () => host.unmount(name));
      if (action === 'write') await act(host, `write ${name}`, () => host.write(name));
    }
  };
  const backgroundScript = async (host: SimulatedHost): Promise<void> => {
    for (let index = 0; index < Math.ceil(actionsPerHost / 2); index += 1) {
      await act(host, 'renew', () => host.catalogue.renewAll().then(() => 'renewed'));
      await act(host, 'refresh', () => host.catalogue.refresh().then(() => 'refreshed'));
    }
  };

  let steps = 0;
  let faults = true;
  const runUntilDone = async (work: Promise<unknown>): Promise<void> => {
    let done = false;
    void work.finally(() => (done = true));
    let idle = 0;
    while (!done) {
      await settle(store.pending);
      if (store.pending.length === 0) {
        if ((idle += 1) > 50) throw new Error(`simulation stuck at step ${steps} (seed ${seed}): no request pending`);
        continue;
      }
      idle = 0;
      const roll = random();
      if (roll < 0.08 && faults) {
        // Time passes: renewals that are not picked now are slow renewals.
        const seconds = random() * leaseTtlSeconds * 0.2;
        elapsed += seconds;
        store.now += seconds;
        noteLapses();
        continue;
      }
      if (roll < 0.085 && faults) {
        const step = (random() - 0.3) * leaseTtlSeconds;
        store.now += step;
        note(`server clock steps ${step.toFixed(1)} s`);
        noteLapses();
        continue;
      }
      const [operation] = store.pending.splice(Math.floor(random() * store.pending.length), 1);
      if (operation === undefined) continue;
      const faultRoll = random();
      const fault = !faults || faultRoll >= faultRate ? 'none' : faultRoll < faultRate / 2 ? 'before' : 'after';
      steps += 1;
      if (fault !== 'none') note(`fault ${fault}: ${operation.what} by ${operation.host}`);
      if (process.env.SIM_OPS !== undefined) note(`op ${steps} ${operation.host}: ${operation.what}`);
      noteLapses();
      operation.apply(fault);
      checkAfterStep();
    }
  };

  await runUntilDone(Promise.all(hosts.flatMap((host) => [userScript(host), backgroundScript(host)])));
  // Quiet: no faults, every container stops, time passes beyond any lease, every host does
  // its background work: whatever a Remove left half done must be put right by now.
  faults = false;
  for (const host of hosts) for (const name of [...host.mounted]) await runUntilDone(host.unmount(name));
  elapsed += leaseTtlSeconds + MARGIN_SECONDS + 1;
  store.now += leaseTtlSeconds + MARGIN_SECONDS + 1;
  for (const host of hosts) await runUntilDone(act(host, 'renew', () => host.catalogue.renewAll().then(() => 'renewed')));
  for (const host of hosts) await runUntilDone(act(host, 'repair', () => host.catalogue.repair().then(() => 'repaired')));
  // What a failed call told its user to do: run the Remove or the Create again.
  for (const host of hosts) for (const name of host.unfinished) await runUntilDone(act(host, `remove ${name} again`, () => host.remove(name)));
  for (const host of hosts) {
    for (const name of host.retryCreate) {
      await runUntilDone(act(host, `remove ${name} as told`, () => host.remove(name)));
      await runUntilDone(act(host, `create ${name} again`, () => host.create(name, OPTION_SETS[0])));
    }
  }
  for (const host of hosts) await runUntilDone(act(host, 'repair', () => host.catalogue.repair().then(() => 'repaired')));
  // Twice: the first round also tells what a failed call left untold, the second reads it.
  for (let round = 0; round < 2; round += 1) for (const host of hosts) await runUntilDone(act(host, 'refresh', () => host.catalogue.refresh().then(() => 'refreshed')));
  // Hosts converge: each knows exactly the records on the store, as the store has them.
  for (const host of hosts) {
    for (const name of names) {
      const onStore = store.has(recordOf(name)) ? recordIdOf(store.text(recordOf(name))) : 'nothing';
      const entry = host.catalogue.find(name);
      const known = entry === undefined ? 'nothing' : `${entry.createdBy.id}/${entry.createdAt}`;
      if (known !== onStore) violate(`${host.identity.name} does not converge on ${name}: it knows ${known}, the store has ${onStore}`);
    }
  }
  const stranded = store.names(path.posix.join(CATALOGUE, 'removing'));
  if (stranded.length > 0) violate(`left in removing/ when every host is quiet: ${stranded.join(', ')}`);
  for (const name of names) {
    if (store.has(recordOf(name)) && store.kind(path.posix.join(STORE_BASE, name)) !== 'dir') violate(`the record of ${name} is on the store but its directory is not`);
  }
  return { seed, violations, trace, steps };
}
