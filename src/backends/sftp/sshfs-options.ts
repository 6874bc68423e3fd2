import type { SftpSettings } from './sftp-settings';

/**
 * The sshfs -o list for a volume. Built only from typed settings, never from option
 * strings, so nothing a user typed reaches sshfs unchecked.
 */
export function sshfsOptions(settings: SftpSettings): string[] {
  const options = [
    'reconnect',
    // Local root is the remote user: the engine chowns image data it copies into an empty
    // volume (and docker cp chowns), which the server refuses for other owners.
    'idmap=user',
    `max_conns=${settings.connections}`,
    ...cacheOptions(settings.cacheTimeout),
    'negative_timeout=0',
  ];
  if (settings.allowOther) options.push('allow_other');
  if (settings.readonly) options.push('ro');
  if (settings.uid !== undefined) options.push(`uid=${settings.uid}`);
  if (settings.gid !== undefined) options.push(`gid=${settings.gid}`);
  if (settings.umask !== undefined) options.push(`umask=${settings.umask.toString(8).padStart(4, '0')}`);
  if (settings.passwordFile !== undefined) options.push('password_stdin');
  return options;
}

/**
 * The caches, so that another host's change (a name, attributes, content) shows here within
 * cache_timeout seconds. Two caches stack: sshfs's own (listings and the attributes each
 * listing carries; whole seconds only, and it keeps an entry up to the end of the second
 * after its timeout, so dcache_timeout=D is stale for up to D+1 s) and the kernel's
 * (attr/entry_timeout, fractions allowed). sshfs's cache is what makes a walk cheap: without
 * it (dir_cache=no) every stat after a listing is one more round trip to the server.
 *   T < 1: sshfs's cache off, the kernel's T.
 *   T >= 1: the kernel's K = min(1, T-1), sshfs's D = floor(T-1-K): D + 1 + K <= T.
 */
export function cacheOptions(timeout: number): string[] {
  if (timeout < 1) return ['dir_cache=no', `attr_timeout=${timeout}`, `entry_timeout=${timeout}`];
  const kernel = Math.min(1, round3(timeout - 1));
  const sshfs = Math.floor(round3(timeout - 1 - kernel));
  return ['dir_cache=yes', `dcache_timeout=${sshfs}`, `attr_timeout=${kernel}`, `entry_timeout=${kernel}`];
}

// Option values have at most three decimals: keep float error out of the rendered text.
const round3 = (value: number): number => Math.round(value * 1000) / 1000;
