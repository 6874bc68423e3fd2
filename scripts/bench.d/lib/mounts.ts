/** Mounts the benchmark left behind: found in the kernel's table, undone deepest first. */
import fs from 'node:fs';
import { readMounts } from '../../../src/system/mountinfo';
import { run } from '../../../test/support/run';
import { log } from './proc';

/**
 * Unmounts (lazily: a dead FUSE server leaves a mount nothing answers) every mount below
 * `dir`, except those below one of `keep`.
 */
export async function unmountUnder(dir: string, keep: readonly string[] = []): Promise<void> {
  const below = (root: string, m: string): boolean => m.startsWith(`${root}/`);
  const mounts = (await readMounts())
    .map((m) => m.mountPoint)
    .filter((m) => below(dir, m) && !keep.some((k) => m === k || below(k, m)))
    .sort()
    .reverse();
  for (const m of mounts) {
    log(`unmounting leftover ${m}`);
    if ((await run('fusermount3', ['-u', '-z', m])).code !== 0) await run('umount', ['-l', m]);
  }
}

/** Removes `dir` unless something is still mounted below it (rm -r would walk into the mount). */
export async function removeUnmounted(dir: string): Promise<void> {
  const left = (await readMounts()).filter((m) => m.mountPoint.startsWith(`${dir}/`));
  if (left.length > 0) {
    log(`leaving ${dir}: still mounted below it: ${left.map((m) => m.mountPoint).join(' ')}`);
    return;
  }
  fs.rmSync(dir, { recursive: true, force: true });
}
