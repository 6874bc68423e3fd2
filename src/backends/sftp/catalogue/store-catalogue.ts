import fs from 'node:fs/promises';
import { KeyedMutex } from '../../../common/keyed-mutex';
import { describe, isPluginError, PluginError } from '../../../errors';
import type { Logger } from '../../../log';
import type { VolumeOptions } from '../../../options/schema';
import { writeFileAtomic } from '../../../system/atomic-write';
import type { CatalogueEntry, HostIdentity, SharedCatalogue, StoreLookup, Withdrawal } from '../../backend';
import { markerNamesALogFile, recordId, type CatalogueRemote, type ListedEntry, type TakenOff } from './catalogue-remote';
import type { Lease, Tombstone } from './catalogue-records';

export interface StoreCatalogueOptions {
  remote: CatalogueRemote;
  /** Which volumes live on this store and so belong in its catalogue. */
  covers: (options: VolumeOptions) => boolean;
  host: HostIdentity;
  /** Local copy of the catalogue, so Get and List answer at once, also after a restart; none in the simulation. */
  cacheFile: string | undefined;
  /** Whether a record of the local copy may still be used (record-checks.ts): a copy may predate the checks. */
  admitsKept: (entry: CatalogueEntry) => boolean;
  leaseTtlSeconds: number;
  /** Seconds between full reads of the catalogue, whatever the change log says (a safety net). */
  refreshSeconds: number;
  log: Logger;
  /** This host's clock in ms (Date.now); the simulation gives its own. */
  clock?: () => number;
  /** Tombstones and dead hosts' heartbeats older than this go at cleanup (default a day). */
  tombstoneSeconds?: number;
  /** Closes what the catalogue opened for itself (the heartbeat's connection) at stop. */
  closeConnections?: () => Promise<void>;
}

interface CacheFile {
  refreshedAt: number;
  entries: CatalogueEntry[];
  /** Listing stamps (mtime:size) by name; a cache written before they were kept has none. */
  stamps?: Record<string, string>;
}

/** How often the change marker is read: creates and removals show within this, plus a read. */
const POLL_MS = 1000;
/** A lookup of an unknown name waits at most this long; then the local copy answers. */
const LOOKUP_BOUND_MS = 1000;
/** "Not on the store" is believed this long: the engine asks every driver for every name. */
const NEGATIVE_MS = 1000;
const MAX_NEGATIVE = 10_000;
/** Change log files live this long on the store, by its clock (docs/catalogue-protocol.md, "Visibility"). */
export const LOG_KEEP_SECONDS = 300;
/** More changed names than this at once are read with one full listing instead. */
const MAX_LOGGED_NAMES = 200;
/** How often a host cleans up the store (docs/catalogue-protocol.md, "Cleanup"). */
const CLEANUP_MS = 60_000;

/**
 * The default store's catalogue as this host sees it: an in-memory copy kept current by
 * polling the store's change marker each second and reading what its change log names,
 * saved locally; this host's heartbeat,
 * which keeps its marks on mounted volumes alive; and the rules for Remove, Create and
 * Mount racing across hosts (docs/catalogue-protocol.md).
 */
