import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { minimalEnv } from '../../../system/run';

/** Ticks a second of the clock sshfs's cache runs on when the clock library is there. */
export const CLOCK_TICKS = 4;

/** The sshfs this host runs: what our preloaded libraries give it, and what its build does. */
export interface SshfsRuntime {
  /** Of sshfs's cache clock (sshfs-clock.c): 1 without it, sshfs's own whole seconds. */
  ticksPerSecond: number;
  /** sshfs-open-files.c is loaded: closing a file whose directory was renamed cannot kill sshfs, and open files are reopened after a reconnect. */
  guardsOpenFiles: boolean;
  /**
   * The build refuses symlinks that are absolute or hold "..", unless told
   * no_contain_symlinks (the CVE-2026-47187 fix: Debian's 3.7.3-1.2, upstream 3.7.6).
   */
  containsSymlinks: boolean;
  /** sshfs's environment beyond the minimal one: the libraries to preload. */
  env: Record<string, string>;
  /** Why a library is not used (missing, or sshfs would not load it), for a warning at start. */
  unused: { clock: string | undefined; openFiles: string | undefined };
}

/**
 * The build puts sshfs-clock.so and sshfs-open-files.so (scripts/build-native) next to
 * main.js. Each is used only if sshfs loads it: `sshfs -V` runs once at start with both
 * preloaded and asked to say so (SSHFS_PRELOAD_PROBE). A static or setuid sshfs loads
 * neither, and would read cache timeouts meant in quarter seconds as whole seconds: then
 * the cache arithmetic is done in whole seconds, and the promise is kept at a cost. sshfs's
 * own help says whether it contains symlinks.
 */
export function findSshfsRuntime(dir = path.join(__dirname, '..', '..', '..')): SshfsRuntime {
  const clock = path.join(dir, 'sshfs-clock.so');
  const openFiles = path.join(dir, 'sshfs-open-files.so');
  const present = [clock, openFiles].filter((library) => fs.existsSync(library));
  const loaded = loadedBySshfs(present);
  const help = spawnSync('sshfs', ['--help'], { encoding: 'utf8', timeout: 5000, env: minimalEnv() });
  const why = (library: string): string | undefined =>
    loaded.includes(library)
      ? undefined
      : present.includes(library)
        ? `sshfs does not load ${path.basename(library)} (a static or setuid sshfs?)`
        : `${path.basename(library)} is missing (run npm run build)`;
  const hasClock = loaded.includes(clock);
  return {
    ticksPerSecond: hasClock ? CLOCK_TICKS : 1,
    guardsOpenFiles: loaded.includes(openFiles),
    containsSymlinks: `${help.stdout ?? ''}${help.stderr ?? ''}`.includes('no_contain_symlinks'),
    env: {
      ...(loaded.length > 0 ? { LD_PRELOAD: loaded.join(':') } : {}),
      ...(hasClock ? { SSHFS_CLOCK_TICKS: String(CLOCK_TICKS) } : {}),
    },
    unused: { clock: why(clock), openFiles: why(openFiles) },
  };
}

/** Of `libraries`, those that said "loaded" when preloaded into `sshfs -V`. */
function loadedBySshfs(libraries: string[]): string[] {
  if (libraries.length === 0) return [];
  const probe = spawnSync('sshfs', ['-V'], {
    encoding: 'utf8',
    timeout: 5000,
    env: { ...minimalEnv(), LD_PRELOAD: libraries.join(':'), SSHFS_PRELOAD_PROBE: '1' },
  });
  const said = `${probe.stdout ?? ''}${probe.stderr ?? ''}`;
  return libraries.filter((library) => said.includes(`${path.basename(library)} loaded`));
}

/** The libraries a running sshfs should have mapped (its LD_PRELOAD). */
export function preloadsOf(env: Readonly<Record<string, string>>): string[] {
  return (env.LD_PRELOAD ?? '').split(':').filter(Boolean);
}
