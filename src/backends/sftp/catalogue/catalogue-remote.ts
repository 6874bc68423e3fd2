import path from 'node:path';
import { checkVolumeName } from '../../../common/volume-name';
import { describe, PluginError } from '../../../errors';
import type { Logger } from '../../../log';
import type { CatalogueEntry, HostIdentity } from '../../backend';
import type { ControlConnections, ControlTarget } from '../control/control-connections';
import { parseEntry, parseHost, parseTombstone, type Lease, type Tombstone } from './catalogue-records';
import { printableHostName } from './host-identity';
import type { RecordGate } from './record-checks';
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

/** A Remove in progress or left half done: the record it took off, and whether it committed. */
export interface TakenOff {
  host: HostIdentity;
  entry: CatalogueEntry | undefined;
  /** The tombstone for this record is written: the Remove is decided and never undone. */
  committed: boolean;
  /** Server seconds since the entry was taken off (its mtime: rename keeps the record's, so approximate). */
  file: string;
}

/** What a read of one name finds: its record, a Remove of it in progress, or its tombstone. */
export interface NameOnStore extends RecordOrTombstone {
  removing?: TakenOff | undefined;
}

/** This host's heartbeat as written: the server's time then, and another live process with our ID. */
export interface Heartbeat {
  serverNow: number;
  duplicate?: HostIdentity & { ageSeconds: number };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The catalogue as files on the store, beside the volumes' data (docs/catalogue-protocol.md):
 *   .docker-volume-sftp/volumes/<name>.json          one record per volume
 *   .docker-volume-sftp/hosts/<host>.json            each host's heartbeat: its mtime is the host's last renewal
 *   .docker-volume-sftp/mounts/<host>/<name>         this host has the volume mounted (first Mount to last Unmount)
 *   .docker-volume-sftp/removing/<name>.<host>.json  a record taken off by a Remove in progress
 *   .docker-volume-sftp/removed/<name>.json          the tombstone: written before the data goes
 *   .docker-volume-sftp/log/<instance>-<n>.<name>    one file per change of a name's record, kept minutes
 *   .docker-volume-sftp/changes                      replaced after every change: names its latest log file
 * A record is published by writing a temp file and renaming it into place; SFTP rename
 * does not replace an existing file, so of two hosts creating one name, exactly one wins.
 */
export class CatalogueRemote {
  private readonly root: string;
  private readonly volumesDir: string;
  private readonly hostsDir: string;
  private readonly mountsDir: string;
  private readonly removingDir: string;
  private readonly removedDir: string;
  private readonly legacyLeasesDir: string;
  private readonly markerFile: string;
  private readonly logDir: string;
  /** Numbers this process's log files: with the instance, unique across restarts. */
  private changeCount = 0;
  /**
   * Names changed by this host that other hosts were not told of yet: added once the change
   * ran (see `changing`), cleared once its log file and the marker are written; a session
   * that failed in between leaves them for `tellPending`, so no change goes untold.
   */
  private readonly untold = new Map<string, number>();
  /** Tells one change from a later one of the same name: a telling in flight clears only what it told. */
  private changeVersion = 0;

  constructor(
    private readonly session: StoreSession,
    baseDir: string,
    private readonly host: HostIdentity,
    /** Tells this process from another one that has the same host ID (a cloned data directory). */
    private readonly instance: string,
    /** The instance this host's previous process wrote: its heartbeat is ours, not a clone's. */
    private readonly previousInstance: string | undefined,
    /**
     * Where the heartbeat goes: a connection of its own, so a queue of Mounts and Removes on
     * the shared one never delays it past the TTL (40 first Mounts at 100 ms RTT take ~30 s).
     */
    private readonly heartbeatSession: StoreSession = session,
    /**
     * Every record read from the store passes it: records are input from whoever can write
     * there (record-checks.ts). Without one (the simulation) records are only parsed.
     */
    private readonly gate?: RecordGate,
  ) {
    this.root = path.posix.join(baseDir, '.docker-volume-sftp');
    this.volumesDir = path.posix.join(this.root, 'volumes');
    this.hostsDir = path.posix.join(this.root, 'hosts');
    this.mountsDir = path.posix.join(this.root, 'mounts');
    this.removingDir = path.posix.join(this.root, 'removing');
    this.removedDir = path.posix.join(this.root, 'removed');
    this.legacyLeasesDir = path.posix.join(this.root, 'leases');
    this.markerFile = path.posix.join(this.root, 'changes');
    this.logDir = path.posix.join(this.root, 'log');
  }

