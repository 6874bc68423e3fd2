import type { OptionSchema, RefusedOptions, VolumeOptions } from '../options/schema';

export const BACKEND_KINDS = ['local', 'sftp'] as const;
export type BackendKind = (typeof BACKEND_KINDS)[number];

/** What a backend is told about a volume: everything it needs, nothing it may change. */
export interface VolumeSpec {
  readonly name: string;
  readonly options: VolumeOptions;
  /** Where Docker will look for the data: always under PLUGIN_MOUNT_ROOT (see mountpointOf). */
  readonly mountpoint: string;
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
  readonly kind: BackendKind;
  readonly options: OptionSchema;
  readonly refused: RefusedOptions;
  /**
   * Seconds the service waits after a volume's last Unmount before it calls unmount, for
   * backends whose mounts are costly to make; a Mount meanwhile keeps the live one.
   */
  readonly idleUnmountSeconds?: number;
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
  /** Makes the mountpoint live. Idempotent: a live mountpoint is left as it is. */
  mount(spec: VolumeSpec): Promise<void>;
  /** Releases the mountpoint. Idempotent: a mountpoint that is not live is fine. */
  unmount(spec: VolumeSpec): Promise<void>;
  /** Backend part of `docker volume inspect` Status; from memory, never from the network. */
  status(spec: VolumeSpec): StatusMap;
  /** At start: drop leftovers of a dead process, and remount when mount IDs are still held. */
  recover(spec: VolumeSpec, held: boolean): Promise<void>;
  /** At shutdown: the mountpoints stay (containers use them); only release resources. */
  close?(): Promise<void>;
}
