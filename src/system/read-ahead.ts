import { mkdir, writeFile } from 'node:fs/promises';
import { isMountPoint } from './mountinfo';
import { run } from './run';

// Inside a managed plugin /sys is read-only; a private sysfs instance of our own is not.
const PRIVATE_SYSFS = '/run/docker-volume-sftp/sys';

/**
 * Raises the kernel's read-ahead for the file system `device` (major:minor, as mountinfo
 * gives it). FUSE mounts start at 128 KiB; 1 MiB lifted sequential sshfs reads by 10-15%
 * here (and about 2x in containers on an engine). Best effort: where no sysfs can be
 * written it stays as it is.
 */
export async function raiseReadAhead(device: string, kib = 1024): Promise<boolean> {
  if (!/^\d+:\d+$/.test(device)) return false;
  const setting = `class/bdi/${device}/read_ahead_kb`;
  if (await tryWrite(`/sys/${setting}`, kib)) return true;
  if (!(await privateSysfs())) return false;
  return tryWrite(`${PRIVATE_SYSFS}/${setting}`, kib);
}

async function tryWrite(file: string, kib: number): Promise<boolean> {
  try {
    await writeFile(file, String(kib));
    return true;
  } catch {
    return false;
  }
}

let mounted: Promise<boolean> | undefined;

function privateSysfs(): Promise<boolean> {
  mounted ??= (async () => {
    if (await isMountPoint(PRIVATE_SYSFS)) return true;
    await mkdir(PRIVATE_SYSFS, { recursive: true });
    return (await run('mount', ['-t', 'sysfs', '-o', 'nosuid,nodev,noexec', 'sysfs', PRIVATE_SYSFS])).code === 0;
  })().catch(() => false);
  return mounted;
}
