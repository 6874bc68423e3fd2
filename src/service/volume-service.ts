import type { Backend, StatusMap, VolumeSpec } from '../backends/backend';
import { chooseBackend } from '../backends/choose-backend';
import type { BackendRegistry } from '../backends/registry';
import { describe, PluginError } from '../errors';
import type { Logger } from '../log';
import { checkOptions, type VolumeOptions } from '../options/schema';
import type { StateJournal } from '../state/state-journal';
import { emptyMounts, mountCount, type VolumeRecord } from '../state/volume-record';
import { pathUnder } from '../system/paths';
import { KeyedMutex } from './keyed-mutex';
import { checkVolumeName } from './volume-name';

export interface VolumeSummary {
  name: string;
  /** Only for mounted volumes: the engine asks Path for the others when it needs one. */
  mountpoint?: string;
}

export interface VolumeDetails {
  name: string;
  mountpoint: string;
  createdAt: string;
  status: StatusMap & { backend: string; mounts: number };
}

export interface VolumeServiceDeps {
  volumes: Map<string, VolumeRecord>;
  journal: StateJournal;
  backends: BackendRegistry;
  mountRoot: string;
  hasDefaultStore: boolean;
  log: Logger;
}

/**
 * Names, options, mount IDs, locking and state. Every change is saved before the call
 * returns; a change that cannot be saved is undone in memory and reported. Reads answer
 * from memory and never wait for a backend.
 */
export class VolumeService {
  private readonly lock = new KeyedMutex();
  private changes = 0;
  private readonly volumes: Map<string, VolumeRecord>;

  constructor(private readonly deps: VolumeServiceDeps) {
    this.volumes = deps.volumes;
  }

  create(rawName: unknown, options: VolumeOptions): Promise<void> {
    const name = checkVolumeName(rawName);
    return this.lock.run(name, async () => {
      const existing = this.volumes.get(name);
      if (existing !== undefined && sameOptions(existing.options, options)) return;
      const kind = chooseBackend(options, this.deps.hasDefaultStore);
      const backend = this.backend(kind);
      checkOptions(kind, backend.options, options, backend.refused);
      if (existing !== undefined) {
        throw new PluginError(
          'CONFLICT',
          `volume ${name} already exists with other options (${formatOptions(existing.options)}); ` +
            `remove it first, or create it with the same options`,
        );
      }
      const spec = this.spec(name, options);
      backend.checkSpec(spec);
      const undo = await backend.create(spec);
      const record: VolumeRecord = { name, backend: kind, options: { ...options }, createdAt: new Date().toISOString(), mounts: emptyMounts() };
      this.volumes.set(name, record);
      this.changes += 1;
      try {
        await this.deps.journal.put(record);
      } catch (error) {
        this.volumes.delete(name);
        this.changes += 1;
        await undo().catch((undoError) => this.deps.log.error('could not undo a failed create', { volume: name, error: describe(undoError) }));
        throw error;
      }
    });
  }

  remove(rawName: unknown): Promise<void> {
    const name = checkVolumeName(rawName);
    return this.lock.run(name, async () => {
      const record = this.record(name);
      const count = mountCount(record);
      if (count > 0) {
        const ids = Object.keys(record.mounts).length;
        throw new PluginError(
          'IN_USE',
          `volume ${name} is in use: ${count} mount${count === 1 ? '' : 's'} (${ids} mount ID${ids === 1 ? '' : 's'}) hold it; ` +
            `stop and remove the containers that use it first`,
        );
      }
      await this.backend(record.backend).remove(this.spec(name, record.options));
      this.volumes.delete(name);
      this.changes += 1;
      try {
        await this.deps.journal.remove(name);
      } catch (error) {
        this.volumes.set(name, record);
        this.changes += 1;
        throw error;
      }
    });
  }

