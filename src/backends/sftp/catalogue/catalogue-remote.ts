import path from 'node:path';
import { describe, PluginError } from '../../../errors';
import type { Logger } from '../../../log';
import type { CatalogueEntry, HostIdentity } from '../../backend';
import type { ControlConnections, ControlTarget } from '../control/control-connections';
import { parseEntry, parseHost, parseTombstone, type Lease, type Tombstone } from './catalogue-records';
import { SftpStoreFiles } from './sftp-store-files';
import type { StoreFiles } from './store-files';

export interface ListedEntry {
  entry: CatalogueEntry;
  /** mtime and size as listed, so unchanged records are not read again. */
  stamp: string;
}

/** What the store holds for a name: its record, or the tombstone of who removed it, or neither. */
export interface RecordOrTombstone {
  entry?: CatalogueEntry | undefined;
  removed?: Tombstone | undefined;
}

/** Runs `work` with the store's files; a failure says what could not be done. */
export type StoreSession = <T>(what: string, work: (files: StoreFiles) => Promise<T>) => Promise<T>;

/** The real session: the pooled control connection to the store, over SFTP. */
export function sftpSession(control: ControlConnections, target: () => Promise<ControlTarget>, log: Logger): StoreSession {
  return async (what, work) => {
    const resolved = await target();
    log.debug('store operation', { what });
    try {
      return await control.with(resolved, (connected) => work(new SftpStoreFiles(connected)));
    } catch (error) {
      if (error instanceof PluginError) throw error;
      throw new PluginError(
        'STORE_FAILED',
        `the volume store ${resolved.user}@${resolved.host}:${resolved.port} could not ${what}: ${describe(error)}; check the store's free space and permissions, then try again`,
        { cause: error },
      );
    }
  };
}

/**
 * The catalogue as files on the store, beside the volumes' data (docs/catalogue-protocol.md):
 *   .docker-volume-sftp/volumes/<name>.json          one record per volume
 *   .docker-volume-sftp/leases/<name>/<host>.json    one lease per host that has it mounted
 *   .docker-volume-sftp/removing/<name>.<host>.json  a record taken off by a Remove in progress
 *   .docker-volume-sftp/removed/<name>.json          who removed a volume, and when
 *   .docker-volume-sftp/changes                      moved by every publish and withdrawal
 * A record is published by writing a temp file and renaming it into place; SFTP rename
 * does not replace an existing file, so of two hosts creating one name, exactly one wins.
 */
export class CatalogueRemote {
  private readonly root: string;
  private readonly volumesDir: string;
  private readonly leasesDir: string;
  private readonly removingDir: string;
  private readonly removedDir: string;
  private readonly clockFile: string;
  private readonly markerFile: string;

  constructor(
    private readonly session: StoreSession,
    baseDir: string,
    private readonly host: HostIdentity,
  ) {
    this.root = path.posix.join(baseDir, '.docker-volume-sftp');
    this.volumesDir = path.posix.join(this.root, 'volumes');
    this.leasesDir = path.posix.join(this.root, 'leases');
    this.removingDir = path.posix.join(this.root, 'removing');
    this.removedDir = path.posix.join(this.root, 'removed');
    this.clockFile = path.posix.join(this.root, 'clock', `${host.id}`);
    this.markerFile = path.posix.join(this.root, 'changes');
  }

  /** The change marker's stamp: it differs after every publish and withdrawal on any host. */
  changeStamp(): Promise<string> {
    return this.session('read the change marker', async (files) => {
      const stat = await files.stat(this.markerFile);
      return stat === undefined ? 'none' : `${stat.mtime}:${stat.size}`;
    });
  }

  /** Every record on the store; records whose listing stamp did not change are reused. */
  list(previous: ReadonlyMap<string, ListedEntry>): Promise<Map<string, ListedEntry>> {
    return this.session('list the volume records', async (files) => {
      const listed = (await files.list(this.volumesDir)) ?? [];
      const result = new Map<string, ListedEntry>();
      for (const file of listed) {
        const match = /^(.+)\.json$/.exec(file.name);
        if (file.kind !== 'file' || match?.[1] === undefined) continue;
        const name = match[1];
        const stamp = `${file.mtime}:${file.size}`;
        const known = previous.get(name);
        if (known?.stamp === stamp) {
          result.set(name, known);
          continue;
        }
        const entry = await readJson(files, path.posix.join(this.volumesDir, file.name), (text) => parseEntry(text, name));
        if (entry !== undefined) result.set(name, { entry, stamp });
      }
      return result;
    });
  }

  /** One name, read from the store now: its record, else its tombstone. */
  readName(name: string): Promise<RecordOrTombstone> {
    return this.session(`look up volume ${name}`, async (files) => {
      const entry = await readJson(files, this.recordFile(name), (text) => parseEntry(text, name));
      if (entry !== undefined) return { entry };
      return { removed: await readJson(files, this.tombstoneFile(name), (text) => parseTombstone(text, name)) };
    });
  }

  /** Publishes `entry` unless the name is taken; returns the record that holds the name. */
  publish(entry: CatalogueEntry): Promise<CatalogueEntry> {
    return this.session(`publish the record of volume ${entry.name}`, async (files) => {
      await files.makeDir(this.volumesDir);
      const final = this.recordFile(entry.name);
      const temp = `${final}.${this.host.id}.tmp`;
      await files.write(temp, Buffer.from(`${JSON.stringify(entry)}\n`));
      const moved = await files.rename(temp, final);
      if (moved !== 'moved') {
        await files.unlink(temp);
        const existing = await readJson(files, final, (text) => parseEntry(text, entry.name));
        if (existing === undefined) {
          throw new PluginError('STORE_FAILED', `the store holds an unreadable record for volume ${entry.name} at ${final}; move it aside on the server, or use another name`);
        }
        return existing;
      }
      await this.moveMarker(files);
      return entry;
    });
  }