export class StoreCatalogue implements SharedCatalogue {
  private entries = new Map<string, ListedEntry>();
  private refreshedAt: number | undefined;
  /** Volumes this host has mounted: its marks say so on the store. */
  private readonly held = new Set<string>();
  /** Held, but the mark could not be written yet (the store down at a restart): written at the next renewal. */
  private readonly unmarked = new Set<string>();
  /** Released, but the mark could not be dropped: dropped at the next renewal. */
  private readonly unreleased = new Set<string>();
  /** Names of this host's Removes in progress: cleanup leaves their removing/ files alone. */
  private readonly busy = new Set<string>();
  /** One mark operation per volume at a time: a late write never re-creates a dropped mark. */
  private readonly leases = new KeyedMutex();
  private readonly absent = new Map<string, number>();
  private readonly removed = new Map<string, Tombstone>();
  private timers: NodeJS.Timeout[] = [];
  private refreshing: Promise<void> | undefined;
  private renewing: Promise<void> | undefined;
  private cleaning: Promise<void> | undefined;
  private lastStamp: string | undefined;
  private lastFullRead = 0;
  /** The change log's files as last listed; undefined until the first full read. */
  private seenLog: Set<string> | undefined;
  private lastLogRead = 0;
  private namesRevision = 0;
  /** Local time at which the last successful heartbeat was sent (its start: the conservative end). */
  private renewedAt: number | undefined;
  private duplicate: string | undefined;
  private storeProblem: { since: number; text: string } | undefined;
  private sawCatalogue = false;
  private warnedFenced = false;
  private readonly now: () => number;
  /** Called for names that were in the catalogue and are gone: another host removed them. */
  private removedElsewhere: (name: string) => void = () => undefined;

  readonly covers: (options: VolumeOptions) => boolean;

  constructor(private readonly options: StoreCatalogueOptions) {
    this.covers = options.covers;
    this.now = options.clock ?? Date.now;
  }

  get host(): HostIdentity {
    return this.options.host;
  }

  get revision(): number {
    return this.namesRevision;
  }

  /** A lease counts as dead only this long after its host's last heartbeat, by the server's clock. */
  get deadSeconds(): number {
    return this.options.leaseTtlSeconds + Math.max(2, this.options.leaseTtlSeconds / 6);
  }

  async load(): Promise<void> {
    if (this.options.cacheFile === undefined) return;
    try {
      const cache = JSON.parse(await fs.readFile(this.options.cacheFile, 'utf8')) as CacheFile;
      this.entries = new Map(cache.entries.filter((entry) => this.options.admitsKept(entry)).map((entry) => [entry.name, { entry, stamp: cache.stamps?.[entry.name] ?? '' }]));
      this.refreshedAt = cache.refreshedAt;
    } catch (error) {
      // A cache: missing or unreadable means it is rebuilt by the first refresh.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.options.log.warn('catalogue cache ignored', { error: describe(error) });
    }
  }

  /** Who hears of names another host withdrew (the service forgets them unless mounted). */
  onRemovedElsewhere(removedElsewhere: (name: string) => void): void {
    this.removedElsewhere = removedElsewhere;
  }

  start(removedElsewhere: (name: string) => void): void {
    this.onRemovedElsewhere(removedElsewhere);
    void this.renewAll();
    void this.refresh();
    const poll = setInterval(() => void this.refresh(), POLL_MS);
    const renew = setInterval(() => void this.renewAll(), (this.options.leaseTtlSeconds * 1000) / 3);
    const clean = setInterval(() => void this.repair(), CLEANUP_MS);
    for (const timer of [poll, renew, clean]) timer.unref();
    this.timers = [poll, renew, clean];
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    void this.options.closeConnections?.().catch(() => undefined);
  }

  find(name: string): CatalogueEntry | undefined {
    return this.entries.get(name)?.entry;
  }

  names(): IterableIterator<string> {
    return this.entries.keys();
  }

  ageSeconds(): number | undefined {
    return this.refreshedAt === undefined ? undefined : Math.round((this.now() - this.refreshedAt) / 100) / 10;
  }

  /** What is wrong between this host and the store, for Status; undefined when nothing is. */
  health(): string | undefined {
    const problems: string[] = [];
    const fenced = this.fenced();
    if (fenced !== undefined) problems.push(fenced);
    if (this.storeProblem !== undefined) {
      problems.push(`store unreachable for ${Math.round((this.now() - this.storeProblem.since) / 1000)} s (${this.storeProblem.text}); answers come from the local copy`);
    }
    return problems.length === 0 ? undefined : problems.join('; ');
  }

