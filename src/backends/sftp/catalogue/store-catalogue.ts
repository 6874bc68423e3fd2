import fs from 'node:fs/promises';
import { KeyedMutex } from '../../../common/keyed-mutex';
import { describe, PluginError } from '../../../errors';
import type { Logger } from '../../../log';
import type { VolumeOptions } from '../../../options/schema';
import { writeFileAtomic } from '../../../system/atomic-write';
import type { CatalogueEntry, HostIdentity, SharedCatalogue, StoreLookup, Withdrawal } from '../../backend';
import type { CatalogueRemote, ListedEntry } from './catalogue-remote';
import type { Tombstone } from './catalogue-records';

export interface StoreCatalogueOptions {
  remote: CatalogueRemote;
  /** Which volumes live on this store and so belong in its catalogue. */
  covers: (options: VolumeOptions) => boolean;
  host: HostIdentity;
  /** Local copy of the catalogue, so Get and List answer at once, also after a restart; none in the simulation. */
  cacheFile: string | undefined;
  leaseTtlSeconds: number;
  /** Seconds between full reads of the catalogue, whether or not the change marker moved. */
  refreshSeconds: number;
  log: Logger;
  /** This host's clock in ms (Date.now); the simulation gives its own. */
  clock?: () => number;
}

interface CacheFile {
  refreshedAt: number;
  entries: CatalogueEntry[];
}

/** How often the change marker is read: creates and removals show within this, plus a read. */
const POLL_MS = 1000;
/** A lookup of an unknown name waits at most this long; then the local copy answers. */
const LOOKUP_BOUND_MS = 1000;
/** "Not on the store" is believed this long: the engine asks every driver for every name. */
const NEGATIVE_MS = 1000;
const MAX_NEGATIVE = 10_000;

/**
 * The default store's catalogue as this host sees it: an in-memory copy kept current by
 * polling the store's change marker each second, saved locally, plus this host's leases on
 * the volumes it has mounted. The rules for Remove and Mount racing across hosts are in
 * docs/catalogue-protocol.md.
 */
export class StoreCatalogue implements SharedCatalogue {
  private entries = new Map<string, ListedEntry>();
  private refreshedAt: number | undefined;
  /** Volumes this host has mounted: their leases are renewed. */
  private readonly held = new Set<string>();
  /** One lease operation per volume at a time: a renewal never re-creates a dropped lease. */
  private readonly leases = new KeyedMutex();
  private readonly absent = new Map<string, number>();
  private readonly removed = new Map<string, Tombstone>();
  private timers: NodeJS.Timeout[] = [];
  private refreshing: Promise<void> | undefined;
  private lastStamp: string | undefined;
  private lastFullRead = 0;
  private namesRevision = 0;
  /** Called for names that were in the catalogue and are gone: another host removed them. */
  private removedElsewhere: (name: string) => void = () => undefined;

  readonly covers: (options: VolumeOptions) => boolean;

  constructor(private readonly options: StoreCatalogueOptions) {
    this.covers = options.covers;
  }

  get host(): HostIdentity {
    return this.options.host;
  }

  get revision(): number {
    return this.namesRevision;
  }

  async load(): Promise<void> {
    if (this.options.cacheFile === undefined) return;
    try {
      const cache = JSON.parse(await fs.readFile(this.options.cacheFile, 'utf8')) as CacheFile;
      this.entries = new Map(cache.entries.map((entry) => [entry.name, { entry, stamp: '' }]));
      this.refreshedAt = cache.refreshedAt;
    } catch (error) {
      // A cache: missing or unreadable means it is rebuilt by the first refresh.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.options.log.warn('catalogue cache ignored', { error: describe(error) });
    }
  }

  /** Who hears of names another host withdrew (the service forgets them unless mounted). */
  onRemovedElsewhere(removedElsewhere: (name: string) => void): void {
    this.removedElsewhere = removedElsewhere;
  }

  start(removedElsewhere: (name: string) => void): void {
    this.onRemovedElsewhere(removedElsewhere);
    void this.refresh();
    const poll = setInterval(() => void this.refresh(), POLL_MS);
    const renew = setInterval(() => void this.renewAll(), (this.options.leaseTtlSeconds * 1000) / 3);
    poll.unref();
    renew.unref();
    this.timers = [poll, renew];
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
  }

  find(name: string): CatalogueEntry | undefined {
    return this.entries.get(name)?.entry;
  }

  names(): IterableIterator<string> {
    return this.entries.keys();
  }

  ageSeconds(): number | undefined {
    return this.refreshedAt === undefined ? undefined : Math.round((Date.now() - this.refreshedAt) / 100) / 10;
  }

