import type { Backend, StatusMap, VolumeSpec } from '../backends/backend';
import { chooseBackend } from '../backends/choose-backend';
import type { BackendRegistry } from '../backends/registry';
import { describe, isPluginError, PluginError } from '../errors';
import type { Logger } from '../log';
import { checkOptions, type VolumeOptions } from '../options/schema';
import type { StateJournal } from '../state/state-journal';
import { emptyMounts, mountCount, type VolumeRecord } from '../state/volume-record';
import { pathUnder } from '../system/paths';
import { KeyedMutex } from './keyed-mutex';
import type { SharedCatalogue } from './shared-catalogue';
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
  /** The default store's catalogue, when the plugin has a default store. */
  catalogue?: SharedCatalogue | undefined;
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
  /** Volumes with no mount ID whose backend mount is kept for a while (idleUnmountSeconds). */
  private readonly idle = new Map<string, NodeJS.Timeout>();
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
      const catalogue = this.shared(kind, options);
      const listed = catalogue?.find(name);
      if (listed !== undefined && !sameOptions(listed.options, options)) throw storeConflict(listed);
      const spec = this.spec(name, options, kind);
      backend.checkSpec(spec);
      const undoCreate = await backend.create(spec);
      let createdAt = new Date().toISOString();
      let undo = undoCreate;
      if (catalogue !== undefined) {
        try {
          const holder = await catalogue.publish({ name, options: { ...options }, createdAt, createdBy: catalogue.host });
          // Two hosts creating one name: the loser gets the same volume, or an error. The
          // directory on the server is the winner's now, even if this host made it.
          if (!sameOptions(holder.options, options)) {
            await undoCreate({ keepRemoteData: true });
            throw storeConflict(holder);
          }
          if (holder.createdBy.id === catalogue.host.id) undo = async () => (await catalogue.withdraw(name), await undoCreate());
          createdAt = holder.createdAt;
        } catch (error) {
          if (!isPluginError(error) || error.code !== 'CONFLICT') {
            await undoCreate().catch((undoError) => this.deps.log.error('could not undo a failed create', { volume: name, error: describe(undoError) }));
          }
          throw error;
        }
      }
      try {
        await this.insert({ name, backend: kind, options: { ...options }, createdAt, mounts: emptyMounts() });
      } catch (error) {
        await undo().catch((undoError) => this.deps.log.error('could not undo a failed create', { volume: name, error: describe(undoError) }));
        throw error;
      }
    });
  }

  remove(rawName: unknown): Promise<void> {
    const name = checkVolumeName(rawName);
    return this.lock.run(name, async () => {
      const record = this.volumes.get(name) ?? this.fromCatalogue(name);
      const count = mountCount(record);
      if (count > 0) {
        const ids = Object.keys(record.mounts).length;
        throw new PluginError(
          'IN_USE',
          `volume ${name} is in use: ${count} mount${count === 1 ? '' : 's'} (${ids} mount ID${ids === 1 ? '' : 's'}) hold it; ` +
            `stop and remove the containers that use it first`,
        );
      }
      const catalogue = this.shared(record.backend, record.options);
      await catalogue?.checkRemovable(name);
      await this.releaseIdle(name);
      await this.backend(record.backend).remove(this.spec(name, record.options, record.backend));
      await catalogue?.withdraw(name);
      if (!this.volumes.has(name)) return;
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
      const record = this.volumes.get(name) ?? (await this.adopt(name));
      const spec = this.spec(name, record.options, record.backend);
      const backend = this.backend(record.backend);
      const first = mountCount(record) === 0;
      this.cancelIdleRelease(name);
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
      if (first) await this.shared(record.backend, record.options)?.hold(name);
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
      if (mountCount(record) === 0) {
        this.shared(record.backend, record.options)?.release(name);
        const backend = this.backend(record.backend);
        const idleSeconds = backend.idleUnmountSeconds ?? 0;
        if (idleSeconds > 0) this.idleFor(name, idleSeconds);
        else await backend.unmount(this.spec(name, record.options, record.backend));
      }
    });
  }

  /** At shutdown: no container uses an idle mount, so none is left behind. */
  async releaseIdleMounts(): Promise<void> {
    await Promise.all([...this.idle.keys()].map((name) => this.lock.run(name, () => this.releaseIdle(name))));
  }

  private idleFor(name: string, seconds: number): void {
    this.cancelIdleRelease(name);
    const timer = setTimeout(() => void this.lock.run(name, () => this.releaseIdle(name, timer)), seconds * 1000);
    timer.unref();
    this.idle.set(name, timer);
  }

  /** A Mount during the idle time keeps the live backend mount. */
  private cancelIdleRelease(name: string): void {
    clearTimeout(this.idle.get(name));
    this.idle.delete(name);
  }

  /** Under the volume's lock: unmounts an idle backend mount, if nothing mounted it since. */
  private async releaseIdle(name: string, timer?: NodeJS.Timeout): Promise<void> {
    const pending = this.idle.get(name);
    if (pending === undefined || (timer !== undefined && timer !== pending)) return;
    this.cancelIdleRelease(name);
    const record = this.volumes.get(name);
    if (record === undefined || mountCount(record) > 0) return;
    try {
      await this.backend(record.backend).unmount(this.spec(name, record.options, record.backend));
    } catch (error) {
      this.deps.log.warn('idle mount not released', { volume: name, error: describe(error) });
    }
  }

  path(rawName: unknown): string {
    const name = checkVolumeName(rawName);
    return this.mountpoint(name, this.known(name).backend);
  }

  get(rawName: unknown): VolumeDetails {
    const record = this.known(checkVolumeName(rawName));
    const spec = this.spec(record.name, record.options, record.backend);
    const catalogue = this.shared(record.backend, record.options);
    const age = catalogue?.ageSeconds();
    return {
      name: record.name,
      mountpoint: spec.mountpoint,
      createdAt: record.createdAt,
      status: {
        ...this.backend(record.backend).status(spec),
        backend: record.backend,
        mounts: mountCount(record),
        options: formatOptions(record.options),
        ...(catalogue === undefined ? {} : { catalogue: age === undefined ? 'not read from the store yet' : `read from the store ${age} s ago` }),
        ...(catalogue?.find(record.name) === undefined ? {} : { createdBy: catalogue.find(record.name)?.createdBy.name ?? '' }),
      },
    };
  }

  /** This host's volumes, and every volume of the default store's catalogue. */
  list(): VolumeSummary[] {
    const summaries = [...this.volumes.values()].map((record): VolumeSummary =>
      mountCount(record) > 0 ? { name: record.name, mountpoint: this.mountpoint(record.name, record.backend) } : { name: record.name },
    );
    for (const name of this.deps.catalogue?.names() ?? []) if (!this.volumes.has(name)) summaries.push({ name });
    return summaries;
  }

  /**
   * Another host removed a volume from the store: forget it here too, unless it is
   * mounted here (its containers keep it until they stop). Data is never touched.
   */
  forgetRemovedElsewhere(name: string): Promise<void> {
    return this.lock.run(name, async () => {
      const record = this.volumes.get(name);
      if (record === undefined || this.shared(record.backend, record.options) === undefined || mountCount(record) > 0) return;
      if (this.deps.catalogue?.find(name) !== undefined) return;
      await this.releaseIdle(name);
      this.volumes.delete(name);
      this.changes += 1;
      await this.deps.journal.remove(name);
      this.deps.log.info('volume removed on another host; forgotten here', { volume: name });
    });
  }

  /** Changes whenever what List answers may change (calls here, or the store's catalogue). */
  get generation(): string {
    return `${this.changes}/${this.deps.catalogue?.revision ?? 0}`;
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
            const held = mountCount(record) > 0;
            await this.backend(record.backend).recover(this.spec(record.name, record.options, record.backend), held);
            if (held) await this.shared(record.backend, record.options)?.hold(record.name);
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

  /** A volume of this host, or one of the store's catalogue seen as a record (not saved). */
  private known(name: string): VolumeRecord {
    return this.volumes.get(name) ?? this.fromCatalogue(name);
  }

  private fromCatalogue(name: string): VolumeRecord {
    const entry = this.deps.catalogue?.find(name);
    if (entry === undefined) return this.record(name);
    return { name, backend: 'sftp', options: entry.options, createdAt: entry.createdAt, mounts: emptyMounts() };
  }

  /** A volume created on another host becomes this host's on its first Mount here. */
  private async adopt(name: string): Promise<VolumeRecord> {
    const record = this.fromCatalogue(name);
    await this.insert(record);
    this.deps.log.info('adopted a volume from the store catalogue', { volume: name });
    return record;
  }

  /** Adds a record and saves it; if it cannot be saved, it was never added. */
  private async insert(record: VolumeRecord): Promise<void> {
    this.volumes.set(record.name, record);
    this.changes += 1;
    try {
      await this.deps.journal.put(record);
    } catch (error) {
      this.volumes.delete(record.name);
      this.changes += 1;
      throw error;
    }
  }

  /** The catalogue, when this volume is one of the store's. */
  private shared(kind: VolumeRecord['backend'], options: VolumeOptions): SharedCatalogue | undefined {
    const catalogue = this.deps.catalogue;
    return catalogue !== undefined && catalogue.covers(kind, options) ? catalogue : undefined;
  }

  private backend(kind: VolumeRecord['backend']): Backend {
    const backend = this.deps.backends.get(kind);
    if (backend === undefined) throw new PluginError('BAD_OPTION', `the ${kind} backend is not available in this plugin`);
    return backend;
  }

  private mountpoint(name: string, kind: VolumeRecord['backend']): string {
    return this.deps.backends.get(kind)?.mountpointOf?.(name) ?? pathUnder(this.deps.mountRoot, name);
  }

  private spec(name: string, options: VolumeOptions, kind: VolumeRecord['backend']): VolumeSpec {
    return { name, options, mountpoint: this.mountpoint(name, kind) };
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

const storeConflict = (holder: { name: string; options: VolumeOptions; createdBy: { name: string } }): PluginError =>
  new PluginError(
    'CONFLICT',
    `volume ${holder.name} already exists on the store, created by host ${holder.createdBy.name} with options (${formatOptions(holder.options)}); ` +
      `use those options, or another name`,
  );

const formatOptions = (options: VolumeOptions): string =>
  Object.keys(options).length === 0
    ? 'none'
    : Object.entries(options)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([key, value]) => `${key}=${value}`)
        .join(',');
