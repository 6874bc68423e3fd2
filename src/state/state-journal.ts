import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { PluginError } from '../errors';
import { fsyncDir, writeFileAtomic } from '../system/atomic-write';
import { deleteLine, putLine, snapshotText, type LoadedState } from './state-file';
import type { VolumeRecord } from './volume-record';

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
}

// Compact once the journal holds this much more than a fresh snapshot would.
const COMPACT_SLACK_BYTES = 256 * 1024;

/**
 * Durable changes with group commit. Each `put` or `remove` resolves only after its line
 * is on disk (write + fdatasync); lines that arrive while a write is in flight share the
 * next one. A failed append is cut off again, so the file never keeps half a line.
 */
export class StateJournal {
  private handle: FileHandle | null = null;
  private size = 0;
  private snapshotBytes = 0;
  private queued: string[] = [];
  private waiters: Waiter[] = [];
  private flushing: Promise<void> | null = null;
  private needsRewrite = false;

  private constructor(
    readonly file: string,
    private readonly snapshot: () => Iterable<VolumeRecord>,
  ) {}

  /** Continues the file as `loaded` read it; a torn last line (an unacknowledged change) is dropped by a compaction. */
  static open(file: string, snapshot: () => Iterable<VolumeRecord>, loaded: LoadedState): StateJournal {
    const journal = new StateJournal(file, snapshot);
    journal.needsRewrite = loaded.tornTailBytes > 0 || loaded.volumes.size === 0;
    return journal;
  }

  put(record: VolumeRecord): Promise<void> {
    return this.enqueue(putLine(record));
  }

  remove(name: string): Promise<void> {
    return this.enqueue(deleteLine(name));
  }

  /** Waits for every change handed in so far. */
  async flush(): Promise<void> {
    // Each change's failure reaches its own caller; flush only waits for the writes to end.
    while (this.flushing !== null) await this.flushing.catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.flush();
    await this.handle?.close();
    this.handle = null;
  }

  private enqueue(line: string): Promise<void> {
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.queued.push(line);
    this.flushing ??= this.drain();
    return done;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queued.length > 0) {
        const lines = this.queued.splice(0);
        const waiters = this.waiters.splice(0);
        try {
          await this.write(lines.join(''));
          for (const waiter of waiters) waiter.resolve();
        } catch (error) {
          const failure = new PluginError('STATE_WRITE', `could not save the plugin state to ${this.file}: ${(error as Error).message}`, { cause: error });
          for (const waiter of waiters) waiter.reject(failure);
        }
      }
    } finally {
      this.flushing = null;
    }
  }

  private async write(text: string): Promise<void> {
    if (this.needsRewrite || this.size - this.snapshotBytes > Math.max(COMPACT_SLACK_BYTES, this.snapshotBytes)) {
      // The snapshot already holds this batch's changes: they were made in memory first.
      await this.compact();
      return;
    }
    const handle = await this.appendHandle();
    try {
      // appendFile loops over short writes (a nearly full disk takes part of a line).
      await handle.appendFile(text);
      await handle.datasync();
      this.size += Buffer.byteLength(text);
    } catch (error) {
      // Cut off whatever part of the batch reached the file, and rewrite the file from
      // memory next time: memory by then holds the callers' undo of this batch.
      // If even the cut fails, the rewrite below replaces the whole file from memory.
      await handle.truncate(this.size).catch(() => undefined);
      this.needsRewrite = true;
      throw error;
    }
  }

  private async compact(): Promise<void> {
    const text = snapshotText(this.snapshot());
    await this.handle?.close();
    this.handle = null;
    try {
      await writeFileAtomic(this.file, text);
    } catch (error) {
      this.needsRewrite = true;
      throw error;
    }
    this.size = Buffer.byteLength(text);
    this.snapshotBytes = this.size;
    this.needsRewrite = false;
  }

  private async appendHandle(): Promise<FileHandle> {
    if (this.handle !== null) return this.handle;
    const handle = await open(this.file, 'a', 0o600);
    this.size = (await handle.stat()).size;
    if (this.snapshotBytes === 0) this.snapshotBytes = this.size;
    await fsyncDir(path.dirname(this.file));
    this.handle = handle;
    return handle;
  }
}