  /** Reads the change marker (one request), and the whole catalogue when it moved or is due. */
  refresh(): Promise<void> {
    this.refreshing ??= this.readStore().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /**
   * A name this host does not know, looked up on the store at once: the engine makes a
   * local-driver volume of a name no driver knows. Bounded: a slow or hung store gets
   * LOOKUP_BOUND_MS, then the local copy answers.
   */
  async findOnStore(name: string): Promise<StoreLookup> {
    const absentSince = this.absent.get(name);
    if (absentSince !== undefined && Date.now() - absentSince < NEGATIVE_MS) return this.removedNote(name);
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), LOOKUP_BOUND_MS)));
    const asked = this.options.remote.readName(name).catch((error: unknown) => {
      this.options.log.debug('lookup on the store failed; the local copy answers', { volume: name, error: describe(error) });
      return undefined;
    });
    const found = await Promise.race([asked, bound]);
    clearTimeout(timer);
    if (found?.entry !== undefined) {
      this.learn(found.entry);
      return { entry: found.entry };
    }
    if (found?.removed !== undefined) this.removed.set(name, found.removed);
    if (this.absent.size >= MAX_NEGATIVE) this.absent.clear();
    this.absent.set(name, Date.now());
    return this.removedNote(name);
  }

  async publish(entry: CatalogueEntry): Promise<CatalogueEntry> {
    const holder = await this.options.remote.publish(entry);
    this.learn(holder);
    return holder;
  }

  /**
   * Takes the record off the store first, then reads the leases: a host that writes its
   * lease after that finds no record and fails its Mount; one that wrote it before is seen
   * here, and the record goes back.
   */
  async withdraw(name: string): Promise<Withdrawal> {
    let taken;
    try {
      taken = await this.options.remote.takeOff(name);
    } catch (error) {
      throw new PluginError('REMOTE_UNREACHABLE', `cannot withdraw volume ${name} from the store: ${describe(error)}; nothing was removed, try again when the store answers`, { cause: error });
    }
    const live = taken.leases.filter((lease) => lease.ageSeconds < this.options.leaseTtlSeconds);
    const putBack = async (): Promise<void> => {
      if (taken.taken) await this.options.remote.putBack(name);
    };
    if (live.length > 0) {
      await putBack();
      const hosts = live.map((lease) => `${lease.host.name} (host ID ${lease.host.id.slice(0, 8)}, lease renewed ${Math.round(lease.ageSeconds)} s ago)`);
      throw new PluginError('IN_USE', `volume ${name} is mounted on ${hosts.join(', ')}; stop its containers there first. A host that died stops counting ${this.options.leaseTtlSeconds} s after its last renewal`);
    }
    return {
      commit: async () => {
        if (taken.taken) await this.options.remote.finishRemove(name);
        this.forget(name);
        this.held.delete(name);
      },
      undo: putBack,
    };
  }

  /**
   * Takes this host's lease before a first Mount, and proves the volume is still on the
   * store after the lease is written (see withdraw). Renewed until `release`.
   */
  hold(name: string): Promise<void> {
    return this.leases.run(name, async () => {
      let answer;
      try {
        answer = await this.options.remote.renewLease(name);
      } catch (error) {
        throw new PluginError('REMOTE_UNREACHABLE', `cannot take this host's lease on volume ${name} at the store: ${describe(error)}; try again when the store answers`, { cause: error });
      }
      if (answer.present) {
        this.held.add(name);
        return;
      }
      await this.dropLease(name);
      if (answer.removed !== undefined) this.removed.set(name, answer.removed);
      this.forget(name);
      throw new PluginError('NOT_FOUND', `volume ${name} ${removedText(answer.removed)}; create it again to use it`);
    });
  }

  /** Puts right what Removes left half done on the store (nothing yet). */
  async repair(): Promise<void> {
    // Filled in by the protocol's cleanup.
  }

  /** Keeps renewing a lease the store could not take now (at a restart, the store down). */
  keep(name: string): void {
    this.held.add(name);
  }

  /** Drops the lease; never fails (a lease not dropped expires). A Mount meanwhile waits for it. */
  release(name: string): Promise<void> {
    return this.leases.run(name, async () => {
      if (this.held.delete(name)) await this.dropLease(name);
    });
  }

  private async dropLease(name: string): Promise<void> {
    try {
      await this.options.remote.dropLease(name);
    } catch (error) {
      this.options.log.warn('lease not dropped; it expires by itself', { volume: name, error: describe(error) });
    }
  }

  private removedNote(name: string): StoreLookup {
    const tombstone = this.removed.get(name);
    return tombstone === undefined ? {} : { removed: { by: tombstone.removedBy, at: tombstone.removedAt } };
  }

  private learn(entry: CatalogueEntry): void {
    const had = this.entries.has(entry.name);
    this.entries.set(entry.name, { entry, stamp: this.entries.get(entry.name)?.stamp ?? '' });
    this.absent.delete(entry.name);
    if (!had) this.namesRevision += 1;
  }

  private forget(name: string): void {
    if (this.entries.delete(name)) this.namesRevision += 1;
  }

  /** Each renewal under the name's lease lock: a lease released meanwhile is not written again. */
  async renewAll(): Promise<void> {
    for (const name of [...this.held]) {
      await this.leases.run(name, async () => {
        if (!this.held.has(name)) return;
        await this.options.remote.renewLease(name).catch((error: unknown) => this.options.log.debug('lease renewal failed', { volume: name, error: describe(error) }));
      });
    }
  }

  private async readStore(): Promise<void> {
    try {
      const stamp = await this.options.remote.changeStamp();
      const due = Date.now() - this.lastFullRead >= this.options.refreshSeconds * 1000;
      if (stamp === this.lastStamp && !due) {
        this.refreshedAt = Date.now();
        return;
      }
      const previous = this.entries;
      const next = await this.options.remote.list(previous);
      this.entries = next;
      this.lastStamp = stamp;
      this.lastFullRead = Date.now();
      this.refreshedAt = this.lastFullRead;
      if (previous.size !== next.size || [...next.keys()].some((name) => !previous.has(name))) this.namesRevision += 1;
      for (const name of next.keys()) this.absent.delete(name);
      for (const name of previous.keys()) if (!next.has(name)) this.removedElsewhere(name);
      const cache: CacheFile = { refreshedAt: this.refreshedAt, entries: [...next.values()].map((listed) => listed.entry) };
      if (this.options.cacheFile !== undefined) await writeFileAtomic(this.options.cacheFile, JSON.stringify(cache));
    } catch (error) {
      this.options.log.debug('catalogue not refreshed', { error: describe(error) });
    }
  }
}

const removedText = (tombstone: Tombstone | undefined): string =>
  tombstone === undefined ? 'was removed from the store' : `was removed from the store by host ${tombstone.removedBy.name} at ${tombstone.removedAt}`;
