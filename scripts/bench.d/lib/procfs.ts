/** Process trees and memory from /proc. */
import fs from 'node:fs';

export interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
  cmdline: string;
}

/** One process's /proc/PID/stat: its command name and the fields after it (state is fields[0]). */
export interface ProcStat {
  comm: string;
  fields: string[];
}

/** Every process's stat, by pid (the name of its /proc directory). */
export function procStats(): Map<string, ProcStat> {
  const stats = new Map<string, ProcStat>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      // The name may hold spaces and parentheses: it ends at the last ')'.
      stats.set(name, { comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), fields: stat.slice(stat.lastIndexOf(')') + 2).split(' ') });
    } catch {
      // gone meanwhile
    }
  }
  return stats;
}

/** Every process with its parent and command line. */
export function processes(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const [name, { comm, fields }] of procStats()) {
    try {
      const cmdline = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ').trim();
      out.push({ pid: Number(name), ppid: Number(fields[1]), comm, cmdline });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Live descendants of pid (not including it). */
export function descendants(pid: number, all: ProcInfo[] = processes()): ProcInfo[] {
  const children = new Map<number, ProcInfo[]>();
  for (const p of all) {
    const list = children.get(p.ppid);
    if (list === undefined) children.set(p.ppid, [p]);
    else list.push(p);
  }
  const out: ProcInfo[] = [];
  const queue = [pid];
  for (let cur = queue.shift(); cur !== undefined; cur = queue.shift()) {
    for (const c of children.get(cur) ?? []) {
      out.push(c);
      queue.push(c.pid);
    }
  }
  return out;
}

/** Resident set size in MB (VmRSS), or NaN when the process is gone. */
export function rssMB(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? NaN : Number(match[1]) / 1024;
  } catch {
    return NaN;
  }
}