  /** A record's text as this host may use it: checked by the gate when there is one. */
  private parseRecord(where: string, name: string, text: string, stamp?: string): CatalogueEntry | undefined {
    return this.gate === undefined ? parseEntry(text, name) : this.gate.admit(where, name, text, stamp);
  }

  /** The change marker's stamp, "mtime:size": it differs after every change on any host (see `markerNamesALogFile`). */
  changeStamp(): Promise<string> {
    return this.session('read the change marker', async (files) => {
      const stat = await files.stat(this.markerFile);
      return stat === undefined ? 'none' : `${stat.mtime}:${stat.size}`;
    });
  }

  /** What the change marker names: the log file of the latest change (another text from hosts of the previous version). */
  markerText(): Promise<string | undefined> {
    return this.session('read the change marker', async (files) => (await files.read(this.markerFile))?.toString('utf8').trim());
  }

  /**
   * The change log: one file per change, named `<instance>-<n>.<volume name>`; the names are
   * input like records (a bad one is skipped). Undefined when there is no log yet.
   */
  changeLog(): Promise<LoggedChange[] | undefined> {
    return this.session('list the change log', async (files) => {
      const listed = await files.list(this.logDir);
      return listed?.filter((file) => file.kind === 'file').map((file) => ({ file: file.name, name: loggedName(file.name) }));
    });
  }

  /** Tells other hosts of changes whose telling failed before (see `untold`). */
  async tellPending(): Promise<void> {
    if (this.untold.size === 0) return;
    await this.session('tell other hosts of changes', (files) => this.tell(files));
  }

  /**
   * Every record on the store, with the ones a Remove took off but has not committed (a
   * refused Remove puts them back: they never vanish for other hosts). Records whose listing
   * stamp did not change are reused. A missing catalogue directory is an error when
   * `expectCatalogue` (this host saw volumes there): the store is not what it was, and an
   * empty answer would make every volume vanish.
   */
  list(previous: ReadonlyMap<string, ListedEntry>, expectCatalogue: boolean): Promise<Map<string, ListedEntry>> {
    return this.session('list the volume records', async (files) => {
      const listed = await files.list(this.volumesDir);
      if (listed === undefined) {
        if (expectCatalogue) throw this.catalogueMissing();
        return new Map<string, ListedEntry>();
      }
      const result = new Map<string, ListedEntry>();
      for (const file of listed) {
        const match = /^(.+)\.json$/.exec(file.name);
        if (file.kind !== 'file' || match?.[1] === undefined) continue;
        const stamp = `${file.mtime}:${file.size}`;
        const where = path.posix.join(this.volumesDir, file.name);
        const name = this.gate === undefined ? match[1] : this.gate.nameOf(where, file.name, stamp);
        if (name === undefined || this.gate?.refusedBefore(where, stamp) === true) continue;
        const known = previous.get(name);
        if (known?.stamp === stamp) {
          result.set(name, known);
          continue;
        }
        const entry = await readJson(files, where, (text) => this.parseRecord(where, name, text, stamp));
        if (entry !== undefined) result.set(name, { entry, stamp });
      }
      for (const taken of await this.allTakenOff(files)) {
        if (taken.entry === undefined || taken.committed || result.has(taken.entry.name)) continue;
        result.set(taken.entry.name, { entry: taken.entry, stamp: `removing:${taken.file}` });
      }
      return result;
    });
  }

  /** One name, read from the store now: its record, else a Remove in progress, else its tombstone. */
  readName(name: string, expectCatalogue: boolean): Promise<NameOnStore> {
    return this.session(`look up volume ${name}`, async (files) => {
      const entry = await readJson(files, this.recordFile(name), (text) => this.parseRecord(this.recordFile(name), name, text));
      if (entry !== undefined) return { entry };
      const removing = await this.takenOffOf(files, name);
      // Not committed: the Remove may yet be refused and put it back, so it still exists.
      if (removing !== undefined && !removing.committed && removing.entry !== undefined) return { entry: removing.entry, removing };
      const removed = await this.tombstoneOf(files, name);
      if (removing === undefined && removed === undefined && expectCatalogue && (await files.stat(this.volumesDir)) === undefined) throw this.catalogueMissing();
      return { removed, removing };
    });
  }

