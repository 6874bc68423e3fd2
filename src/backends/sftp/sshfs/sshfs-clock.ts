import fs from 'node:fs';
import path from 'node:path';

/** Ticks a second of the clock sshfs's cache runs on when the preload library is there. */
export const CLOCK_TICKS = 4;

/** The clock sshfs's cache counts in, and what sshfs's environment needs for it. */
export interface SshfsClock {
  ticksPerSecond: number;
  env: Record<string, string>;
}

/**
 * The build puts sshfs-clock.so (sshfs-clock.c) next to main.js. Without it sshfs counts
 * whole seconds and cache_timeout gives the kernel's cache less (sshfs-options.ts).
 */
export function findSshfsClock(library = path.join(__dirname, '..', '..', '..', 'sshfs-clock.so')): SshfsClock {
  if (!fs.existsSync(library)) return { ticksPerSecond: 1, env: {} };
  return { ticksPerSecond: CLOCK_TICKS, env: { LD_PRELOAD: library, SSHFS_CLOCK_TICKS: String(CLOCK_TICKS) } };
}
