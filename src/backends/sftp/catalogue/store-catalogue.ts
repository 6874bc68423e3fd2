import fs from 'node:fs/promises';
import { describe, PluginError } from '../../../errors';
import type { Logger } from '../../../log';
import type { VolumeOptions } from '../../../options/schema';
import { writeFileAtomic } from '../../../system/atomic-write';
import type { CatalogueEntry, HostIdentity, SharedCatalogue } from '../../backend';
import type { CatalogueRemote, ListedEntry } from './catalogue-remote';

export interface StoreCatalogueOptions {
  remote: CatalogueRemote;
  /** Which volumes live on this store and so belong in its catalogue. */
  covers: (options: VolumeOptions) => boolean;
  host: HostIdentity;
  /** Local copy of the catalogue, so Get and List answer at once, also after a restart. */
  cacheFile: string;
  leaseTtlSeconds: number;
  refreshSeconds: number;
  log: Logger;
}

interface CacheFile {
  refreshedAt: number;
  entries: CatalogueEntry[];
}

/**
 * The default store's catalogue as this host sees it: an in-memory copy refreshed in the
 * background and saved locally, plus this host's leases on the volumes it has mounted.
 */
export class StoreCatalogue implements SharedCatalogue {
  private entries = new Map<string, ListedEntry>();
  private refreshedAt: number | undefined;
  private readonly held = new Set<string>();
  private timers: NodeJS.Timeout[] = [];
  private refreshing: Promise<void> | undefined;
  private namesRevision = 0;
  /** Called for names that were in the catalogue and are gone: another host removed them. */
  private removedElsewhere: (name: string) => void = () => undefined;

  constructor(private readonly options: StoreCatalogueOptions) {}

  get host(): HostIdentity {
    return this.options.host;
  }

  covers(options: VolumeOptions): boolean {
    return this.options.covers(options);
  }

  get revision(): number {
    return this.namesRevision;
  }

  async load(): Promise<void> {
    try {
      const cache = JSON.parse(await fs.readFile(this.options.cacheFile, 'utf8')) as CacheFile;
      this.entries = new Map(cache.entries.map((entry) => [entry.name, { entry, stamp: '' }]));
      this.refreshedAt = cache.refreshedAt;
    } catch (error) {
      // A cache: missing or unreadable means it is rebuilt by the first refresh.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.options.log.warn('catalogue cache ignored', { error: describe(error) });
    }
  }

  start(removedElsewhere: (name: string) => void): void {
    this.removedElsewhere = removedElsewhere;
    void this.refresh();
    const refresh = setInterval(() => void this.refresh(), this.options.refreshSeconds * 1000);
    const renew = setInterval(() => void this.renewAll(), (this.options.leaseTtlSeconds * 1000) / 3);
    refresh.unref();
    renew.unref();
    this.timers = [refresh, renew];
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

  /** Seconds since the catalogue was last read from the store; undefined when never. */
  ageSeconds(): number | undefined {
    return this.refreshedAt === undefined ? undefined : Math.round((Date.now() - this.refreshedAt) / 100) / 10;
  }

  refresh(): Promise<void> {
    this.refreshing ??= this.readStore().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /** Publishes a new volume; returns the record that holds the name (ours or a winner's). */
  async publish(entry: CatalogueEntry): Promise<CatalogueEntry> {
    const holder = await this.options.remote.publish(entry);
    this.entries.set(entry.name, { entry: holder, stamp: '' });
    this.namesRevision += 1;
    return holder;
  }

  async withdraw(name: string): Promise<void> {
    await this.options.remote.withdraw(name);
    this.entries.delete(name);
    this.namesRevision += 1;
    this.held.delete(name);
  }

  /** Refuses while another host holds a live lease, naming it. */
  async checkRemovable(name: string): Promise<void> {
    let leases;
    try {
      leases = await this.options.remote.otherLeases(name);
    } catch (error) {
      throw new PluginError('REMOTE_UNREACHABLE', `cannot check whether other hosts use volume ${name}: ${describe(error)}; nothing was removed, try again when the store answers`, { cause: error });
    }
    const live = leases.filter((lease) => lease.ageSeconds < this.options.leaseTtlSeconds);
    if (live.length > 0) {
      const hosts = live.map((lease) => `${lease.host.name} (host ID ${lease.host.id.slice(0, 8)}, lease renewed ${Math.round(lease.ageSeconds)} s ago)`);
      throw new PluginError('IN_USE', `volume ${name} is mounted on ${hosts.join(', ')}; stop its containers there first. A host that died stops counting ${this.options.leaseTtlSeconds} s after its last renewal`);
    }
  }

  /** Takes a lease for a volume this host has mounted; renewed until released. */
  async hold(name: string): Promise<void> {
    this.held.add(name);
    try {
      await this.options.remote.renewLease(name);
    } catch (error) {
      this.options.log.warn('lease not written; retrying in the background', { volume: name, error: describe(error) });
    }
  }

  release(name: string): void {
    if (!this.held.delete(name)) return;
    this.options.remote.dropLease(name).catch((error: unknown) => this.options.log.warn('lease not dropped; it expires by itself', { volume: name, error: describe(error) }));
  }

  private async renewAll(): Promise<void> {
    for (const name of this.held) {
      await this.options.remote.renewLease(name).catch((error: unknown) => this.options.log.debug('lease renewal failed', { volume: name, error: describe(error) }));
    }
  }

  private async readStore(): Promise<void> {
    try {
      const previous = this.entries;
      const next = await this.options.remote.list(previous);
      this.entries = next;
      this.refreshedAt = Date.now();
      if (previous.size !== next.size || [...next.keys()].some((name) => !previous.has(name))) this.namesRevision += 1;
      for (const name of previous.keys()) if (!next.has(name)) this.removedElsewhere(name);
      const cache: CacheFile = { refreshedAt: this.refreshedAt, entries: [...next.values()].map((listed) => listed.entry) };
      await writeFileAtomic(this.options.cacheFile, JSON.stringify(cache));
    } catch (error) {
      this.options.log.debug('catalogue not refreshed', { error: describe(error) });
    }
  }
}
