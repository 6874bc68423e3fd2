import path from 'node:path';
import type { CatalogueEntry, HostIdentity } from '../../src/backends/backend';
import { CatalogueRemote, type StoreSession } from '../../src/backends/sftp/catalogue/catalogue-remote';
import { StoreCatalogue } from '../../src/backends/sftp/catalogue/store-catalogue';
import type { StoreFiles } from '../../src/backends/sftp/catalogue/store-files';
import { KeyedMutex } from '../../src/common/keyed-mutex';
import { describe, isPluginError, PluginError } from '../../src/errors';
import type { Logger } from '../../src/log';
import { sameOptions } from '../../src/options/schema';
import type { SimulatedStore } from './simulated-store';

export const STORE_BASE = '/store';


/**
 * One Docker host of the simulation: the real StoreCatalogue and CatalogueRemote over the
 * simulated store, driven in the order src/service/volume-service.ts calls them (Create,
 * Remove, Mount, Unmount), with the SFTP backend's data steps (mkdir of the volume's
 * directory, recursive delete with remove=delete) as store operations too. `mounted` is
 * the ground truth the invariants are checked against: containers here use these volumes.
 */
export class SimulatedHost {
  readonly catalogue: StoreCatalogue;
  /** The store as the backend's data steps use it: failures are STORE_FAILED, as operationError makes them. */
  readonly files: StoreFiles;
  /** The host's own table: what it would answer Get with. */
  readonly local = new Map<string, CatalogueEntry>();
  readonly mounted = new Set<string>();
  private readonly lock = new KeyedMutex();
  private written = 0;
  private created = 0;
  /** Removes that failed after their commit point: the user is told to run them again. */
  readonly unfinished = new Set<string>();
  /** Creates that failed: the user is told to run them again when the record may be left. */
  readonly retryCreate = new Set<string>();

  constructor(
    readonly identity: HostIdentity,
    readonly login: string,
    store: SimulatedStore,
    leaseTtlSeconds: number,
    private readonly note: (line: string) => void,
    clock: () => number,
    more: { instance?: string; previousInstance?: string; tombstoneSeconds?: number; refreshSeconds?: number; cacheFile?: string } = {},
  ) {
    const raw = store.files(login, identity.name);
    const session: StoreSession = async (what, work) => {
      try {
        return await work(raw);
      } catch (error) {
        if (isPluginError(error)) throw error;
        throw new PluginError('STORE_FAILED', `the store could not ${what}: ${describe(error)}`, { cause: error });
      }
    };
    this.files = new Proxy(raw, {
      get: (target, key: keyof StoreFiles) =>
        (...args: unknown[]) =>
          session(`${String(key)} ${String(args[0])}`, () => (target[key] as (...a: unknown[]) => Promise<unknown>)(...args)),
    });
    this.catalogue = new StoreCatalogue({
      remote: new CatalogueRemote(session, STORE_BASE, identity, more.instance ?? `${identity.id}-instance`, more.previousInstance),
      // The simulation's records are its own: the gate of record-checks.ts is tested elsewhere.
      admitsKept: () => true,
      host: identity,
      covers: () => true,
      cacheFile: more.cacheFile,
      leaseTtlSeconds,
      refreshSeconds: more.refreshSeconds ?? 10,
      log: this.logger(),
      clock,
      ...(more.tombstoneSeconds === undefined ? {} : { tombstoneSeconds: more.tombstoneSeconds }),
    });
    this.catalogue.onRemovedElsewhere((name) => {
      void this.lock.run(name, () => {
        if (!this.mounted.has(name) && this.catalogue.find(name) === undefined) this.local.delete(name);
        return Promise.resolve();
      });
    });
  }

  /** volume-service create: known here, else looked up, else made and published. */
  create(name: string, options: Record<string, string>): Promise<string> {
    return this.lock.run(name, async () => {
      if (this.local.has(name)) return 'known';
      const listed = this.catalogue.find(name) ?? (await this.catalogue.findOnStore(name)).entry;
      if (listed !== undefined && !sameOptions(listed.options, options)) {
        this.local.set(name, listed);
        return 'overruled by the store';
      }
      const entry: CatalogueEntry = { name, options, createdAt: `t${(this.created += 1)}-${this.identity.name}`, createdBy: this.identity };
      const holder = listed?.createdBy.id === this.identity.id ? listed : await this.catalogue.publish(entry);
      if (!sameOptions(holder.options, options)) {
        this.local.set(name, holder);
        return 'lost the race, overruled';
      }
      if (holder.createdBy.id !== this.identity.id) {
        await this.makeData(name);
        this.local.set(name, holder);
        return 'the same as the store';
      }
      try {
        await this.makeData(name);
      } catch (error) {
        // As volume-service: the record goes back, or the user is told to remove and create again.
        await this.catalogue.unpublish(holder).catch(() => this.retryCreate.add(name));
        throw error;
      }
      this.local.set(name, holder);
      return holder === entry ? 'published' : 'finished a Create of ours';
    });
  }

