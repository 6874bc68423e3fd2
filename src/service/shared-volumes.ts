import type { CatalogueEntry } from '../backends/backend';
import type { KeyedMutex } from '../common/keyed-mutex';
import { describe, isPluginError } from '../errors';
import type { Logger } from '../log';
import type { VolumeOptions } from '../options/schema';
import { isMounted, type VolumeRecord } from '../state/volume-record';
import type { IdleReleases } from './idle-release';
import type { VolumeBackends } from './volume-backends';
import type { VolumeTable } from './volume-table';
import { formatOptions } from './volume-views';

/**
 * This host's side of the catalogues shared with other hosts: their background work,
 * volumes other hosts removed, leases after a restart, and the rule that a shared
 * definition wins over the options of a later Create (docs/catalogue-protocol.md).
 */
export class SharedVolumes {
  constructor(
    private readonly lock: KeyedMutex,
    private readonly table: VolumeTable,
    private readonly backends: VolumeBackends,
    private readonly idle: IdleReleases,
    private readonly log: Logger,
  ) {}

  start(): void {
    for (const catalogue of this.backends.catalogues()) {
      catalogue.start((name) => {
        this.forgetRemovedElsewhere(name).catch((error: unknown) =>
          this.log.warn('a volume removed on another host could not be forgotten here', { volume: name, error: describe(error) }),
        );
      });
    }
  }

  stop(): void {
    for (const catalogue of this.backends.catalogues()) catalogue.stop();
  }

  /**
   * Another host removed a volume from a shared catalogue: forget it here too, unless it
   * is mounted here (its containers keep it until they stop). Data is never touched.
   */
  forgetRemovedElsewhere(name: string): Promise<void> {
    return this.lock.run(name, async () => {
      const record = this.table.get(name);
      const catalogue = record === undefined ? undefined : this.backends.shared(record);
      if (record === undefined || catalogue === undefined || isMounted(record) || catalogue.find(name) !== undefined) return;
      await this.idle.release(name);
      await this.table.delete(name);
      this.log.info('volume removed on another host; forgotten here', { volume: name });
    });
  }

  /** Containers here still use the volume: its lease is kept, even while the store is down. */
  async holdAfterRestart(record: VolumeRecord): Promise<void> {
    const catalogue = this.backends.shared(record);
    try {
      await catalogue?.hold(record.name, record.createdAt);
    } catch (error) {
      if (isPluginError(error) && error.code === 'REMOTE_UNREACHABLE') catalogue?.keep(record.name);
      this.log.warn('lease not taken at start', { volume: record.name, error: describe(error) });
    }
  }

  /** A Create of a volume this host has, with other options: the shared definition stays. */
  async overrule(existing: VolumeRecord, asked: VolumeOptions): Promise<void> {
    this.warnOverruled(existing.name, asked, existing.options);
    const previous = existing.ignoredOptions;
    await this.table.update(
      existing,
      () => (existing.ignoredOptions = { ...asked }),
      () => (previous === undefined ? delete existing.ignoredOptions : (existing.ignoredOptions = previous)),
    );
  }

  /** A Create of a volume another host defined with other options: this host takes that definition. */
  async adoptOverruling(entry: CatalogueEntry, record: VolumeRecord, asked: VolumeOptions): Promise<void> {
    this.warnOverruled(entry.name, asked, entry.options, entry.createdBy.name);
    await this.table.insert({ ...record, options: entry.options, createdAt: entry.createdAt, ignoredOptions: { ...asked } });
  }

  private warnOverruled(name: string, asked: VolumeOptions, used: VolumeOptions, createdBy?: string): void {
    this.log.warn('create options differ from the store catalogue; its definition is used', {
      volume: name,
      asked: formatOptions(asked),
      used: formatOptions(used),
      createdBy,
    });
  }
}