  /**
   * Publishes `entry` unless the name is taken; returns the record that holds the name. A
   * name a Remove is still working on is refused (its data may be going): the check comes
   * after the record is in place, so a Remove that takes a record off before it is seen
   * here (docs/catalogue-protocol.md, "Remove against Create").
   */
  publish(entry: CatalogueEntry): Promise<CatalogueEntry> {
    return this.session(`publish the record of volume ${entry.name}`, async (files) => {
      const before = await this.takenOffOf(files, entry.name);
      if (before !== undefined) throw beingRemoved(entry.name, before);
      await files.makeDir(this.volumesDir);
      const final = this.recordFile(entry.name);
      const temp = `${final}.${this.host.id}.tmp`;
      await files.write(temp, Buffer.from(`${JSON.stringify(entry)}\n`));
      const moved = await this.changing(entry.name, () => files.rename(temp, final));
      if (moved !== 'moved') {
        await files.unlink(temp);
        const existing = await readJson(files, final, (text) => this.parseRecord(final, entry.name, text));
        if (existing === undefined) {
          throw new PluginError('STORE_FAILED', `the store holds a record for volume ${entry.name} at ${final} that this host refuses (the plugin's log says why); move it aside on the server, or use another name`);
        }
        return existing;
      }
      // A Remove holding our own record is a Remove of this new volume, not of an older one.
      const after = (await this.allTakenOff(files)).find((taken) => takenName(taken.file) === entry.name && (taken.entry === undefined || recordId(taken.entry) !== recordId(entry)));
      if (after !== undefined) {
        const tookBack = await this.changing(entry.name, () => this.takeBack(files, entry));
        await this.tell(files);
        if (tookBack) throw beingRemoved(entry.name, after);
        // Our record is in another Remove's hands this instant: it may come back without its directory.
        const holder = (await this.allTakenOff(files)).find((taken) => taken.entry !== undefined && recordId(taken.entry) === recordId(entry));
        if (holder === undefined && (await files.stat(this.recordFile(entry.name))) === undefined) throw beingRemoved(entry.name, after);
        throw new PluginError(
          'CONFLICT',
          `volume ${entry.name} was not created: a Remove of an older volume of that name by host ${after.host.name} is at work, and this Create's record could not be taken back (a Remove on ${holder?.host.name ?? 'another host'} holds it): once those are done, run docker volume rm ${entry.name}, then create it again`,
        );
      }
      await this.tell(files);
      return entry;
    });
  }

  /** Takes back a record this host published, if it is still the one there (a Create that failed). */
  unpublish(entry: CatalogueEntry): Promise<void> {
    return this.session(`take back the record of volume ${entry.name}`, async (files) => {
      await this.changing(entry.name, () => this.takeBack(files, entry));
      await this.tell(files);
    });
  }

  /**
   * Writes this host's heartbeat (temp file, then posix-rename: the server stamps the mtime)
   * and reads the server's time from it. Read first: the same host ID written by another
   * process within `liveSeconds` is a second host with our ID.
   */
  heartbeat(liveSeconds: number, expectCatalogue: boolean): Promise<Heartbeat> {
    return this.heartbeatSession("renew this host's heartbeat", async (files) => {
      // A catalogue this host saw is never re-made here: gone, it is a store to fix.
      if (expectCatalogue && (await files.stat(this.hostsDir)) === undefined && (await files.stat(this.volumesDir)) === undefined) throw this.catalogueMissing();
      await files.makeDir(this.hostsDir);
      const file = this.heartbeatFile(this.host.id);
      const current = await files.stat(file);
      if (current !== undefined) {
        const text = (await files.read(file))?.toString('utf8');
        const other = parseHeartbeat(text);
        if (other !== undefined && other.instance !== this.instance && other.instance !== this.previousInstance) {
          const serverNow = await this.writeHeartbeat(files, `${file}.${this.instance}.tmp`, true);
          const ageSeconds = serverNow - current.mtime;
          if (ageSeconds < liveSeconds) return { serverNow, duplicate: { id: other.id, name: other.name, ageSeconds } };
        }
      }
      await files.makeDir(path.posix.join(this.mountsDir, this.host.id));
      return { serverNow: await this.writeHeartbeat(files, file, false) };
    });
  }

