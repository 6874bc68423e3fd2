import type { Backend } from '../backends/backend';
import type { BackendRegistry } from '../backends/registry';
import { KeyedMutex } from '../common/keyed-mutex';
import { checkVolumeName } from '../common/volume-name';
import { describe, isPluginError, PluginError } from '../errors';
import type { Logger } from '../log';
import { checkOptions, sameOptions, type VolumeOptions } from '../options/schema';
import { addMount, dropMount, emptyMounts, isMounted, mountCount, type VolumeRecord } from '../state/volume-record';
import { IdleReleases } from './idle-release';
import { SharedVolumes } from './shared-volumes';
import { VolumeBackends } from './volume-backends';
import type { VolumeDetails, VolumeDriver, VolumeSummary } from './volume-driver';
import type { VolumeTable } from './volume-table';
import { formatOptions, VolumeViews } from './volume-views';

export interface VolumeServiceDeps {
  table: VolumeTable;
  registry: BackendRegistry;
  mountRoot: string;
  log: Logger;
  /** How long the engine waits for a Mount (default ENGINE_MOUNT_DEADLINE_MS); tests shorten it. */
  mountDeadlineMs?: number;
  /** The clock deadlines are measured with, in ms (default performance.now). */
  now?: () => number;
}

/**
 * The engine gives up on a Mount after 2 minutes (moby volume/drivers/proxy.go) and then
 * never sends its Unmount. Its clock starts before ours: a few seconds short of that.
 */
export const ENGINE_MOUNT_DEADLINE_MS = 115_000;

/**
 * The commands on volumes: names, options, mount IDs and locking. Calls on one volume run
 * one at a time; every change is saved (VolumeTable) before the call returns. Shared
 * catalogues hear of creates, removals and mounts of the volumes they hold.
 */
export class VolumeService implements VolumeDriver {
  private readonly lock = new KeyedMutex();
  private readonly table: VolumeTable;
  private readonly backends: VolumeBackends;
  private readonly views: VolumeViews;
  private readonly idle: IdleReleases;
  /** The catalogues shared with other hosts: started and stopped by the daemon. */
  readonly sharing: SharedVolumes;
  private readonly log: Logger;
  private readonly mountDeadlineMs: number;
  private readonly now: () => number;
  readonly scope: 'local' | 'global';

  constructor(private readonly deps: VolumeServiceDeps) {
    this.table = deps.table;
    this.log = deps.log;
    this.mountDeadlineMs = deps.mountDeadlineMs ?? ENGINE_MOUNT_DEADLINE_MS;
    this.now = deps.now ?? (() => performance.now());
    this.backends = new VolumeBackends(deps.registry, deps.mountRoot);
    this.views = new VolumeViews(this.table, this.backends);
    this.idle = new IdleReleases(this.lock, this.table, this.backends, deps.log);
    this.sharing = new SharedVolumes(this.lock, this.table, this.backends, this.idle, deps.log);
    this.scope = this.backends.catalogues().length > 0 ? 'global' : 'local';
  }

