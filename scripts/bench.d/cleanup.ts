/**
 * The one clean-up path of scripts/bench: everything a run starts (engine, sshd, daemons,
 * proxies, mounts) is held here with the way to stop it. A normal end releases each in
 * turn; the end of the run, a failure or a signal stops what is still held, last first,
 * then unmounts whatever is left below the work directory and removes it.
 */
import { log } from './lib/proc';
import { removeUnmounted, unmountUnder } from './lib/mounts';

export interface Held {
  /** Stops the thing now (once) and forgets it. */
  release(): Promise<void>;
}

interface Entry {
  what: string;
  stop: () => unknown;
  done?: Promise<void>;
}

export class Cleanup {
  private readonly held: Entry[] = [];
  private closing: Promise<void> | undefined;
  /** Set when a signal asked the run to stop. */
  interrupted = false;

  constructor(
    /** Mounts below it are undone at the end. */
    private readonly dir: string,
    private readonly options: {
      /** Mounts below these stay (the engine a --keep run leaves). */
      keepUnder?: readonly string[];
      /** Remove the directory at the end (when nothing is mounted below it any more). */
      removeDir?: boolean;
    } = {},
  ) {}

  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** Holds something started; `stop` runs once, on release() or at the end. Refused once closing. */
  hold(what: string, stop: () => unknown): Held {
    const entry: Entry = { what, stop };
    if (this.closed) {
      void this.stopEntry(entry);
      throw new Error(`stopping: ${what} not started`);
    }
    this.held.push(entry);
    return {
      release: async () => {
        const at = this.held.indexOf(entry);
        if (at >= 0) this.held.splice(at, 1);
        await this.stopEntry(entry);
      },
    };
  }

  /** Runs `body` with `thing` held; releases it however `body` ends. */
  async using<T, R>(what: string, thing: T, stop: (thing: T) => unknown, body: (thing: T) => Promise<R>): Promise<R> {
    const held = this.hold(what, () => stop(thing));
    try {
      return await body(thing);
    } finally {
      await held.release();
    }
  }

  /**
   * On SIGINT, SIGTERM or SIGHUP: close, then `after`, then exit 130. `on`, not `once`: a
   * Ctrl-C reaches this process twice (from the terminal and relayed by tsx), and a second
   * signal without a handler would end it before the clean-up.
   */
  exitOnSignals(after: () => void): void {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(signal, () => {
        if (this.interrupted) return;
        this.interrupted = true;
        log(`${signal}: stopping everything this run started`);
        void this.close().finally(() => {
          after();
          process.exit(130);
        });
      });
    }
  }

  /** Stops everything still held, last first, then unmounts what is left below the directory (and removes it). Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const entry of this.held.splice(0).reverse()) await this.stopEntry(entry);
      try {
        await unmountUnder(this.dir, this.options.keepUnder);
        if (this.options.removeDir === true) await removeUnmounted(this.dir);
      } catch (error) {
        log(`clean-up: leftover mounts: ${(error as Error).message}`);
      }
    })();
    return this.closing;
  }

  private stopEntry(entry: Entry): Promise<void> {
    entry.done ??= (async () => {
      try {
        await entry.stop();
      } catch (error) {
        log(`clean-up: ${entry.what}: ${(error as Error).message}`);
      }
    })();
    return entry.done;
  }
}