  /**
   * Other hosts' claims on `name` with their heartbeat's age by the server's clock (read
   * from our own heartbeat, written here). The host directories are listed first: a host
   * whose directory appears after that writes its mark after this Remove took the record off.
   */
  leasesOn(name: string): Promise<Lease[]> {
    return this.session(`read the other hosts' leases on volume ${name}`, async (files) => {
      const hosts = ((await files.list(this.mountsDir)) ?? []).filter((dir) => dir.kind === 'dir' && dir.name !== this.host.id && UUID.test(dir.name));
      const leases: Lease[] = [];
      let serverNow: number | undefined;
      for (const dir of hosts) {
        if ((await files.stat(path.posix.join(this.mountsDir, dir.name, markName(name)))) === undefined) continue;
        serverNow ??= await this.writeHeartbeat(files, this.heartbeatFile(this.host.id), false);
        const beat = await files.stat(this.heartbeatFile(dir.name));
        const who = parseHeartbeat((await files.read(this.heartbeatFile(dir.name)))?.toString('utf8'));
        // No heartbeat at all: counted as renewed when its mark was, so a lost heartbeat file never frees a volume at once.
        const renewed = beat?.mtime ?? (await files.stat(path.posix.join(this.mountsDir, dir.name)))?.mtime ?? serverNow;
        leases.push({ host: who === undefined ? { id: printableHostName(dir.name), name: 'unknown host' } : { id: who.id, name: who.name }, ageSeconds: Math.max(0, serverNow - renewed) });
      }
      // Hosts of the previous version renew leases/<name>/<host>.json themselves.
      const legacy = ((await files.list(path.posix.join(this.legacyLeasesDir, name))) ?? []).filter((file) => file.kind === 'file' && file.name.endsWith('.json') && file.name !== `${this.host.id}.json`);
      for (const file of legacy) {
        serverNow ??= await this.writeHeartbeat(files, this.heartbeatFile(this.host.id), false);
        leases.push({ host: { id: printableHostName(file.name.replace(/\.json$/, '')), name: 'a host of the previous version' }, ageSeconds: Math.max(0, serverNow - file.mtime) });
      }
      return leases;
    });
  }

  /**
   * Takes the record off the store: renamed aside into removing/, so it can be put back.
   * 'resumed': a Remove of ours left it there before. 'none': no record anywhere (never
   * published, or removed). Another host's Remove holding it is refused: it may put it back.
   */
  takeOff(name: string, only?: CatalogueEntry): Promise<'taken' | 'resumed' | 'committed' | 'none'> {
    return this.session(`take the record of volume ${name} off the store`, async (files) => {
      await files.makeDir(this.removingDir);
      // A record moves only between volumes/ and removing/: absent from both, read in this
      // order, it was not put back in between (a put-back leaves removing/ first).
      for (let attempt = 0; attempt < 3; attempt += 1) {
        if ((await files.rename(this.recordFile(name), this.takenFile(name))) === 'moved') {
          if (only === undefined) return 'taken';
          // Taking back our own record only: another host's goes back at once.
          const there = await readJson(files, this.takenFile(name), (text) => this.parseRecord(this.takenFile(name), name, text));
          if (there !== undefined && recordId(there) === recordId(only)) return 'taken';
          const back = await this.putBackFile(files, this.takenFile(name), name, false);
          await this.tell(files);
          if (back) return 'none';
          throw new Error(`another host's record of ${name} was moved aside and could not be put back yet (this host puts it back within a minute)`);
        }
        if ((await files.stat(this.recordFile(name))) !== undefined) continue;
        const taken = await this.takenOffOf(files, name);
        if (taken?.host.id === this.host.id) return taken.committed ? 'committed' : 'resumed';
        if (taken !== undefined) throw new PluginError('IN_USE', `volume ${name} is being removed by host ${taken.host.name} (host ID ${taken.host.id.slice(0, 8)}); try again in a moment`);
        if ((await files.stat(this.recordFile(name))) === undefined) return 'none';
      }
      throw new PluginError('IN_USE', `volume ${name} is being removed and put back by other hosts right now; try again in a moment`);
    });
  }