  /**
   * First step of a Remove: takes the record off the store (renamed aside, so it can be put
   * back), then reads the other hosts' leases. `false`: there was no record to take.
   */
  takeOff(name: string): Promise<{ taken: boolean; leases: Lease[] }> {
    return this.session(`withdraw the record of volume ${name}`, async (files) => {
      await files.makeDir(this.removingDir);
      // posix-rename replaces a leftover of an earlier Remove of ours that did not finish.
      let taken = (await files.replace(this.recordFile(name), this.takenFile(name))) === 'moved';
      if (taken) await this.moveMarker(files);
      else taken = (await files.stat(this.takenFile(name)))?.kind === 'file';
      return { taken, leases: await this.leasesOf(files, name) };
    });
  }

  /** Undoes `takeOff`: the record goes back, unless a new volume of that name took its place. */
  putBack(name: string): Promise<void> {
    return this.session(`put back the record of volume ${name}`, async (files) => {
      if ((await files.rename(this.takenFile(name), this.recordFile(name))) !== 'moved') await files.unlink(this.takenFile(name));
      await this.moveMarker(files);
    });
  }

  /** Last step of a Remove: the tombstone says who removed it; the taken record and our lease go. */
  finishRemove(name: string): Promise<void> {
    return this.session(`finish removing volume ${name}`, async (files) => {
      await files.makeDir(this.removedDir);
      const tombstone: Tombstone = { name, removedBy: this.host, removedAt: new Date().toISOString() };
      const temp = `${this.tombstoneFile(name)}.${this.host.id}.tmp`;
      await files.write(temp, Buffer.from(`${JSON.stringify(tombstone)}\n`));
      await files.replace(temp, this.tombstoneFile(name));
      await files.unlink(this.takenFile(name));
      await files.unlink(this.leaseFile(name));
    });
  }

  /**
   * Writes or renews this host's lease (the server stamps its mtime), then says whether the
   * volume is still on the store: its record, or no sign that a Remove took it off.
   */
  renewLease(name: string): Promise<RecordOrTombstone & { present: boolean }> {
    return this.session(`renew this host's lease on volume ${name}`, async (files) => {
      await files.makeDir(path.posix.join(this.leasesDir, name));
      // Written aside and renamed over: a reader never sees a half-written lease.
      const temp = `${this.leaseFile(name)}.tmp`;
      await files.write(temp, Buffer.from(`${JSON.stringify(this.host)}\n`));
      await files.replace(temp, this.leaseFile(name));
      if ((await files.stat(this.recordFile(name)))?.kind === 'file') return { present: true };
      // In this order: a Remove writes its tombstone before it deletes its removing/ file,
      // so a Remove that finishes between the two reads is still seen by the second.
      const taking = ((await files.list(this.removingDir)) ?? []).some((file) => file.name.startsWith(`${name}.`));
      const removed = await readJson(files, this.tombstoneFile(name), (text) => parseTombstone(text, name));
      return { present: removed === undefined && !taking, removed };
    });
  }

  dropLease(name: string): Promise<void> {
    return this.session(`drop this host's lease on volume ${name}`, async (files) => {
      await files.unlink(this.leaseFile(name));
    });
  }

  /** Leases on `name` held by other hosts, with their age by the server's own clock. */
  private async leasesOf(files: StoreFiles, name: string): Promise<Lease[]> {
    const listed = (await files.list(path.posix.join(this.leasesDir, name))) ?? [];
    const others = listed.filter((file) => file.kind === 'file' && file.name.endsWith('.json') && file.name !== `${this.host.id}.json`);
    if (others.length === 0) return [];
    const now = await this.serverNow(files);
    const leases: Lease[] = [];
    for (const file of others) {
      const host = await readJson(files, path.posix.join(this.leasesDir, name, file.name), parseHost);
      leases.push({ host: host ?? { id: file.name.replace(/\.json$/, ''), name: 'unknown host' }, ageSeconds: Math.max(0, now - file.mtime) });
    }
    return leases;
  }

  /** The server's clock, read from the mtime of a file we just wrote: hosts' clocks may differ. */
  private async serverNow(files: StoreFiles): Promise<number> {
    await files.makeDir(path.posix.dirname(this.clockFile));
    await files.write(this.clockFile, Buffer.from('tick\n'));
    return (await files.stat(this.clockFile))?.mtime ?? 0;
  }

  /**
   * Moves the change marker: its times are set to random values, so two changes within one
   * second (SFTP times are whole seconds) still give two different stamps.
   */
  private async moveMarker(files: StoreFiles): Promise<void> {
    if ((await files.stat(this.markerFile)) === undefined) await files.write(this.markerFile, Buffer.from('moved by every publish and withdrawal\n'));
    await files.setTimes(this.markerFile, 1_000_000_000 + Math.floor(Math.random() * 1_000_000_000));
  }

  private recordFile = (name: string): string => path.posix.join(this.volumesDir, `${name}.json`);
  private takenFile = (name: string): string => path.posix.join(this.removingDir, `${name}.${this.host.id}.json`);
  private tombstoneFile = (name: string): string => path.posix.join(this.removedDir, `${name}.json`);
  private leaseFile = (name: string): string => path.posix.join(this.leasesDir, name, `${this.host.id}.json`);
}

/** A small JSON file parsed by `parse`; undefined when it is missing (removed while we looked). */
async function readJson<T>(files: StoreFiles, file: string, parse: (text: string) => T | undefined): Promise<T | undefined> {
  const data = await files.read(file);
  return data === undefined ? undefined : parse(data.toString('utf8'));
}
