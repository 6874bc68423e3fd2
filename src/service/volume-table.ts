import type { StateJournal } from '../state/state-journal';
import type { VolumeRecord } from '../state/volume-record';

/**
 * The volumes this host keeps, in memory and in the journal together. Every change is
 * made in memory, journaled, and reverted in memory when it cannot be saved, so a call
 * that fails leaves memory as the file has it. Reads answer from memory.
 */
export class VolumeTable {
  private changes = 0;

  constructor(
    private readonly volumes: Map<string, VolumeRecord>,
    private readonly journal: StateJournal,
  ) {}

  /** Moves with every change, also a reverted one: what List answers may have changed. */
  get generation(): number {
    return this.changes;
  }

  get size(): number {
    return this.volumes.size;
  }

  get(name: string): VolumeRecord | undefined {
    return this.volumes.get(name);
  }

  has(name: string): boolean {
    return this.volumes.has(name);
  }

  values(): IterableIterator<VolumeRecord> {
    return this.volumes.values();
  }

  /** Adds a record (or replaces the one of its name) and saves it. */
  insert(record: VolumeRecord): Promise<void> {
    const previous = this.volumes.get(record.name);
    return this.saved(
      () => this.volumes.set(record.name, record),
      () => (previous === undefined ? this.volumes.delete(record.name) : this.volumes.set(record.name, previous)),
      () => this.journal.put(record),
    );
  }

  /** Changes a record in place with `apply`; `revert` undoes exactly that if it cannot be saved. */
  update(record: VolumeRecord, apply: () => void, revert: () => void): Promise<void> {
    return this.saved(apply, revert, () => this.journal.put(record));
  }

  delete(name: string): Promise<void> {
    const record = this.volumes.get(name);
    if (record === undefined) return Promise.resolve();
    return this.saved(
      () => this.volumes.delete(name),
      () => this.volumes.set(name, record),
      () => this.journal.remove(name),
    );
  }

  /** Waits until every change so far is on disk. */
  flush(): Promise<void> {
    return this.journal.flush();
  }

  private async saved(apply: () => void, revert: () => void, save: () => Promise<void>): Promise<void> {
    apply();
    this.changes += 1;
    try {
      await save();
    } catch (error) {
      revert();
      this.changes += 1;
      throw error;
    }
  }
}