  /**
   * The commit point of a Remove: the tombstone, naming the record it ends, before any data
   * goes; then the taken record itself says so (a later Remove of another record of the name
   * replaces the tombstone, never this).
   */
  entomb(name: string): Promise<void> {
    return this.session(`write the tombstone of volume ${name}`, async (files) => {
      const entry = await readJson(files, this.takenFile(name), (text) => this.parseRecord(this.takenFile(name), name, text));
      await this.changing(name, () => this.writeTombstone(files, name, entry));
      if (entry !== undefined) {
        // Written beside the tombstones (swept by cleanup when a fault leaves it), renamed into removing/.
        const temp = `${this.tombstoneFile(name)}.${this.host.id}.taken.tmp`;
        await files.write(temp, Buffer.from(`${JSON.stringify({ ...entry, committed: true })}\n`));
        await files.replace(temp, this.takenFile(name));
      }
      await this.tell(files);
    });
  }

  /** Last step of a Remove, once its data is dealt with: the taken record and our mark go. */
  finishRemove(name: string): Promise<void> {
    return this.session(`finish removing volume ${name}`, async (files) => {
      await files.unlink(this.takenFile(name));
      await files.unlink(this.markFile(this.host.id, name));
    });
  }

  /**
   * Undoes `takeOff` before the commit point: the record goes back. A Create that slipped a
   * record in meanwhile sees our removing/ file and takes its own back, so the rename is
   * tried again; the file stays (for `repair`) rather than being lost.
   */
  putBack(name: string): Promise<boolean> {
    return this.session(`put back the record of volume ${name}`, async (files) => {
      // Past its commit point a Remove is never undone.
      if ((await this.takenOffOf(files, name))?.committed === true) return false;
      const back = await this.putBackFile(files, this.takenFile(name), name, false);
      await this.tell(files);
      return back;
    });
  }

  /** This host has the volume mounted: its mark, then whether the volume is still on the store. */
  mark(name: string): Promise<NameOnStore & { present: boolean; catalogueMissing: boolean }> {
    return this.session(`mark volume ${name} as mounted on this host`, async (files) => {
      const mark = Buffer.from(`${JSON.stringify(this.host)}\n`);
      try {
        await files.write(this.markFile(this.host.id, name), mark);
      } catch (error) {
        // Never re-made here when the whole catalogue is gone: that is a store to fix, not to fill.
        if ((await files.stat(this.volumesDir)) === undefined) return { present: false, catalogueMissing: true };
        // Our directory of marks was taken for a dead host's (this host was away longer than the TTL).
        await files.makeDir(path.posix.join(this.mountsDir, this.host.id));
        await files.write(this.markFile(this.host.id, name), mark).catch(() => Promise.reject(error as Error));
      }
      const entry = await readJson(files, this.recordFile(name), (text) => this.parseRecord(this.recordFile(name), name, text));
      if (entry !== undefined) return { present: true, catalogueMissing: false, entry };
      // In this order: a Remove writes its tombstone before it deletes its removing/ file,
      // so a Remove that finishes between the two reads is still seen by the second.
      const removing = await this.takenOffOf(files, name);
      const removed = await this.tombstoneOf(files, name);
      const catalogueMissing = removing === undefined && removed === undefined && (await files.stat(this.volumesDir)) === undefined;
      return { present: removed === undefined && removing === undefined && !catalogueMissing, removed, removing, catalogueMissing };
    });
  }

  /** Writes the mark of a volume mounted here (after a restart or a store outage). */
  markOnly(name: string): Promise<void> {
    return this.session(`mark volume ${name} as mounted on this host`, async (files) => {
      await files.makeDir(path.posix.join(this.mountsDir, this.host.id));
      await files.write(this.markFile(this.host.id, name), Buffer.from(`${JSON.stringify(this.host)}\n`));
    });
  }

  unmark(name: string): Promise<void> {
    return this.session(`drop this host's mark on volume ${name}`, async (files) => {
      await files.unlink(this.markFile(this.host.id, name));
    });
  }

  /** Names this host's marks say it has mounted. */
  marked(): Promise<string[]> {
    return this.session("list this host's marks", async (files) => ((await files.list(path.posix.join(this.mountsDir, this.host.id))) ?? []).map((file) => unmarkName(file.name)));
  }

