/**
 * CPU time per command name between two readings of /proc, to tell where a byte's CPU goes
 * (the client's sshfs and ssh, the server's sshd and sftp-server) while a peer moves data.
 * A process counts from the first reading, or from its start when it was born meanwhile; one
 * that exited before the second reading is lost, which the long-lived processes of a mount
 * (sshfs, ssh, sshd, sftp-server, rclone) never do during a step.
 */
import { execFileSync } from 'node:child_process';
import { procStats } from './procfs';

export type CpuReading = Map<number, { comm: string; ticks: number }>;

let ticksPerSecond: number | undefined;

/** utime + stime of every process (all its threads), in clock ticks. */
export function readCpu(): CpuReading {
  const reading: CpuReading = new Map();
  // After "(comm) ": state is fields[0], utime fields[11] and stime fields[12].
  for (const [pid, { comm, fields }] of procStats()) reading.set(Number(pid), { comm, ticks: Number(fields[11]) + Number(fields[12]) });
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
