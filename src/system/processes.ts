import fs from 'node:fs/promises';

/** PIDs whose command line is `program` (by base name) with `argument` among its arguments. */
export async function findProcesses(program: string, argument: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await fs.readdir('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = (await fs.readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0');
    } catch {
      continue; // exited while we looked
    }
    const name = argv[0]?.split('/').pop();
    if (name === program && argv.slice(1).includes(argument)) found.push(Number(entry));
  }
  return found;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function terminate(pid: number, graceMs = 3000): Promise<void> {
  const signal = (sig: NodeJS.Signals): void => {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
  if (isAlive(pid)) signal('SIGKILL');
  while (isAlive(pid)) await new Promise((resolve) => setTimeout(resolve, 25));
}

/** The files a process has mapped (its program, libraries, preloads): /proc/PID/maps. */
export async function mappedFiles(pid: number): Promise<Set<string>> {
  const maps = await fs.readFile(`/proc/${pid}/maps`, 'utf8');
  // address perms offset dev inode pathname: the path is what follows the fifth field
  return new Set(maps.split('\n').map((line) => line.split(/\s+/).slice(5).join(' ')).filter((file) => file.startsWith('/')));
}