  create(rawName: unknown, options: VolumeOptions): Promise<void> {
    const name = checkVolumeName(rawName);
    return this.lock.run(name, async () => {
      const existing = this.table.get(name);
      if (existing !== undefined && sameOptions(existing.options, options)) return;
      const backend = this.deps.registry.choose(options);
      checkOptions(backend.kind, backend.options, options, backend.refused);
      const record: VolumeRecord = { name, backend: backend.kind, options: { ...options }, createdAt: new Date().toISOString(), mounts: emptyMounts() };
      const catalogue = this.backends.shared(record);
      if (existing !== undefined) {
        if (catalogue !== undefined && this.backends.shared(existing) === catalogue) return this.sharing.overrule(existing, options);
        throw new PluginError(
          'CONFLICT',
          `volume ${name} already exists with other options (${formatOptions(existing.options)}); remove it first, or create it with the same options`,
        );
      }
      const listed = catalogue === undefined ? undefined : (catalogue.find(name) ?? (await catalogue.findOnStore(name)).entry);
      if (listed !== undefined && !sameOptions(listed.options, options)) return this.sharing.adoptOverruling(listed, record, options);
      const spec = this.backends.spec(record);
      backend.checkSpec(spec);
      // The record before the directory: a Create that finds a Remove of the name still at
      // work is refused before it makes anything (docs/catalogue-protocol.md, "Remove against Create").
      let unpublish = (): Promise<void> => Promise.resolve();
      if (catalogue !== undefined) {
        const holder = listed?.createdBy.id === catalogue.host.id ? listed : await catalogue.publish({ name, options: record.options, createdAt: record.createdAt, createdBy: catalogue.host });
        // Two hosts creating one name: the store's definition wins (docs/catalogue-protocol.md).
        if (!sameOptions(holder.options, options)) return this.sharing.adoptOverruling(holder, record, options);
        // Ours (now, or by a Create of ours that failed half way and is finished now): taken back if this one fails.
        if (holder.createdBy.id === catalogue.host.id) unpublish = () => catalogue.unpublish(holder);
        record.createdAt = holder.createdAt;
      }
      let undoCreate;
      try {
        undoCreate = await backend.create(spec);
      } catch (error) {
        try {
          await unpublish();
        } catch (undoError) {
          throw new PluginError(
            isPluginError(error) ? error.code : 'BACKEND_FAILED',
            `${describe(error)}; the volume's record is left on the store without its directory (${describe(undoError)}): run docker volume rm ${name}, then create it again`,
            { cause: error },
          );
        }
        throw error;
      }
      const undo = async (): Promise<void> => (await unpublish(), await undoCreate());
      try {
        await this.table.insert(record);
      } catch (error) {
        await this.undo(name, undo);
        throw error;
      }
    });
  }

  remove(rawName: unknown): Promise<void> {
    const name = checkVolumeName(rawName);
    return this.lock.run(name, async () => {
      const record = await this.views.requireRecord(name);
      const count = mountCount(record);
      if (count > 0) {
        const ids = Object.keys(record.mounts).length;
        throw new PluginError(
          'IN_USE',
          `volume ${name} is in use: ${count} mount${count === 1 ? '' : 's'} (${ids} mount ID${ids === 1 ? '' : 's'}) hold it; ` +
            `stop and remove the containers that use it first`,
        );
      }
      await this.idle.release(name);
      // Off the store first, so no host can start mounting it meanwhile; back if that fails.
      const withdrawal = await this.backends.shared(record)?.withdraw(name);
      try {
        const spec = this.backends.spec(record);
        // Only the host that took the record off the store deletes its data (remove=delete).
        await this.backends.of(record).remove(withdrawal?.keepData === true ? { ...spec, options: { ...spec.options, remove: 'keep' } } : spec);
      } catch (error) {
        await withdrawal?.undo().catch((undoError: unknown) => this.log.error('could not put the volume back on the store', { volume: name, error: describe(undoError) }));
        if (withdrawal?.committed !== true) throw error;
        // The store says removed already: the data step is finished by the next Remove, not undone.
        throw new PluginError(
          isPluginError(error) ? error.code : 'STORE_FAILED',
          `volume ${name} is removed from the store catalogue, but removing it here failed: ${describe(error)}; run docker volume rm ${name} again on this host to finish`,
          { cause: error },
        );
      }
      await withdrawal?.commit();
      await this.table.delete(name);
    });
  }

  mount(rawName: unknown, id: string): Promise<string> {
    const name = checkVolumeName(rawName);
    const sentAt = this.now();
    return this.lock.run(name, async () => {
      // Its turn came after the engine gave up (earlier calls on the volume were slow).
      this.checkEngineWaits(name, sentAt, 'was not started');
      const record = this.table.get(name) ?? (await this.adopt(name));
      const spec = this.backends.spec(record);
      const backend = this.backends.of(record);
      const first = !isMounted(record);
      const catalogue = this.backends.shared(record);
      // The lease comes before the mount: a Remove on another host then either sees it, or
      // took the record off first and this fails (docs/catalogue-protocol.md).
      if (first) await catalogue?.hold(name, record.createdAt);
      this.idle.cancel(name);
      try {
        // Always asked, not only on the first ID: the backend heals a mount that died.
        await backend.mount(spec, { queuedMs: this.now() - sentAt });
        // Saved late, its ID would be remounted at every start and its lease kept for good.
        this.checkEngineWaits(name, sentAt, 'was undone');
        await this.table.update(record, () => addMount(record, id), () => dropMount(record, id));
      } catch (error) {
        if (first) {
          await catalogue?.release(name);
          await this.unmountQuietly(backend, record);
        }
        throw error;
      }
      return spec.mountpoint;
    });
  }