  /** Reads the change marker (one request), and the whole catalogue when it moved or is due. */
  refresh(): Promise<void> {
    this.refreshing ??= this.readStore().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /**
   * A name this host does not know, looked up on the store at once: the engine makes a
   * local-driver volume of a name no driver knows. Bounded: a slow or hung store gets
   * LOOKUP_BOUND_MS, then the local copy answers.
   */
  async findOnStore(name: string): Promise<StoreLookup> {
    const absentSince = this.absent.get(name);
    if (absentSince !== undefined && this.now() - absentSince < NEGATIVE_MS) return this.removedNote(name);
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), LOOKUP_BOUND_MS)));
    const asked = this.options.remote.readName(name, this.expectCatalogue()).catch((error: unknown) => {
      this.options.log.debug('lookup on the store failed; the local copy answers', { volume: name, error: describe(error) });
      return undefined;
    });
    const found = await Promise.race([asked, bound]);
    clearTimeout(timer);
    if (found?.entry !== undefined) {
      this.learn(found.entry);
      return { entry: found.entry };
    }
    if (found === undefined) return this.removedNote(name);
    if (found.removed !== undefined) this.removed.set(name, found.removed);
    if (this.absent.size >= MAX_NEGATIVE) this.absent.clear();
    this.absent.set(name, this.now());
    return this.removedNote(name);
  }

  /**
   * Publishes a new volume (refused while a Remove of the name is in progress). A failure
   * after the record may have gone in takes it back, and says whether that worked.
   */
  async publish(entry: CatalogueEntry): Promise<CatalogueEntry> {
    if (this.duplicate !== undefined) throw new PluginError('REMOTE_UNREACHABLE', `volume ${entry.name} was not created: ${this.duplicate}`);
    let holder: CatalogueEntry;
    try {
      holder = await this.options.remote.publish(entry);
    } catch (error) {
      if (isPluginError(error) && error.code === 'CONFLICT') throw error;
      const back = await this.unpublish(entry).then(
        () => 'nothing is left on the store',
        (undoError: unknown) => `its record may be left on the store without its directory (${describe(undoError)}): run docker volume rm ${entry.name}, then create it again`,
      );
      throw new PluginError('STORE_FAILED', `volume ${entry.name} was not created: ${describe(error)}; ${back}`, { cause: error });
    }
    this.sawCatalogue = true;
    this.learn(holder);
    return holder;
  }

  /**
   * Takes back a record this host published for a Create that failed after. Another host
   * may have mounted it meanwhile, so it goes the way of a Remove (its leases, its
   * tombstone), and is refused like one.
   */
  async unpublish(entry: CatalogueEntry): Promise<void> {
    await (await this.withdraw(entry.name, entry)).commit();
  }

  /**
   * A Remove's store side (docs/catalogue-protocol.md, "Remove against Mount"): other hosts'
   * leases are read before the record is touched, so a refused Remove never hides the volume;
   * then the record is taken off, the leases read again (a Mount that raced us), and the
   * tombstone written: the commit point, after which the Remove is never undone and the data
   * may go. Before it, every failure puts the record back or leaves it for `repair`.
   */
  async withdraw(name: string, only?: CatalogueEntry): Promise<Withdrawal> {
    if (this.busy.has(name)) throw new PluginError('IN_USE', `volume ${name} is being removed by this host already; try again in a moment`);
    this.busy.add(name);
    const started = this.now();
    let keepBusy = false;
    try {
      await this.requireRenewed((why) => `cannot withdraw volume ${name} from the store: ${why}; nothing was removed, try again when the store answers`);
      this.refuseLive(name, await this.storeStep(name, 'read the leases', () => this.options.remote.leasesOn(name)));
      const taken = await this.storeStep(name, 'take the record off', () => this.options.remote.takeOff(name, only), 'if the record was taken off, this host puts it back within a minute');
      if (taken === 'none') {
        this.busy.delete(name);
        // Nothing of ours on the store: forget the name, unless what this host knows is another host's record.
        const forget = (): void => {
          const known = this.find(name);
          if (only === undefined || known === undefined || recordId(known) === recordId(only)) this.forget(name);
        };
        return { committed: false, keepData: true, commit: () => Promise.resolve(forget()), undo: () => Promise.resolve() };
      }
      if (taken === 'committed') {
        // A Remove of ours that passed its commit point and failed after: finished now.
        keepBusy = true;
        return this.committedWithdrawal(name);
      }
      const putBack = async (why: string): Promise<never> => {
        const back = await this.options.remote.putBack(name).catch(() => false);
        throw new PluginError('IN_USE', `${why}; ${back ? 'the volume stays' : 'the record could not be put back yet: this host puts it back within a minute'}`);
      };
      let leases: Lease[];
      try {
        leases = await this.options.remote.leasesOn(name);
      } catch (error) {
        return await putBack(`volume ${name} was not removed: the store failed while reading leases (${describe(error)})`);
      }
      const live = this.liveOnes(leases);
      if (live.length > 0) return await putBack(inUseText(name, live, this.options.leaseTtlSeconds));
      // A Remove slower than half the TTL may have been counted dead by another host's cleanup.
      if (this.now() - started > (this.options.leaseTtlSeconds * 1000) / 2) return await putBack(`volume ${name} was not removed: the store answered too slowly to decide safely; try again`);
      await this.storeStep(name, 'write the tombstone', () => this.options.remote.entomb(name), 'run docker volume rm again on this host to finish, or it is put back within a minute');
      keepBusy = true;
      this.removed.set(name, { name, removedBy: this.host, removedAt: new Date(this.now()).toISOString() });
      return this.committedWithdrawal(name);
    } finally {
      if (!keepBusy) this.busy.delete(name);
    }
  }

  /** Past the commit point: the data may go; `commit` drops the removing/ file, `undo` undoes nothing. */
  private committedWithdrawal(name: string): Withdrawal {
    this.forget(name);
    return {
      committed: true,
      keepData: false,
      commit: async () => {
        try {
          await this.options.remote.finishRemove(name);
        } finally {
          this.busy.delete(name);
        }
        this.held.delete(name);
      },
      undo: () => Promise.resolve(void this.busy.delete(name)),
    };
  }

  /**
   * Marks the volume as mounted here before a first Mount, and proves it is still on the
   * store after the mark is written (see withdraw). Refused while this host cannot renew its
   * heartbeat: a Remove elsewhere may count it dead.
   */
  async hold(name: string, createdAt?: string): Promise<void> {
    // Outside the mark lock: a renewal takes it to write marks it owes.
    await this.requireRenewed((why) => `cannot mount store volume ${name} now: ${why}`);
    return this.leases.run(name, async () => {
      let answer;
      try {
        answer = await this.options.remote.mark(name);
      } catch (error) {
        throw new PluginError('REMOTE_UNREACHABLE', `cannot mark volume ${name} as mounted on this host at the store: ${describe(error)}; try again when the store answers`, { cause: error });
      }
      const replaced = answer.entry !== undefined && createdAt !== undefined && answer.entry.createdAt !== createdAt;
      if (answer.present && !replaced && this.fenced() === undefined) {
        this.held.add(name);
        this.unreleased.delete(name);
        return;
      }
      await this.unmark(name);
      if (replaced) {
        if (answer.entry !== undefined) this.learn(answer.entry);
        throw new PluginError(
          'CONFLICT',
          `volume ${name} on the store is another volume of that name now (created by host ${answer.entry?.createdBy.name} at ${answer.entry?.createdAt}); this host knows the one created at ${createdAt}: remove ${name} here (its data is not touched) and use the store's`,
        );
      }
      if (answer.present) throw new PluginError('REMOTE_UNREACHABLE', `volume ${name} was not mounted: ${this.fenced() ?? ''}`);
      if (answer.catalogueMissing) throw new PluginError('REMOTE_UNREACHABLE', `volume ${name} was not mounted: the store catalogue is missing on the store; try again when the store is back`);
      if (answer.removing !== undefined) throw removingText(name, answer.removing);
      if (answer.removed !== undefined) this.removed.set(name, answer.removed);
      this.forget(name);
      throw new PluginError('NOT_FOUND', `volume ${name} ${removedText(answer.removed)}; create it again to use it`);
    });
  }

  /** Keeps a volume marked that could not be marked now (at a restart, the store down). */
  keep(name: string): void {
    this.held.add(name);
    this.unmarked.add(name);
  }

  /** Drops the mark; never fails (one not dropped now is dropped at a later renewal). */
  release(name: string): Promise<void> {
    return this.leases.run(name, async () => {
      if (this.held.delete(name)) await this.unmark(name);
    });
  }

  /**
   * Renews this host's heartbeat: one write per host whatever the number of mounted
   * volumes, never two at once. Marks and unmarks the store could not take before go now.
   */
  renewAll(): Promise<void> {
    this.renewing ??= this.renewOnce().finally(() => {
      this.renewing = undefined;
    });
    return this.renewing;
  }

  /** Removes what no live host needs and finishes what dead hosts left (docs/catalogue-protocol.md, "Cleanup"). */
  repair(): Promise<void> {
    this.cleaning ??= this.cleanOnce().finally(() => {
      this.cleaning = undefined;
    });
    return this.cleaning;
  }

  private async cleanOnce(): Promise<void> {
    if (this.fenced() !== undefined) await this.renewAll();
    const fenced = this.fenced();
    if (fenced !== undefined) return this.options.log.debug('store catalogue not cleaned up', { problem: fenced });
    try {
      const done = await this.options.remote.cleanUp({
        deadSeconds: this.deadSeconds,
        tombstoneSeconds: this.options.tombstoneSeconds ?? 86_400,
        logSeconds: LOG_KEEP_SECONDS,
        busy: this.busy,
        held: new Set([...this.held, ...this.leasesInFlight()]),
      });
      for (const line of done) this.options.log.info('store catalogue cleanup', { done: line });
    } catch (error) {
      this.options.log.debug('store catalogue not cleaned up', { error: describe(error) });
    }
  }

  /** Names whose mark operation runs now: a hold's mark is written before the name is held. */
  private leasesInFlight(): string[] {
    return this.leases.keys();
  }

  private async renewOnce(): Promise<void> {
    const sent = this.now();
    try {
      const beat = await this.options.remote.heartbeat(this.deadSeconds, this.expectCatalogue());
      if (beat.duplicate !== undefined) {
        const text = `another running host uses this host's ID ${this.host.id} (its heartbeat is ${Math.round(beat.duplicate.ageSeconds)} s old): a copied data directory? Stop one of them and delete host-id in its data directory; until then this host refuses Create, Remove and first Mounts of store volumes`;
        if (this.duplicate === undefined) this.options.log.error('duplicate host ID on the store', { hostId: this.host.id, other: beat.duplicate.name });
        this.duplicate = text;
        return;
      }
      this.duplicate = undefined;
      this.renewedAt = sent;
      if (this.warnedFenced) this.options.log.info('store lease renewed again; first Mounts are accepted', {});
      this.warnedFenced = false;
    } catch (error) {
      const fenced = this.fenced();
      if (fenced !== undefined && !this.warnedFenced) {
        this.warnedFenced = true;
        this.options.log.warn('store lease not renewed', { problem: fenced, error: describe(error) });
      }
      return;
    }
    for (const name of [...this.unmarked]) {
      await this.leases.run(name, async () => {
        if (!this.held.has(name)) return void this.unmarked.delete(name);
        await this.options.remote.markOnly(name).then(
          () => this.unmarked.delete(name),
          () => undefined,
        );
      });
    }
    for (const name of [...this.unreleased]) {
      await this.leases.run(name, async () => {
        if (this.held.has(name)) return void this.unreleased.delete(name);
        await this.options.remote.unmark(name).then(
          () => this.unreleased.delete(name),
          () => undefined,
        );
      });
    }
  }

  /** Why this host must not start a Mount or Remove now; undefined when it may. */
  private fenced(): string | undefined {
    if (this.duplicate !== undefined) return this.duplicate;
    const half = (this.options.leaseTtlSeconds * 1000) / 2;
    if (this.renewedAt === undefined) return 'this host has not renewed its heartbeat on the store yet';
    const since = this.now() - this.renewedAt;
    if (since <= half) return undefined;
    return `this host could not renew its heartbeat on the store for ${Math.round(since / 1000)} s (half the lease TTL is ${half / 1000} s): first Mounts are refused until it can, and after ${this.deadSeconds} s other hosts may remove volumes mounted here`;
  }

  private async requireRenewed(refusal: (why: string) => string): Promise<void> {
    if (this.fenced() === undefined) return;
    await this.renewAll();
    const fenced = this.fenced();
    if (fenced !== undefined) throw new PluginError('REMOTE_UNREACHABLE', refusal(fenced));
  }

  private liveOnes(leases: Lease[]): Lease[] {
    return leases.filter((lease) => lease.ageSeconds < this.deadSeconds);
  }

  private refuseLive(name: string, leases: Lease[]): void {
    const live = this.liveOnes(leases);
    if (live.length > 0) throw new PluginError('IN_USE', inUseText(name, live, this.options.leaseTtlSeconds));
  }

  /** A store step of a Remove: its failure says what state it leaves. */
  private async storeStep<T>(name: string, what: string, work: () => Promise<T>, after = 'nothing was changed'): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (isPluginError(error) && error.code !== 'STORE_FAILED') throw error;
      throw new PluginError('REMOTE_UNREACHABLE', `volume ${name} was not removed: the store failed to ${what} (${describe(error)}); ${after}`, { cause: error });
    }
  }

  private async unmark(name: string): Promise<void> {
    try {
      await this.options.remote.unmark(name);
      this.unreleased.delete(name);
    } catch (error) {
      this.unreleased.add(name);
      this.options.log.warn('mark not dropped; dropped at the next renewal', { volume: name, error: describe(error) });
    }
  }

  private expectCatalogue(): boolean {
    return this.sawCatalogue || this.entries.size > 0;
  }

  private removedNote(name: string): StoreLookup {
    const tombstone = this.removed.get(name);
    return tombstone === undefined ? {} : { removed: { by: tombstone.removedBy, at: tombstone.removedAt } };
  }

  private learn(entry: CatalogueEntry): void {
    const known = this.entries.get(entry.name);
    const had = known !== undefined;
    // A record that differs from the one listed is read again at the next full read.
    const same = known !== undefined && JSON.stringify(known.entry) === JSON.stringify(entry);
    this.entries.set(entry.name, { entry, stamp: same ? known.stamp : '' });
    this.absent.delete(entry.name);
    if (!had) this.namesRevision += 1;
  }

  private forget(name: string): void {
    if (this.entries.delete(name)) this.namesRevision += 1;
  }

  /**
   * Brings the copy up to date: the marker (one stat) says whether anything changed; if so,
   * the change log names what, and only those names are read again (a cost that does not
   * grow with the number of volumes). Everything is read when the log cannot tell: at the
   * first read, after this host was away longer than half the log's life, when a host of
   * the previous version moved the marker or it moved with nothing new in the log, and every
   * `refreshSeconds` as a safety net (docs/catalogue-protocol.md, "Visibility").
   */
  private async readStore(): Promise<void> {
    try {
      await this.options.remote.tellPending();
      const stamp = await this.options.remote.changeStamp();
      const due = this.now() - this.lastFullRead >= this.options.refreshSeconds * 1000;
      if (stamp !== this.lastStamp || due) {
        const logFresh = this.seenLog !== undefined && this.now() - this.lastLogRead < (LOG_KEEP_SECONDS * 1000) / 2;
        if (due || !logFresh || !(await this.readChanges(stamp))) await this.readAll(stamp);
        await this.saveCache();
      }
      this.refreshedAt = this.now();
      this.storeProblem = undefined;
    } catch (error) {
      this.storeProblem ??= { since: this.now(), text: describe(error) };
      this.storeProblem.text = describe(error);
      this.options.log.debug('catalogue not refreshed', { error: describe(error) });
    }
  }

  /** Reads again only the names the change log says changed; false when the log cannot tell. */
  private async readChanges(stamp: string): Promise<boolean> {
    // Moved by a host of the previous version: what it changed is in no log.
    if (!markerNamesALogFile(stamp)) return false;
    const readAt = this.now();
    const log = await this.options.remote.changeLog();
    if (log === undefined) return false;
    const seen = this.seenLog ?? new Set<string>();
    const fresh = log.filter((change) => !seen.has(change.file));
    if (fresh.length === 0) {
      // Moved with nothing new: the marker names a log file read before (we raced its writer), or a host of the previous version moved it.
      const named = await this.options.remote.markerText();
      if (named === undefined || !seen.has(named)) return false;
    }
    const names = [...new Set(fresh.flatMap((change) => (change.name === undefined ? [] : [change.name])))].sort();
    if (names.length > MAX_LOGGED_NAMES) return false;
    for (const name of names) await this.reread(name);
    this.seenLog = new Set(log.map((change) => change.file));
    this.lastLogRead = readAt;
    this.lastStamp = stamp;
    return true;
  }

  /** One name as the store has it now: its record (or one a Remove holds), else gone. */
  private async reread(name: string): Promise<void> {
    const found = await this.options.remote.readName(name, this.expectCatalogue());
    if (found.entry !== undefined) return this.learn(found.entry);
    if (found.removed !== undefined) this.removed.set(name, found.removed);
    if (!this.entries.has(name)) return;
    this.forget(name);
    this.removedElsewhere(name);
  }

  /** Every record; the log is listed first, so a change logged during the listing is read again next time, never skipped. */
  private async readAll(stamp: string): Promise<void> {
    const readAt = this.now();
    const log = await this.options.remote.changeLog();
    const previous = this.entries;
    const next = await this.options.remote.list(previous, this.expectCatalogue());
    this.entries = next;
    this.seenLog = new Set((log ?? []).map((change) => change.file));
    this.lastLogRead = readAt;
    this.lastStamp = stamp;
    this.lastFullRead = readAt;
    if (next.size > 0) this.sawCatalogue = true;
    if (previous.size !== next.size || [...next.keys()].some((name) => !previous.has(name))) this.namesRevision += 1;
    for (const name of next.keys()) this.absent.delete(name);
    for (const name of previous.keys()) if (!next.has(name)) this.removedElsewhere(name);
  }

  /** The local copy, with each record's listing stamp: a restart then reads only what changed. */
  private async saveCache(): Promise<void> {
    if (this.options.cacheFile === undefined) return;
    const listed = [...this.entries.values()];
    const cache: CacheFile = {
      refreshedAt: this.now(),
      entries: listed.map((known) => known.entry),
      stamps: Object.fromEntries(listed.filter((known) => known.stamp !== '').map((known) => [known.entry.name, known.stamp])),
    };
    await writeFileAtomic(this.options.cacheFile, JSON.stringify(cache));
  }
}

const inUseText = (name: string, live: Lease[], ttl: number): string => {
  const hosts = live.map((lease) => `${lease.host.name} (host ID ${lease.host.id.slice(0, 8)}, lease renewed ${Math.round(lease.ageSeconds)} s ago)`);
  return `volume ${name} is mounted on ${hosts.join(', ')}; stop its containers there first. A host that died stops counting a little over ${ttl} s after its last heartbeat`;
};

const removingText = (name: string, taken: TakenOff): PluginError =>
  new PluginError('NOT_FOUND', `volume ${name} is being removed by host ${taken.host.name} (host ID ${taken.host.id.slice(0, 8)}); it cannot be mounted now, try again in a moment`);

const removedText = (tombstone: Tombstone | undefined): string =>
  tombstone === undefined ? 'was removed from the store' : `was removed from the store by host ${tombstone.removedBy.name} at ${tombstone.removedAt}`;
