import type { CatalogueEntry, HostIdentity, SharedCatalogue, StoreLookup, Withdrawal } from '../../src/backends/backend';

/** The steps a FakeCatalogue can be told to fail; `put back` is a withdrawal's undo. */
export type CatalogueStep = 'publish' | 'unpublish' | 'withdraw' | 'commit' | 'put back' | 'hold' | 'release';

/**
 * A SharedCatalogue of one store in memory, covering every volume. It writes each call into
 * `events` (shared with a fake backend, so their order shows) and throws at the steps in
 * `failing`.
 */
export class FakeCatalogue implements SharedCatalogue {
  readonly host: HostIdentity = { id: 'id-of-this-host', name: 'this-host' };
  revision = 0;
  readonly entries = new Map<string, CatalogueEntry>();
  readonly failing = new Set<CatalogueStep>();
  /** What publish answers while set: the entry of a host that holds the name already. */
  holder: CatalogueEntry | undefined;
  /** Whether a withdrawal has passed the store's commit point when it returns (its tombstone written). */
  withdrawalsCommitted = false;
  /** Called as a withdrawal commits, for a test to note what holds at that moment. */
  onCommit: (() => void) | undefined;

  constructor(readonly events: string[]) {}

  covers(): boolean {
    return true;
  }

  find(name: string): CatalogueEntry | undefined {
    return this.entries.get(name);
  }

  names(): IterableIterator<string> {
    return this.entries.keys();
  }

  ageSeconds(): number {
    return 0;
  }

  findOnStore(name: string): Promise<StoreLookup> {
    const entry = this.entries.get(name);
    return Promise.resolve(entry === undefined ? {} : { entry });
  }

  publish(entry: CatalogueEntry): Promise<CatalogueEntry> {
    return this.step('publish', entry.name, () => {
      const holder = this.holder ?? entry;
      this.entries.set(entry.name, holder);
      this.revision += 1;
      return holder;
    });
  }

  unpublish(entry: CatalogueEntry): Promise<void> {
    return this.step('unpublish', entry.name, () => {
      this.entries.delete(entry.name);
      this.revision += 1;
    });
  }

  health(): string | undefined {
    return undefined;
  }

  withdraw(name: string): Promise<Withdrawal> {
    return this.step('withdraw', name, () => ({
      committed: this.withdrawalsCommitted,
      keepData: false,
      commit: () =>
        this.step('commit', name, () => {
          this.onCommit?.();
          this.entries.delete(name);
          this.revision += 1;
        }),
      undo: () => this.step('put back', name, () => undefined),
    }));
  }

  hold(name: string, _createdAt?: string): Promise<void> {
    return this.step('hold', name, () => undefined);
  }

  keep(name: string): void {
    this.events.push(`catalogue keep ${name}`);
  }

  release(name: string): Promise<void> {
    return this.step('release', name, () => undefined);
  }

  start(): void {}

  stop(): void {}

  /** Writes "catalogue STEP NAME" (" failed" when told to fail), then fails or answers what `work` returns. */
  private step<T>(step: CatalogueStep, name: string, work: () => T): Promise<T> {
    const fails = this.failing.has(step);
    this.events.push(`catalogue ${step} ${name}${fails ? ' failed' : ''}`);
    return fails ? Promise.reject(new Error(`fake catalogue: ${step} failed`)) : Promise.resolve(work());
  }
}
