/**
 * Serializes work per key (a volume name) while different keys run in parallel. The map
 * holds only keys with work pending, so it never grows with the number of volumes.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(work, work);
    // The caller gets the failure through `result`; the queue only waits for the turn to end.
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Keys with work queued or running now. */
  keys(): string[] {
    return [...this.tails.keys()];
  }

  /** Resolves when every piece of work queued so far has finished. */
  async idle(): Promise<void> {
    while (this.tails.size > 0) await Promise.all(this.tails.values());
  }
}
