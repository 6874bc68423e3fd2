import path from 'node:path';
import { PluginError } from '../errors';

/**
 * Joins `child` under `root` and proves the result stays inside it. Names are validated
 * before they get here; this is the second fence, for any path built from user input.
 */
export function pathUnder(root: string, ...parts: string[]): string {
  const resolved = path.resolve(root, ...parts);
  const base = path.resolve(root);
  if (resolved !== base && !resolved.startsWith(base + path.sep)) {
    throw new PluginError('BAD_NAME', `path ${JSON.stringify(parts.join('/'))} escapes ${base}`);
  }
  return resolved;
}
