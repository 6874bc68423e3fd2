/** Wall-clock timings of hooks and tests, printed as one table at the end of the run. */
export class Timings {
  private readonly rows: { label: string; ms: number; ok: boolean }[] = [];
  private readonly started = Date.now();
  /** Milliseconds spent in shared setup (labels starting with "setup"), summed. */
  setupMs = 0;

  add(label: string, ms: number, ok = true): void {
    this.rows.push({ label, ms, ok });
  }

  async measure<T>(label: string, fn: () => Promise<T>): Promise<T> {
    const t0 = Date.now();
    let ok = false;
    try {
      const value = await fn();
      ok = true;
      return value;
    } finally {
      const ms = Date.now() - t0;
      if (label.startsWith('setup')) this.setupMs += ms;
      this.add(label, ms, ok);
    }
  }

  report(): string {
    const width = Math.max(10, ...this.rows.map((r) => r.label.length));
    const lines = this.rows.map((r) => `  ${r.label.padEnd(width)}  ${(r.ms / 1000).toFixed(1).padStart(7)} s${r.ok ? '' : '  (failed)'}`);
    lines.push(`  ${'total (wall clock, whole tier)'.padEnd(width)}  ${((Date.now() - this.started) / 1000).toFixed(1).padStart(7)} s`);
    return `\n  e2e timings\n${lines.join('\n')}\n`;
  }
}

/**
 * describe() that records the case's wall time, less the shared setup (engines, build,
 * registry) it happened to trigger, which is listed on its own rows.
 */
export function timedDescribe(timings: Timings, title: string, body: () => void): void {
  describe(title, function () {
    let t0 = 0;
    let setup0 = 0;
    before(() => {
      t0 = Date.now();
      setup0 = timings.setupMs;
    });
    body();
    after(function () {
      const setup = timings.setupMs - setup0;
      const tests = this.test?.parent?.tests ?? [];
      const ok = tests.every((t) => t.state !== 'failed');
      const label = `${title.split(':')[0]}${setup > 0 ? ` (+${(setup / 1000).toFixed(0)} s of setup above)` : ''}`;
      timings.add(label, Date.now() - t0 - setup, ok);
    });
  });
}
