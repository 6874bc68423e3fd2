import type { SftpSettings } from '../sftp-settings';
import type { SshfsRuntime } from './sshfs-runtime';

/**
 * The sshfs -o list for a volume, for the sshfs this host runs (its cache clock, its build).
 * Built only from typed settings, never from option strings, so nothing a user typed
 * reaches sshfs unchecked.
 */
export function sshfsOptions(settings: SftpSettings, sshfs: SshfsRuntime): string[] {
  const options = [
    'reconnect',
    // Local root is the remote user: the engine chowns image data it copies into an empty
    // volume (and docker cp chowns), which the server refuses for other owners.
    'idmap=user',
    `max_conns=${settings.connections}`,
    // SFTP writes of 64 KiB (sshfs's most; 32 KiB by default): half the requests per byte,
    // sequential writes about 1.2x faster here. OpenSSH takes up to 255 KiB; rclone's and
    // gesftpserver's servers were tried with it.
    'max_write=65536',
    ...cacheOptions(settings.cacheTimeout, sshfs.ticksPerSecond),
    'negative_timeout=0',
  ];
  if (settings.allowOther) options.push('allow_other');
  if (settings.readonly) options.push('ro');
  if (settings.uid !== undefined) options.push(`uid=${settings.uid}`);
  if (settings.gid !== undefined) options.push(`gid=${settings.gid}`);
  if (settings.umask !== undefined) options.push(`umask=${settings.umask.toString(8).padStart(4, '0')}`);
  if (settings.passwordFile !== undefined) options.push('password_stdin');
  // Links read as on a local volume: the container resolves them in its own file system.
  if (sshfs.containsSymlinks && !settings.containSymlinks) options.push('no_contain_symlinks');
  return options;
}

/**
 * The caches, so that another host's change (a name, attributes, content) shows here within
 * cache_timeout seconds. Two caches stack: sshfs's own (listings and the attributes each
 * listing carries) and the kernel's (attr/entry_timeout, fractions allowed). sshfs counts
 * its timeout in ticks of its clock (whole seconds, or 1/4 s with sshfs-clock.so) and keeps
 * an entry to the end of the tick after its timeout: dcache_timeout=D is stale for up to
 * (D+1) ticks. sshfs's cache saves a round trip to the server per stat after a listing; the
 * kernel's saves a trip through FUSE to sshfs, which on a fast link costs as much.
 *   T shorter than one tick: sshfs's cache off, the kernel's T.
 *   Else the kernel's K = min(1, T/2, T - 1 tick) and sshfs's D = floor((T-K) * ticks) - 1,
 *   so that (D+1)/ticks + K <= T: half each up to 2 s, the kernel never more than 1 s.
 */
export function cacheOptions(timeout: number, ticksPerSecond: number): string[] {
  const { sshfsTicks, kernel } = cacheSplit(timeout, ticksPerSecond);
  if (sshfsTicks === undefined) return ['dir_cache=no', `attr_timeout=${kernel}`, `entry_timeout=${kernel}`];
  return ['dir_cache=yes', `dcache_timeout=${sshfsTicks}`, `attr_timeout=${kernel}`, `entry_timeout=${kernel}`];
}

/** sshfs's dcache_timeout in ticks (undefined: its cache off) and the kernel's timeout in seconds. */
function cacheSplit(timeout: number, ticksPerSecond: number): { sshfsTicks: number | undefined; kernel: number } {
  if (timeout < 1 / ticksPerSecond) return { sshfsTicks: undefined, kernel: timeout };
  const kernel = round3(Math.min(1, timeout / 2, timeout - 1 / ticksPerSecond));
  return { sshfsTicks: Math.floor(round3((timeout - kernel) * ticksPerSecond)) - 1, kernel };
}

/**
 * How long another host's change may stay unseen here (plus a round trip) with the caches
 * cacheOptions sets for `ticksPerSecond`, when sshfs's clock really ticks
 * `actualTicksPerSecond` times a second: an sshfs that did not load the clock library
 * reads the ticks as whole seconds. Equal to `timeout` or less when the clocks agree.
 */
export function staleForAtMost(timeout: number, ticksPerSecond: number, actualTicksPerSecond = ticksPerSecond): number {
  const { sshfsTicks, kernel } = cacheSplit(timeout, ticksPerSecond);
  return round3((sshfsTicks === undefined ? 0 : (sshfsTicks + 1) / actualTicksPerSecond) + kernel);
}

// Option values have at most three decimals: keep float error out of the rendered text.
const round3 = (value: number): number => Math.round(value * 1000) / 1000;
