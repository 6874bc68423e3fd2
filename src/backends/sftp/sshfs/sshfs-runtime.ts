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
}

/**
 * The build puts sshfs-clock.so and sshfs-open-files.so (scripts/build-native) next to
 * main.js; each is used when there, and the backend warns of a missing one. sshfs's own
 * help says whether it contains symlinks (asked once, at start).
 */
export function findSshfsRuntime(dir = path.join(__dirname, '..', '..', '..')): SshfsRuntime {
  const clock = path.join(dir, 'sshfs-clock.so');
  const openFiles = path.join(dir, 'sshfs-open-files.so');
  const hasClock = fs.existsSync(clock);
  const hasOpenFiles = fs.existsSync(openFiles);
  const preload = [...(hasClock ? [clock] : []), ...(hasOpenFiles ? [openFiles] : [])];
  const help = spawnSync('sshfs', ['--help'], { encoding: 'utf8', timeout: 5000, env: minimalEnv() });
  return {
    ticksPerSecond: hasClock ? CLOCK_TICKS : 1,
    guardsOpenFiles: hasOpenFiles,
    containsSymlinks: `${help.stdout ?? ''}${help.stderr ?? ''}`.includes('no_contain_symlinks'),
    env: {
      ...(preload.length > 0 ? { LD_PRELOAD: preload.join(':') } : {}),
      ...(hasClock ? { SSHFS_CLOCK_TICKS: String(CLOCK_TICKS) } : {}),
    },
  };
}
