import type { Backend, SharedCatalogue, StoreLookup, VolumeSpec } from '../backends/backend';
import type { BackendRegistry } from '../backends/registry';
import { PluginError } from '../errors';
import { emptyMounts, type VolumeRecord } from '../state/volume-record';
import { pathUnder } from '../system/paths';

/**
 * What the service asks of the backends about one volume: which backend, what spec, which
 * shared catalogue holds it. Backends are found by the kind a record names, never by name.
 */
export class VolumeBackends {
  constructor(
    private readonly registry: BackendRegistry,
    private readonly mountRoot: string,
  ) {}

  all(): readonly Backend[] {
    return this.registry.all();
  }

  of(record: Pick<VolumeRecord, 'backend'>): Backend {
    const backend = this.registry.get(record.backend);
    if (backend === undefined) throw new PluginError('BAD_OPTION', `the ${record.backend} backend is not available in this plugin`);
    return backend;
  }

  spec(record: Pick<VolumeRecord, 'name' | 'options' | 'backend'>): VolumeSpec {
    return { name: record.name, options: record.options, mountpoint: this.mountpoint(record) };
  }

  mountpoint(record: Pick<VolumeRecord, 'name' | 'backend'>): string {
    return this.registry.get(record.backend)?.mountpointOf?.(record.name) ?? pathUnder(this.mountRoot, record.name);
  }

  /** The catalogue shared with other hosts that holds this volume, if one does. */
  shared(record: Pick<VolumeRecord, 'options' | 'backend'>): SharedCatalogue | undefined {
    const catalogue = this.registry.get(record.backend)?.catalogue;
    return catalogue?.covers(record.options) === true ? catalogue : undefined;
  }

  /** A volume another host put in a shared catalogue, seen as a record (not saved). */
  fromCatalogues(name: string): VolumeRecord | undefined {
    for (const { backend, catalogue } of this.registry.catalogues()) {
      const entry = catalogue.find(name);
      if (entry !== undefined) return { name, backend: backend.kind, options: entry.options, createdAt: entry.createdAt, mounts: emptyMounts() };
    }
    return undefined;
  }

  /** Asks every shared catalogue's store for a name none has in memory: a record, who removed it, or nothing. */
  async findOnStores(name: string): Promise<VolumeRecord | { removed: NonNullable<StoreLookup['removed']> } | undefined> {
    let removed: StoreLookup['removed'];
    for (const { backend, catalogue } of this.registry.catalogues()) {
      const found = await catalogue.findOnStore(name);
      if (found.entry !== undefined) return { name, backend: backend.kind, options: found.entry.options, createdAt: found.entry.createdAt, mounts: emptyMounts() };
      removed ??= found.removed;
    }
    return removed === undefined ? undefined : { removed };
  }

  catalogues(): SharedCatalogue[] {
    return this.registry.catalogues().map(({ catalogue }) => catalogue);
  }

  /** Moves whenever a shared catalogue's set of names changes. */
  get revision(): string {
    return this.catalogues()
      .map((catalogue) => catalogue.revision)
      .join('/');
  }
}
