/** The machine a run measured on, for every section of the page. */
import os from 'node:os';
import { run } from '../../test/support/run';

/** What a command prints; "?" when it is not installed. */
const output = async (cmd: string, args: string[]): Promise<string> => {
  const r = await run(cmd, args).catch(() => undefined);
  return r === undefined ? '?' : `${r.stdout}${r.stderr}`.trim();
};

const firstLine = async (cmd: string, args: string[]): Promise<string> => (await output(cmd, args)).split('\n')[0] ?? '?';

export async function machine(): Promise<Record<string, string>> {
  return {
    cpus: `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? '?'}`,
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    kernel: os.release(),
    node: process.version,
    dockerd: await firstLine('dockerd', ['--version']),
    // sshfs prints fusermount3's version first
    sshfs: /SSHFS version (\S+)/.exec(await output('sshfs', ['--version']))?.[1] ?? '?',
    openssh: await firstLine('ssh', ['-V']),
    rclone: await firstLine('rclone', ['version']),
    'load at start': os.loadavg().map((l) => l.toFixed(2)).join(' '),
  };
}
