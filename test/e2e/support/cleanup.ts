/**
 * Last-resort cleanup: whatever the suite started (engines, the registry) is stopped when
 * the process exits, even after a crash or Ctrl-C, in reverse order of start. The normal
 * path is the suite's `after` hooks, which unregister what they stopped.
 */
type SyncCleanup = () => void;

const pending = new Map<string, SyncCleanup>();
let installed = false;

function runAll(): void {
  for (const [key, fn] of [...pending.entries()].reverse()) {
    pending.delete(key);
    try {
      fn();
    } catch {
      /* keep going: the others must still run */
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      process.stderr.write(`\n[e2e] ${sig}: stopping engines and registry...\n`);
      runAll();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

/** Registers (or replaces) a synchronous cleanup under `key`. */
export function onExit(key: string, fn: SyncCleanup): void {
  install();
  pending.set(key, fn);
}

export function cancelOnExit(key: string): void {
  pending.delete(key);
}