  unmount(rawName: unknown, id: string): Promise<void> {
    const name = checkVolumeName(rawName);
    return this.lock.run(name, async () => {
      const record = this.table.get(name);
      if (record === undefined) throw new PluginError('NOT_FOUND', `no such volume: ${name}`);
      if (record.mounts[id] === undefined) throw new PluginError('NOT_MOUNTED', `volume ${name} has no mount with ID ${id}; nothing was unmounted`);
      await this.table.update(record, () => dropMount(record, id), () => addMount(record, id));
      if (isMounted(record)) return;
      // In the background: an Unmount does not wait for the store (the lease expires anyway).
      void this.backends.shared(record)?.release(name);
      const backend = this.backends.of(record);
      const idleSeconds = backend.idleUnmountSeconds ?? 0;
      if (idleSeconds > 0) this.idle.schedule(name, idleSeconds);
      else await backend.unmount(this.backends.spec(record));
    });
  }

  path(name: string): Promise<string> {
    return this.views.path(name);
  }

  get(name: string): Promise<VolumeDetails> {
    return this.views.get(name);
  }

  list(): VolumeSummary[] {
    return this.views.list();
  }

  get generation(): string {
    return `${this.table.generation}/${this.backends.revision}`;
  }

  /**
   * After a start: lets each backend detach what a dead process left and remount volumes
   * whose mount IDs are still held. Runs under each volume's lock, so a call on a volume
   * waits for its recovery; failures are logged and retried by the next Mount.
   */
  async recover(): Promise<void> {
    await Promise.all(
      [...this.table.values()].map((record) =>
        this.lock.run(record.name, async () => {
          try {
            const held = isMounted(record);
            await this.backends.of(record).recover(this.backends.spec(record), held);
            if (held) await this.sharing.holdAfterRestart(record);
          } catch (error) {
            this.log.warn('recovery failed', { volume: record.name, error: describe(error) });
          }
        }),
      ),
    );
    for (const backend of this.backends.all()) {
      try {
        await backend.recovered?.();
      } catch (error) {
        this.log.warn('recovery failed', { backend: backend.kind, error: describe(error) });
      }
    }
  }

  /** Waits until every call accepted so far has finished and its state is on disk. */
  async drain(): Promise<void> {
    await this.lock.idle();
    await this.table.flush();
  }

  /** At shutdown: no container uses an idle mount, so none is left behind. */
  releaseIdleMounts(): Promise<void> {
    return this.idle.releaseAll();
  }

  /** A volume created on another host becomes this host's on its first Mount here. */
  private async adopt(name: string): Promise<VolumeRecord> {
    const record = await this.views.requireRecord(name);
    await this.table.insert(record);
    this.log.info('adopted a volume from the store catalogue', { volume: name });
    return record;
  }

  /** Throws when the engine has given up on a Mount sent at `sentAt`: nothing of it may stay. */
  private checkEngineWaits(name: string, sentAt: number, outcome: string): void {
    const tookMs = this.now() - sentAt;
    if (tookMs <= this.mountDeadlineMs) return;
    const seconds = (ms: number): string => (ms / 1000).toFixed(0);
    this.log.warn('Mount ended after the engine gave up on it', { volume: name, tookMs: Math.round(tookMs), outcome });
    throw new PluginError(
      'BACKEND_FAILED',
      `the Mount of volume ${name} took ${seconds(tookMs)} s, longer than Docker waits for a Mount (${seconds(this.mountDeadlineMs)} s here), so it ${outcome}; start the container again`,
    );
  }

  private async undo(name: string, undo: () => Promise<void>): Promise<void> {
    try {
      await undo();
    } catch (error) {
      this.log.error('could not undo a failed create', { volume: name, error: describe(error) });
    }
  }

  private async unmountQuietly(backend: Backend, record: VolumeRecord): Promise<void> {
    try {
      await backend.unmount(this.backends.spec(record));
    } catch (error) {
      this.log.warn('mount not released after a failed save', { volume: record.name, error: describe(error) });
    }
  }
}
