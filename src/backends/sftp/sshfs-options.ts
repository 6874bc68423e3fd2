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
    // Cross-host visibility. sshfs's own listing cache expires late (dcache_timeout=1 was
    // seen to show new names after ~2 s), so up to 1 s it is off and only the kernel's
    // attribute and name caches (cache_timeout s) remain; 0 turns those off too.
    ...(settings.cacheTimeout <= 1 ? ['dir_cache=no'] : [`dcache_timeout=${Math.ceil(settings.cacheTimeout)}`]),
    `attr_timeout=${settings.cacheTimeout}`,
    `entry_timeout=${settings.cacheTimeout}`,
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
