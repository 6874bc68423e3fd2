import path from 'node:path';
import { PluginError } from '../../errors';

/** The store catalogue's directory (catalogue-remote.ts): in the base path, or the login directory without one. */
export const CATALOGUE_DIR = '.docker-volume-sftp';

/** Where a volume's path must stay: below `dir`, never `dir` itself. */
export interface PathBound {
  /** The plugin's base path, or '.' (the login directory) for the store's volumes without one. */
  dir: string;
  /** For messages: what `dir` is. */
  what: string;
}

/**
 * A volume's remote directory: `given` (its path= option) or its name, normalized (no
 * trailing slash, so the bind of a share's directory is found in the mount table as
 * written; relative ones as forSftpClient gives them), and kept strictly below `bound`. Never the catalogue's directory nor anything
 * in it: a container on such a volume could rewrite what every host of the store reads,
 * and remove=delete would wipe it. The option's pattern has already refused "..".
 */
export function volumePath(name: string, given: string | undefined, bound: PathBound | undefined): string {
  const asked = given ?? name;
  const option = given === undefined ? `the volume name ${JSON.stringify(name)}` : `option path=${JSON.stringify(given)}`;
  const base = bound === undefined ? undefined : normal(bound.dir);
  const resolved = normal(base === undefined || asked.startsWith('/') ? asked : path.posix.join(base, asked));
  if (resolved.split('/').includes(CATALOGUE_DIR)) {
    throw new PluginError('BAD_OPTION', `${option} is inside ${CATALOGUE_DIR}, the store catalogue's directory: a container could rewrite every host's catalogue there; choose another path`);
  }
  if (base === undefined) return forSftpClient(resolved);
  if (resolved === '/' && base === '.') {
    throw new PluginError('BAD_OPTION', `${option} is the server's root directory, which holds the store catalogue; give the volume a directory of its own, such as path=${name}`);
  }
  if (resolved === base) {
    throw new PluginError('BAD_OPTION', `${option} is ${bound?.what} itself, which holds every volume and the store catalogue; give the volume a directory of its own below it, such as path=${name}`);
  }
  if (!isBelow(resolved, base)) {
    throw new PluginError('BAD_OPTION', `${option} is outside ${bound?.what} ${base}; use a path inside it`);
  }
  return forSftpClient(resolved);
}

/**
 * A remote path as ssh2-sftp-client's mkdir and rmdir must be given it: they read a path
 * starting with "." as relative to the login directory and drop its first two characters
 * (".hidden" became "<login>/dden", "..x" the login's parent), so relative paths start
 * with "./" (which it reads right). Absolute paths are left as they are.
 */
export function forSftpClient(remotePath: string): string {
  return remotePath.startsWith('/') || remotePath.startsWith('./') ? remotePath : `./${remotePath}`;
}

/** "/a//b/./c/" as "/a/b/c"; "" and "./" as "."; "/" stays. */
function normal(p: string): string {
  const normalized = path.posix.normalize(p === '' ? '.' : p);
  return normalized.length > 1 ? normalized.replace(/\/+$/, '') : normalized;
}

/**
 * Both normalized. The login directory bounds relative paths only (absolute ones are the
 * user's choice without a base path); a relative base path holds no absolute path (which
 * directory it is depends on the login).
 */
function isBelow(p: string, base: string): boolean {
  if (base === '.') return p !== '.';
  if (base === '/') return p.startsWith('/') && p !== '/';
  return p.startsWith(`${base}/`);
}
