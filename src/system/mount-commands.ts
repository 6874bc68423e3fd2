import { PluginError } from '../errors';
import { isMountPoint } from './mountinfo';
import { run } from './run';

/**
 * `mount --bind`, with the kernel's reason in the error when it fails. `timeoutMs` bounds
 * a source on a FUSE mount whose server does not answer (the lookup waits for it).
 */
export async function bindMount(source: string, target: string, timeoutMs?: number): Promise<void> {
  const result = await run('mount', ['--bind', '--', source, target], timeoutMs === undefined ? {} : { timeoutMs });
  if (result.signal !== null) throw new PluginError('REMOTE_UNREACHABLE', `could not bind-mount ${source} at ${target}: no answer within ${((timeoutMs ?? 0) / 1000).toFixed(1)} s`);
  if (result.code !== 0) {
    throw new PluginError('BACKEND_FAILED', `could not bind-mount ${source} at ${target}: ${result.stderr.trim() || `exit ${result.code}`}`);
  }
}

/**
 * Unmounts `target`. A busy mount is detached lazily: the kernel frees it when the last
 * user goes, and Docker has already stopped the containers that held it.
 */
export async function unmount(target: string): Promise<void> {
  const first = await run('umount', ['--', target]);
  if (first.code === 0) return;
  const lazy = await run('umount', ['-l', '--', target]);
  if (lazy.code !== 0) {
    throw new PluginError('BACKEND_FAILED', `could not unmount ${target}: ${lazy.stderr.trim() || first.stderr.trim()}`);
  }
}

/** Detaches every mount stacked at `target` (a stale bind under a fresh one, say); at most 8. */
export async function unmountAll(target: string): Promise<void> {
  for (let i = 0; i < 8 && (await isMountPoint(target)); i += 1) await unmount(target);
}