  /** volume-service remove: refused while mounted here; withdraw, delete the data, commit. */
  remove(name: string): Promise<string> {
    return this.lock.run(name, async () => {
      const known = this.local.get(name) ?? this.catalogue.find(name) ?? (await this.catalogue.findOnStore(name)).entry;
      if (known === undefined) throw new PluginError('NOT_FOUND', `no such volume: ${name}`);
      if (this.mounted.has(name)) throw new PluginError('IN_USE', `volume ${name} is mounted here`);
      const withdrawal = await this.catalogue.withdraw(name);
      try {
        if (!withdrawal.keepData) await this.deleteData(name);
      } catch (error) {
        await withdrawal.undo().catch((undoError: unknown) => this.note(`${this.identity.name}: could not put ${name} back: ${describe(undoError)}`));
        if (withdrawal.committed) this.unfinished.add(name);
        throw error;
      }
      await withdrawal.commit();
      this.local.delete(name);
      return 'removed';
    });
  }

  /** volume-service mount: the lease before the mount on a first Mount. */
  mount(name: string): Promise<string> {
    return this.lock.run(name, async () => {
      let entry = this.local.get(name);
      if (entry === undefined) {
        entry = this.catalogue.find(name) ?? (await this.catalogue.findOnStore(name)).entry;
        if (entry === undefined) throw new PluginError('NOT_FOUND', `no such volume: ${name}`);
        this.local.set(name, entry);
      }
      if (this.mounted.has(name)) return 'already mounted';
      await this.catalogue.hold(name, entry.createdAt);
      // sshfs mounts the volume's directory: it fails when the directory is not there.
      let there;
      try {
        there = await this.files.stat(this.dataDir(name));
      } finally {
        if (there === undefined) await this.catalogue.release(name);
      }
      if (there === undefined) throw new PluginError('BACKEND_FAILED', `sshfs: ${this.dataDir(name)}: no such directory`);
      this.mounted.add(name);
      return 'mounted';
    });
  }

  /** volume-service unmount: the lease goes in the background. */
  unmount(name: string): Promise<string> {
    return this.lock.run(name, () => {
      if (!this.mounted.delete(name)) return Promise.resolve('not mounted');
      void this.catalogue.release(name);
      return Promise.resolve('unmounted');
    });
  }

  /** A container writes a file into a mounted volume. */
  async write(name: string): Promise<string> {
    if (!this.mounted.has(name)) return 'not mounted';
    this.written += 1;
    await this.files.write(path.posix.join(this.dataDir(name), `${this.identity.name}-${this.written}`), Buffer.from('data'));
    return 'wrote';
  }

  /** The catalogue's log lines go to the trace (debug ones too: they say why a background step failed). */
  private logger(): Logger {
    const line = (level: string) => (message: string, fields?: object) => this.note(`${this.identity.name} log ${level}: ${message} ${JSON.stringify(fields ?? {})}`);
    // Debug lines cost a string per request: only when a seed is replayed with SIM_DEBUG.
    const debug = process.env.SIM_DEBUG === undefined ? () => undefined : line('debug');
    return { debug, info: line('info'), warn: line('warn'), error: line('error') };
  }

  dataDir(name: string): string {
    return path.posix.join(STORE_BASE, name);
  }

  /** The SFTP backend's create: the volume's directory, made unless it is there. */
  private async makeData(name: string): Promise<boolean> {
    if ((await this.files.stat(this.dataDir(name))) !== undefined) return false;
    await this.files.makeDir(this.dataDir(name));
    return true;
  }

  /** The SFTP backend's remove with remove=delete: a recursive delete, file by file. */
  private async deleteData(name: string): Promise<void> {
    for (let round = 0; round < 2; round += 1) {
      const listed = await this.files.list(this.dataDir(name));
      if (listed === undefined) return;
      for (const file of listed) await this.files.unlink(path.posix.join(this.dataDir(name), file.name));
      if (await this.files.removeDir(this.dataDir(name))) return;
    }
    throw new PluginError('STORE_FAILED', `could not delete ${this.dataDir(name)}: files keep appearing`);
  }
}