  /**
   * Removes what no live host needs, and finishes what dead ones left: see
   * docs/catalogue-protocol.md, "Cleanup". `busy` names this host's Removes in progress;
   * `held` its mounted volumes.
   */
  cleanUp(rules: { deadSeconds: number; tombstoneSeconds: number; logSeconds: number; busy: ReadonlySet<string>; held: ReadonlySet<string> }): Promise<string[]> {
    return this.session('clean up the store catalogue', async (files) => {
      const done: string[] = [];
      const serverNow = await this.writeHeartbeat(files, this.heartbeatFile(this.host.id), false);
      const beats = new Map(((await files.list(this.hostsDir)) ?? []).filter((file) => file.name.endsWith('.json')).map((file) => [file.name.replace(/\.json$/, ''), file.mtime]));
      const dead = (id: string): boolean => id !== this.host.id && serverNow - (beats.get(id) ?? -Infinity) > rules.deadSeconds;
      // A Remove by a host with no heartbeat at all is one of the previous version's, maybe at work: left alone.
      const deadRemover = (id: string): boolean => beats.has(id) && dead(id);
      for (const taken of await this.allTakenOff(files)) {
        const name = taken.entry?.name ?? takenName(taken.file);
        if (name === undefined) continue;
        const ours = taken.host.id === this.host.id;
        if (ours ? rules.busy.has(name) : !deadRemover(taken.host.id)) continue;
        const file = path.posix.join(this.removingDir, taken.file);
        if (taken.committed) {
          await files.unlink(file);
          done.push(`finished the Remove of ${name} by ${taken.host.name} (data left as it was)`);
        } else if (await this.putBackFile(files, file, name, true)) {
          done.push(`put back ${name}, whose Remove by ${taken.host.name} stopped before it committed`);
        }
      }
      for (const file of (await files.list(this.removedDir)) ?? []) {
        if (file.name.endsWith('.json') ? serverNow - file.mtime > rules.tombstoneSeconds : serverNow - file.mtime > rules.deadSeconds) {
          await files.unlink(path.posix.join(this.removedDir, file.name));
        }
      }
      for (const dir of (await files.list(this.mountsDir)) ?? []) {
        const marks = path.posix.join(this.mountsDir, dir.name);
        if (dir.name === this.host.id) {
          for (const mark of (await files.list(marks)) ?? []) if (!rules.held.has(unmarkName(mark.name))) await files.unlink(path.posix.join(marks, mark.name));
        } else if (dead(dir.name)) {
          for (const mark of (await files.list(marks)) ?? []) await files.unlink(path.posix.join(marks, mark.name));
          await files.removeDir(marks);
          done.push(`dropped the marks of dead host ${dir.name}`);
        }
      }
      for (const [id, mtime] of beats) {
        if (id !== this.host.id && serverNow - mtime > rules.tombstoneSeconds) await files.unlink(this.heartbeatFile(id));
      }
      for (const file of (await files.list(this.logDir)) ?? []) {
        if (serverNow - file.mtime > rules.logSeconds) await files.unlink(path.posix.join(this.logDir, file.name));
      }
      await this.tell(files);
      // Temp files are never older than one request; clock files were the previous version's.
      for (const dir of [this.volumesDir, this.hostsDir, this.removedDir, this.root, path.posix.join(this.root, 'clock')]) {
        for (const file of (await files.list(dir)) ?? []) {
          const stale = serverNow - file.mtime > rules.deadSeconds;
          if (file.kind === 'file' && stale && (file.name.endsWith('.tmp') || dir.endsWith('/clock'))) await files.unlink(path.posix.join(dir, file.name));
        }
      }
      return done;
    });
  }

  private async writeHeartbeat(files: StoreFiles, file: string, aside: boolean): Promise<number> {
    const temp = aside ? file : `${file}.${this.instance}.tmp`;
    await files.write(temp, Buffer.from(`${JSON.stringify({ ...this.host, instance: this.instance })}\n`));
    if (!aside) await files.replace(temp, file);
    const now = (await files.stat(file))?.mtime;
    if (aside) await files.unlink(temp);
    if (now === undefined) throw new Error(`the heartbeat ${file} vanished as it was written`);
    return now;
  }

  private async writeTombstone(files: StoreFiles, name: string, entry: CatalogueEntry | undefined): Promise<void> {
    await files.makeDir(this.removedDir);
    const tombstone: Tombstone & { record?: string } = { name, removedBy: this.host, removedAt: new Date().toISOString(), ...(entry === undefined ? {} : { record: recordId(entry) }) };
    const temp = `${this.tombstoneFile(name)}.${this.host.id}.tmp`;
    await files.write(temp, Buffer.from(`${JSON.stringify(tombstone)}\n`));
    await files.replace(temp, this.tombstoneFile(name));
  }

