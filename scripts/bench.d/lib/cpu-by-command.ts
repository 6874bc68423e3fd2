/**
 * CPU time per command name between two readings of /proc, to tell where a byte's CPU goes
 * (the client's sshfs and ssh, the server's sshd and sftp-server) while a peer moves data.
 * A process counts from the first reading, or from its start when it was born meanwhile; one
 * that exited before the second reading is lost, which the long-lived processes of a mount
 * (sshfs, ssh, sshd, sftp-server, rclone) never do during a step.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

export type CpuReading = Map<number, { comm: string; ticks: number }>;

let ticksPerSecond: number | undefined;

/** utime + stime of every process (all its threads), in clock ticks. */
export function readCpu(): CpuReading {
  const reading: CpuReading = new Map();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      // Fields after "(comm) ": state is the 1st, utime the 12th and stime the 13th.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      reading.set(Number(name), { comm, ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // gone meanwhile
    }
  }
  return reading;
}

/** CPU seconds per command name from `before` to `after`. A pid reused by another command counts from 0. */
export function cpuSecondsByCommand(before: CpuReading, after: CpuReading): Map<string, number> {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  const seconds = new Map<string, number>();
  for (const [pid, now] of after) {
    const then = before.get(pid);
    const used = now.ticks - (then !== undefined && then.comm === now.comm ? then.ticks : 0);
    if (used > 0) seconds.set(now.comm, (seconds.get(now.comm) ?? 0) + used / ticksPerSecond);
  }
  return seconds;
}

/** The sum over `commands` of a cpuSecondsByCommand result. */
export function cpuOf(seconds: Map<string, number>, commands: readonly string[]): number {
  return commands.reduce((sum, comm) => sum + (seconds.get(comm) ?? 0), 0);
}
