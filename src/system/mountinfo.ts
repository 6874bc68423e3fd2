import { readFile } from 'node:fs/promises';

export interface MountEntry {
  /** major:minor of the mounted file system, as /sys/class/bdi names it. */
  device: string;
  /** The directory of that file system shown here: '/' for a mount, the bound one for a bind. */
  root: string;
  mountPoint: string;
  fsType: string;
  source: string;
}

// Fields are space-separated; spaces, tabs, newlines and backslashes in paths are octal-escaped.
const unescape = (field: string): string => field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));

/** Parses /proc/self/mountinfo (proc(5)): the kernel's own view, never a cache of ours. */
export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const fields = line.split(' ');
    const separator = fields.indexOf('-', 6);
    const device = fields[2];
    const root = fields[3];
    const mountPoint = fields[4];
    const fsType = fields[separator + 1];
    const source = fields[separator + 2];
    if (separator < 0 || device === undefined || root === undefined || mountPoint === undefined || fsType === undefined || source === undefined) continue;
    entries.push({ device, root: unescape(root), mountPoint: unescape(mountPoint), fsType, source: unescape(source) });
  }
  return entries;
}

export async function readMounts(): Promise<MountEntry[]> {
  return parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8'));
}

/** The mount on top at `dir` (mounts stack; a path lookup sees the last one), if any. */
export function topMountAt(mounts: readonly MountEntry[], dir: string): MountEntry | undefined {
  let found: MountEntry | undefined;
  for (const mount of mounts) if (mount.mountPoint === dir) found = mount;
  return found;
}

export async function isMountPoint(dir: string): Promise<boolean> {
  return topMountAt(await readMounts(), dir) !== undefined;
}

/** Mounts at any of `dirs` or anywhere below them, from one read of the mount table. */
export async function mountsAtOrUnder(...dirs: string[]): Promise<MountEntry[]> {
  const prefixes = dirs.map((dir) => (dir.endsWith('/') ? dir : `${dir}/`));
  return (await readMounts()).filter((entry) => dirs.includes(entry.mountPoint) || prefixes.some((prefix) => entry.mountPoint.startsWith(prefix)));
}