  mount(rawName: unknown, id: string): Promise<string> {
    const name = checkVolumeName(rawName);
    return this.lock.run(name, async () => {
      const record = this.record(name);
      const spec = this.spec(name, record.options);
      const backend = this.backend(record.backend);
      // Always asked, not only on the first ID: the backend heals a mount that died.
      await backend.mount(spec);
      record.mounts[id] = (record.mounts[id] ?? 0) + 1;
      this.changes += 1;
      try {
        await this.deps.journal.put(record);
      } catch (error) {
        release(record, id);
        this.changes += 1;
        if (mountCount(record) === 0) await backend.unmount(spec).catch(() => undefined);
        throw error;
      }
      return spec.mountpoint;
    });
  }

  unmount(rawName: unknown, id: string): Promise<void> {
    const name = checkVolumeName(rawName);
    return this.lock.run(name, async () => {
      const record = this.record(name);
      if (record.mounts[id] === undefined) {
        throw new PluginError('NOT_MOUNTED', `volume ${name} has no mount with ID ${id}; nothing was unmounted`);
      }
      release(record, id);
      this.changes += 1;
      try {
        await this.deps.journal.put(record);
      } catch (error) {
        record.mounts[id] = (record.mounts[id] ?? 0) + 1;
        this.changes += 1;
        throw error;
      }
      if (mountCount(record) === 0) await this.backend(record.backend).unmount(this.spec(name, record.options));
    });
  }

  path(rawName: unknown): string {
    const name = checkVolumeName(rawName);
    this.record(name);
    return this.mountpoint(name);
  }

  get(rawName: unknown): VolumeDetails {
    const record = this.record(checkVolumeName(rawName));
    const spec = this.spec(record.name, record.options);
    return {
      name: record.name,
      mountpoint: spec.mountpoint,
      createdAt: record.createdAt,
      status: {
        ...this.backend(record.backend).status(spec),
        backend: record.backend,
        mounts: mountCount(record),
        options: formatOptions(record.options),
      },
    };
  }

  list(): VolumeSummary[] {
    return [...this.volumes.values()].map((record) =>
      mountCount(record) > 0 ? { name: record.name, mountpoint: this.mountpoint(record.name) } : { name: record.name },
    );
  }

  /** Changes whenever what List answers may change, so replies can be cached by it. */
  get generation(): number {
    return this.changes;
  }

  /**
   * After a start: lets each backend detach what a dead process left and remount volumes
   * whose mount IDs are still held. Runs under each volume's lock, so a call on a volume
   * waits for its recovery; failures are logged and retried by the next Mount.
   */
  async recover(): Promise<void> {
    await Promise.all(
      [...this.volumes.values()].map((record) =>
        this.lock.run(record.name, async () => {
          try {
            await this.backend(record.backend).recover(this.spec(record.name, record.options), mountCount(record) > 0);
          } catch (error) {
            this.deps.log.warn('recovery failed', { volume: record.name, error: describe(error) });
          }
        }),
      ),
    );
  }

  /** Waits until every call accepted so far has finished and its state is on disk. */
  async drain(): Promise<void> {
    await this.lock.idle();
    await this.deps.journal.flush();
  }

  private record(name: string): VolumeRecord {
    const record = this.volumes.get(name);
    if (record === undefined) throw new PluginError('NOT_FOUND', `no such volume: ${name}`);
    return record;
  }

  private backend(kind: VolumeRecord['backend']): Backend {
    const backend = this.deps.backends.get(kind);
    if (backend === undefined) throw new PluginError('BAD_OPTION', `the ${kind} backend is not available in this plugin`);
    return backend;
  }

  private mountpoint(name: string): string {
    return pathUnder(this.deps.mountRoot, name);
  }

  private spec(name: string, options: VolumeOptions): VolumeSpec {
    return { name, options, mountpoint: this.mountpoint(name) };
  }
}

function release(record: VolumeRecord, id: string): void {
  const count = record.mounts[id] ?? 0;
  if (count <= 1) delete record.mounts[id];
  else record.mounts[id] = count - 1;
}

function sameOptions(a: VolumeOptions, b: VolumeOptions): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && a[key] === b[key]);
}

const formatOptions = (options: VolumeOptions): string =>
  Object.keys(options).length === 0
    ? 'none'
    : Object.entries(options)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([key, value]) => `${key}=${value}`)
        .join(',');