  /** A record of ours goes back from removing/; `force` (cleanup) replaces a record that got in meanwhile. */
  private putBackFile(files: StoreFiles, file: string, name: string, force: boolean): Promise<boolean> {
    // A host that looked for the record while it was away may have missed it: told.
    return this.changing(name, async () => {
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const moved = await files.rename(file, this.recordFile(name));
        if (moved === 'moved' || moved === 'missing') return moved === 'moved';
      }
      if (!force) return false;
      return (await files.replace(file, this.recordFile(name))) === 'moved';
    });
  }

  /** Our record goes, if it is still ours: renamed aside first, so another host's is never deleted. */
  private async takeBack(files: StoreFiles, entry: CatalogueEntry): Promise<boolean> {
    const aside = `${this.recordFile(entry.name)}.${this.host.id}.back.tmp`;
    if ((await files.replace(this.recordFile(entry.name), aside)) !== 'moved') return false;
    const there = await readJson(files, aside, (text) => this.parseRecord(aside, entry.name, text));
    if (there !== undefined && recordId(there) === recordId(entry)) {
      await files.unlink(aside);
      return true;
    }
    // Another host's record, away for a moment: a host that looked meanwhile is told (the caller tells).
    await files.rename(aside, this.recordFile(entry.name));
    return false;
  }

  /** Every Remove in progress or left over, any host's, for exactly this name. */
  private async takenOffOf(files: StoreFiles, name: string): Promise<TakenOff | undefined> {
    const listed = (await files.list(this.removingDir)) ?? [];
    const file = listed.find((candidate) => takenName(candidate.name) === name);
    return file === undefined ? undefined : this.readTaken(files, file.name, name);
  }

  private async allTakenOff(files: StoreFiles): Promise<TakenOff[]> {
    const result: TakenOff[] = [];
    for (const file of (await files.list(this.removingDir)) ?? []) {
      const name = takenName(file.name);
      if (name !== undefined) result.push(await this.readTaken(files, file.name, name));
    }
    return result;
  }

  private async readTaken(files: StoreFiles, file: string, name: string): Promise<TakenOff> {
    const id = file.slice(name.length + 1, -'.json'.length);
    const text = (await files.read(path.posix.join(this.removingDir, file)))?.toString('utf8');
    const entry = text === undefined ? undefined : this.parseRecord(path.posix.join(this.removingDir, file), name, text);
    const tombstone = (await files.read(this.tombstoneFile(name)))?.toString('utf8');
    const committed = committedFlag(text) || (tombstone !== undefined && (entry === undefined || tombstoneRecord(tombstone) === recordId(entry)));
    const who = parseHeartbeat((await files.read(this.heartbeatFile(id)))?.toString('utf8'));
    return { host: { id, name: who?.name ?? id.slice(0, 8) }, entry, committed, file };
  }

  /** The tombstone; one that cannot be read still says the volume was removed. */
  private async tombstoneOf(files: StoreFiles, name: string): Promise<Tombstone | undefined> {
    const text = (await files.read(this.tombstoneFile(name)))?.toString('utf8');
    if (text === undefined) return undefined;
    return parseTombstone(text, name) ?? { name, removedBy: { id: '?', name: 'an unknown host' }, removedAt: 'an unknown time (its tombstone is unreadable)' };
  }

  /**
   * Runs a change of `name`'s record and notes it as untold once it ran, whether it
   * succeeded or failed (a failure may have taken effect): never before, or a telling in
   * flight could tell of it before it happened.
   */
  private async changing<T>(name: string, change: () => Promise<T>): Promise<T> {
    try {
      return await change();
    } finally {
      this.untold.set(name, (this.changeVersion += 1));
    }
  }

  /**
   * Tells other hosts which names changed: one log file per name, then the change marker,
   * which other hosts poll. The marker is replaced by a file of ours whose times are set to
   * random values: two changes within one second (SFTP times are whole seconds) still give
   * two stamps, and only a file's owner may set its times, so each host sets them on its own
   * file. Its text names the last log file, so a host that already read that file knows the
   * marker moved for nothing new. Never fails the change it tells of: what is not told now
   * stays in `untold`, told at this host's next refresh.
   */
  private async tell(files: StoreFiles): Promise<void> {
    if (this.untold.size === 0) return;
    try {
      const told = [...this.untold].sort(([a], [b]) => a.localeCompare(b));
      let last = '';
      for (const [name] of told) {
        last = `${this.instance}-${(this.changeCount += 1)}.${name}`;
        const file = path.posix.join(this.logDir, last);
        await files.write(file, Buffer.alloc(0)).catch(async () => {
          await files.makeDir(this.logDir);
          await files.write(file, Buffer.alloc(0));
        });
      }
      const temp = `${this.markerFile}.${this.host.id}.tmp`;
      await files.write(temp, Buffer.from(`${last}\n`));
      await files.setTimes(temp, 1_000_000_000 + Math.floor(Math.random() * 1_000_000_000));
      await files.replace(temp, this.markerFile);
      for (const [name, version] of told) if (this.untold.get(name) === version) this.untold.delete(name);
    } catch {
      // Told at this host's next refresh (tellPending); the change itself stands.
    }
  }

