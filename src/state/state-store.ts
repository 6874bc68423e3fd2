import { PluginError } from '../errors';
import { writeFileAtomic } from './atomic-write';
import { serializeState } from './state-file';
import type { VolumeRecord } from './volume-record';

/**
 * Durable saves with group commit: every `save()` resolves only after a write that
 * started after the call has reached the disk. Calls that arrive while a write is in
 * flight share the next write, so a burst of N changes costs about two fsyncs, not N.
 */
export class StateStore {
  private inFlight: Promise<void> | null = null;
  private queued: Promise<void> | null = null;

  constructor(
    private readonly file: string,
    private readonly snapshot: () => Iterable<VolumeRecord>,
  ) {}

  save(): Promise<void> {
    if (this.queued !== null) return this.queued;
    const previous = this.inFlight?.catch(() => undefined);
    const job: Promise<void> = Promise.resolve(previous).then(() => this.write(job));
    this.queued = job;
    return job;
  }

  private async write(job: Promise<void>): Promise<void> {
    // The snapshot is taken now: callers from here on must queue the next write.
    this.queued = null;
    this.inFlight = job;
    try {
      await writeFileAtomic(this.file, serializeState(this.snapshot()));
    } catch (error) {
      throw new PluginError('STATE_WRITE', `could not save the plugin state to ${this.file}: ${(error as Error).message}`, { cause: error });
    } finally {
      if (this.inFlight === job) this.inFlight = null;
    }
  }

  /** Waits for every write started so far. */
  async flush(): Promise<void> {
    await this.queued?.catch(() => undefined);
    await this.inFlight?.catch(() => undefined);
  }
}
