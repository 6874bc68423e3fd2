import type { OptionSchema, RefusedOptions, VolumeOptions } from '../options/schema';

/** What a backend is told about a volume: everything it needs, nothing it may change. */
export interface VolumeSpec {
  readonly name: string;
  /** The same object for a volume's whole life in memory: backends may key parsed settings on it. */
  readonly options: VolumeOptions;
  /** Where Docker will look for the data: always under PLUGIN_MOUNT_ROOT (see mountpointOf). */
  readonly mountpoint: string;
}

/** What a backend is told about a Mount call beyond its volume. */
export interface MountCall {
  /** How long the call waited for its turn (earlier calls on the volume) before reaching the backend. */
  readonly queuedMs: number;
}

/** Undoes a Create. `keepRemoteData`: another host now owns what is on the server. */
export type Undo = (options?: { keepRemoteData?: boolean }) => Promise<void>;

export type StatusMap = Record<string, string | number | boolean>;

/**
 * The one interface between the volume service and storage. The service owns names,
 * mount IDs, locking and state; a backend only makes storage exist and become visible.
 * All methods may assume calls on one volume never overlap.
 */
export interface Backend {
  /** The value of `-o backend=` that picks this backend, and the name kept in state. */
  readonly kind: string;
  readonly options: OptionSchema;
  readonly refused: RefusedOptions;
  /**
   * Seconds the service waits after a volume's last Unmount before it calls unmount, for
   * backends whose mounts are costly to make; a Mount meanwhile keeps the live one.
   */
  readonly idleUnmountSeconds?: number;
  /** Volumes this backend shares with other hosts, when it has such a catalogue. */
  readonly catalogue?: SharedCatalogue | undefined;
  /** Whether options that name no backend are meant for this one (a server is named, say). */
  claims?(options: VolumeOptions): boolean;
  /** The volume's mountpoint, when not PLUGIN_MOUNT_ROOT/NAME; the same for its whole life. */
  mountpointOf?(name: string): string;
  /** Checks the options as a whole (required ones, combinations), after the allowlist. */
  checkSpec(spec: VolumeSpec): void;
  /**
   * Prepares storage. On failure it leaves nothing behind that it made; on success it
   * returns how to undo exactly that, for when the service cannot record the volume.
   */
  create(spec: VolumeSpec): Promise<Undo>;
  /** Deletes what Create prepared, as far as the volume's options allow. */
  remove(spec: VolumeSpec): Promise<void>;
  /**
   * Makes the mountpoint live. Idempotent: a live mountpoint is left as it is. A backend
   * that bounds a Mount's time counts it from when the call came (`call.queuedMs` before).
   */
  mount(spec: VolumeSpec, call?: MountCall): Promise<void>;
  /** Releases the mountpoint. Idempotent: a mountpoint that is not live is fine. */
  unmount(spec: VolumeSpec): Promise<void>;
  /** Backend part of `docker volume inspect` Status; from memory, never from the network. */
  status(spec: VolumeSpec): StatusMap;
  /** At start: drop leftovers of a dead process, and remount when mount IDs are still held. */
  recover(spec: VolumeSpec, held: boolean): Promise<void>;
  /** At start, after every volume's recover: drop what no volume claimed. */
  recovered?(): Promise<void>;
  /** At shutdown: the mountpoints stay (containers use them); only release resources. */
  close?(): Promise<void>;
}

/** Who a host is to the others sharing a store: a stable ID and a name for messages. */
export interface HostIdentity {
  id: string;
  name: string;
}

/** A volume's definition as every host of a store sees it. */
export interface CatalogueEntry {
  name: string;
  options: VolumeOptions;
  createdAt: string;
  createdBy: HostIdentity;
}

/** What a store says of a name looked up on it. */
export interface StoreLookup {
  entry?: CatalogueEntry;
  /** The name's volume was removed from the store, by that host at that time. */
  removed?: { by: HostIdentity; at: string };
}

/**
 * A volume taken off a store by a Remove: `commit` once its data is dealt with, or `undo`.
 * `committed`: the store already says it is removed (its tombstone is written before any
 * data goes), so a failure after this point is finished by the next Remove, never undone.
 */
export interface Withdrawal {
  committed: boolean;
  /**
   * The store had no record to take off (removed by another host, never published, or in
   * another host's hands this instant): only the host that took a record off deletes data.
   */
  keepData: boolean;
  commit(): Promise<void>;
  undo(): Promise<void>;
}

/**
 * A catalogue shared by every host of a store. Only volumes it `covers` are in it;
 * everything else stays local to this host. `find` and `names` answer from memory.
 */
export interface SharedCatalogue {
  readonly host: HostIdentity;
  /** Changes whenever the set of names changes. */
  readonly revision: number;
  covers(options: VolumeOptions): boolean;
  find(name: string): CatalogueEntry | undefined;
  names(): IterableIterator<string>;
  /** Seconds since the catalogue was last read from the store; undefined when never. */
  ageSeconds(): number | undefined;
  /** A name `find` did not know, asked of the store now; bounded in time, so it may miss. */
  findOnStore(name: string): Promise<StoreLookup>;
  /** Publishes a new volume; returns the entry that holds the name (ours or a winner's). */
  publish(entry: CatalogueEntry): Promise<CatalogueEntry>;
  /** Takes back a record this host published, for a Create that failed after publishing. */
  unpublish(entry: CatalogueEntry): Promise<void>;
  /** What is wrong between this host and the store, for Status (from memory); undefined when nothing. */
  health(): string | undefined;
  /** Takes a volume off the store; refuses (IN_USE) while another host has it mounted. */
  withdraw(name: string): Promise<Withdrawal>;
  /**
   * This host mounts the volume: its lease, taken only while the volume is on the store
   * (else NOT_FOUND) and, when `createdAt` is given, is still the volume this host knows
   * (else CONFLICT: another volume of that name replaced it).
   */
  hold(name: string, createdAt?: string): Promise<void>;
  /** Keeps a lease renewed that could not be taken now (the store down at a restart). */
  keep(name: string): void;
  /** Drops this host's lease; never fails (a lease not dropped expires by itself). */
  release(name: string): Promise<void>;
  /** Starts background refreshes; `removedElsewhere` hears of names another host withdrew. */
  start(removedElsewhere: (name: string) => void): void;
  stop(): void;
}
