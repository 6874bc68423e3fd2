import type { KeyedMutex } from '../common/keyed-mutex';
import { describe } from '../errors';
import type { Logger } from '../log';
import { isMounted } from '../state/volume-record';
import type { VolumeBackends } from './volume-backends';
import type { VolumeTable } from './volume-table';

/**
 * Backend mounts kept live for a while after a volume's last Unmount (the backend's
 * idleUnmountSeconds): containers that come and go reuse the connection. A Mount in that
 * time cancels the release; the release runs under the volume's lock.
 */
export class IdleReleases {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly lock: KeyedMutex,
    private readonly table: VolumeTable,
    private readonly backends: VolumeBackends,
    private readonly log: Logger,
  ) {}

  /** Under the volume's lock: releases the backend mount `seconds` from now. */
  schedule(name: string, seconds: number): void {
    this.cancel(name);
    const timer = setTimeout(() => void this.lock.run(name, () => this.release(name, timer)), seconds * 1000);
    timer.unref();
    this.timers.set(name, timer);
  }

  /** A Mount during the idle time keeps the live backend mount. */
  cancel(name: string): void {
    clearTimeout(this.timers.get(name));
    this.timers.delete(name);
  }

  /**
   * Under the volume's lock: unmounts an idle backend mount now, if nothing mounted it
   * since (and, for a timer, if that timer is still the volume's). Never throws.
   */
  async release(name: string, timer?: NodeJS.Timeout): Promise<void> {
    const pending = this.timers.get(name);
    if (pending === undefined || (timer !== undefined && timer !== pending)) return;
    this.cancel(name);
    const record = this.table.get(name);
    if (record === undefined || isMounted(record)) return;
    try {
      await this.backends.of(record).unmount(this.backends.spec(record));
    } catch (error) {
      this.log.warn('idle mount not released', { volume: name, error: describe(error) });
    }
  }

  /** At shutdown: no container uses an idle mount, so none is left behind. */
  async releaseAll(): Promise<void> {
    await Promise.all([...this.timers.keys()].map((name) => this.lock.run(name, () => this.release(name))));
  }
}