  private catalogueMissing(): PluginError {
    return new PluginError('REMOTE_UNREACHABLE', `the store catalogue ${this.volumesDir} is missing on the store: it was moved, deleted or the store is not the one it was; the local copy answers until it is back`);
  }

  private recordFile = (name: string): string => path.posix.join(this.volumesDir, `${name}.json`);
  private takenFile = (name: string): string => path.posix.join(this.removingDir, `${name}.${this.host.id}.json`);
  private tombstoneFile = (name: string): string => path.posix.join(this.removedDir, `${name}.json`);
  private heartbeatFile = (id: string): string => path.posix.join(this.hostsDir, `${id}.json`);
  private markFile = (id: string, name: string): string => path.posix.join(this.mountsDir, id, markName(name));
}

/**
 * Whether the marker whose stamp ("mtime:size") this is can name a log file: ours holds
 * `INSTANCE-N.NAME`, 38 bytes at least (the instance is a UUID); the previous version's held
 * 1 to 10 random characters; 24 lies well between the two. Read from the stamp, so telling
 * them apart costs no request.
 */
export const markerNamesALogFile = (stamp: string): boolean => Number(stamp.slice(stamp.lastIndexOf(':') + 1)) >= 24;

/** A file of the change log and the volume name it tells of (undefined: not a valid name). */
export interface LoggedChange {
  file: string;
  name: string | undefined;
}

/** `<instance>-<n>.<volume name>`: the instance and number hold no dot, volume names may. */
function loggedName(file: string): string | undefined {
  const dot = file.indexOf('.');
  if (dot <= 0) return undefined;
  try {
    return checkVolumeName(file.slice(dot + 1));
  } catch {
    return undefined;
  }
}

/** The volume name of a removing/ file `<name>.<host ID>.json`, exactly (never a prefix). */
export function takenName(file: string): string | undefined {
  const match = /^(.+)\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.json$/.exec(file);
  return match?.[1];
}

const markName = (name: string): string => `${name}.mounted`;
const unmarkName = (file: string): string => file.replace(/\.mounted$/, '');

/** Which record a tombstone ends: the creator and creation time, unique per Create. */
export const recordId = (entry: CatalogueEntry): string => `${entry.createdBy.id}/${entry.createdAt}`;

/** A taken record its Remove marked as past the commit point. */
function committedFlag(text: string | undefined): boolean {
  try {
    return text !== undefined && (JSON.parse(text) as { committed?: unknown }).committed === true;
  } catch {
    return false;
  }
}

function tombstoneRecord(text: string): string | undefined {
  try {
    const value = JSON.parse(text) as { record?: unknown };
    return typeof value.record === 'string' ? value.record : undefined;
  } catch {
    return undefined;
  }
}

function parseHeartbeat(text: string | undefined): (HostIdentity & { instance: string }) | undefined {
  if (text === undefined) return undefined;
  const host = parseHost(text);
  try {
    const instance = (JSON.parse(text) as { instance?: unknown }).instance;
    return host === undefined || typeof instance !== 'string' ? undefined : { ...host, instance };
  } catch {
    return undefined;
  }
}

const beingRemoved = (name: string, taken: TakenOff): PluginError =>
  new PluginError(
    'CONFLICT',
    `volume ${name} is being removed by host ${taken.host.name} (host ID ${taken.host.id.slice(0, 8)}); its data may be going: create it again once that Remove is done`,
  );

/** A small JSON file parsed by `parse`; undefined when it is missing (removed while we looked). */
async function readJson<T>(files: StoreFiles, file: string, parse: (text: string) => T | undefined): Promise<T | undefined> {
  const data = await files.read(file);
  return data === undefined ? undefined : parse(data.toString('utf8'));
}
