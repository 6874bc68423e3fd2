import { checkVolumeName } from '../common/volume-name';
import { PluginError } from '../errors';
import type { VolumeOptions } from '../options/schema';
import { isMounted, mountCount, type VolumeRecord } from '../state/volume-record';
import type { VolumeBackends } from './volume-backends';
import type { VolumeDetails, VolumeSummary } from './volume-driver';
import type { VolumeTable } from './volume-table';

/**
 * What Get, List and Path answer: this host's volumes and those of shared catalogues,
 * from memory only. The engine deletes a volume whose Get fails after a restart, so none
 * of these waits for a server.
 */
export class VolumeViews {
  constructor(
    private readonly table: VolumeTable,
    private readonly backends: VolumeBackends,
  ) {}

  /**
   * A volume of this host, or one of a shared catalogue seen as a record (not saved). A
   * name neither knows is looked up on the stores at once (bounded), so a volume another
   * host created a moment ago is found: the engine would otherwise make a local-driver
   * volume of that name.
   */
  async requireRecord(name: string): Promise<VolumeRecord> {
    const record = this.table.get(name) ?? this.backends.fromCatalogues(name) ?? (await this.backends.findOnStores(name));
    if (record !== undefined && !('removed' in record)) return record;
    const removed = record?.removed;
    throw new PluginError(
      'NOT_FOUND',
      removed === undefined ? `no such volume: ${name}` : `no such volume: ${name} was removed by host ${removed.by.name} at ${removed.at}; create it again to use it`,
    );
  }

  async path(rawName: unknown): Promise<string> {
    return this.backends.mountpoint(await this.requireRecord(checkVolumeName(rawName)));
  }

  async get(rawName: unknown): Promise<VolumeDetails> {
    const record = await this.requireRecord(checkVolumeName(rawName));
    const spec = this.backends.spec(record);
    const catalogue = this.backends.shared(record);
    const age = catalogue?.ageSeconds();
    const createdBy = catalogue?.find(record.name)?.createdBy.name;
    return {
      name: record.name,
      mountpoint: spec.mountpoint,
      createdAt: record.createdAt,
      status: {
        ...this.backends.of(record).status(spec),
        backend: record.backend,
        mounts: mountCount(record),
        options: formatOptions(record.options),
        ...(record.ignoredOptions === undefined ? {} : { ignoredOptions: `${formatOptions(record.ignoredOptions)} (the store's definition is used)` }),
        ...(catalogue === undefined ? {} : { catalogue: age === undefined ? 'not read from the store yet' : `read from the store ${age} s ago` }),
        ...storeProblem(catalogue?.health()),
        ...(createdBy === undefined ? {} : { createdBy }),
      },
    };
  }

  /** This host's volumes, and every volume of the shared catalogues. */
  list(): VolumeSummary[] {
    const summaries = [...this.table.values()].map((record): VolumeSummary =>
      isMounted(record) ? { name: record.name, mountpoint: this.backends.mountpoint(record) } : { name: record.name },
    );
    for (const catalogue of this.backends.catalogues()) {
      for (const name of catalogue.names()) if (!this.table.has(name)) summaries.push({ name });
    }
    return summaries;
  }
}

/** Options as `docker volume inspect` shows them in Status, and messages name them. */
export const formatOptions = (options: VolumeOptions): string =>
  Object.keys(options).length === 0
    ? 'none'
    : Object.entries(options)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([key, value]) => `${key}=${value}`)
        .join(',');

/** What the store's catalogue says is wrong (unreachable, this host's heartbeat late), if anything. */
const storeProblem = (problem: string | undefined): { storeProblem?: string } => (problem === undefined ? {} : { storeProblem: problem });
