/**
 * The store catalogue across two hosts (two daemons as hosts of one default store on a real
 * loopback sshd): Get of an unknown name with the store up and hung, create-to-visible and
 * remove-to-gone delays, and the catalogue's store operations per second on an idle host.
 * Prints a Markdown table; writes nothing.
 *
 *   npx tsx scripts/bench.d/catalogue.ts [ROUNDS]   (default 200; needs root, sshd, sshfs)
 */
import { cleanup, delay, type DaemonProcess } from '../../test/support/daemon-process';
import { startStoreHost } from '../../test/support/sftp-fixtures';
import { TestSshd } from '../../test/support/sshd';
import { quantile } from './lib/stats';

const ms = (started: bigint): number => Number(process.hrtime.bigint() - started) / 1e6;
const fmt = (values: number[]): string => `p50 ${quantile(values, 0.5).toFixed(1)} ms, p99 ${quantile(values, 0.99).toFixed(1)} ms, max ${Math.max(...values).toFixed(1)} ms (n=${values.length})`;

async function main(rounds: number): Promise<void> {
  const sshd = await TestSshd.start();
  const hosts: DaemonProcess[] = [];
  try {
    await sshd.mkdirAsUser('store');
    const a = await startStoreHost(sshd, 'host-a', 'store', { LOG_LEVEL: 'debug' });
    hosts.push(a);
    const b = await startStoreHost(sshd, 'host-b', 'store', { LOG_LEVEL: 'debug' });
    hosts.push(b);
    await delay(1500);

    const unknown: number[] = [];
    for (let i = 0; i < rounds; i += 1) {
      const t = process.hrtime.bigint();
      await b.client.call('/VolumeDriver.Get', { Name: `nothing-here-${i}` });
      unknown.push(ms(t));
    }
    const repeated: number[] = [];
    for (let i = 0; i < rounds; i += 1) {
      const t = process.hrtime.bigint();
      await b.client.call('/VolumeDriver.Get', { Name: `nothing-here-${rounds - 1}` });
      repeated.push(ms(t));
    }

    const visible: number[] = [];
    for (let i = 0; i < Math.min(rounds, 100); i += 1) {
      await a.client.create(`made-${i}`);
      const t = process.hrtime.bigint();
      await b.client.get(`made-${i}`);
      visible.push(ms(t));
    }

    const gone: number[] = [];
    for (let i = 0; i < 20; i += 1) {
      await b.client.get(`made-${i}`);
      await a.client.remove(`made-${i}`);
      const t = process.hrtime.bigint();
      while ((await b.client.list()).some((v) => v.Name === `made-${i}`)) await delay(5);
      gone.push(ms(t));
    }

    // Idle: count B's store operations over 30 s while nothing changes.
    await delay(2000);
    const before = b.logLines().filter((line) => line.msg === 'store operation').length;
    await delay(30_000);
    const idle = b.logLines().filter((line) => line.msg === 'store operation').slice(before);
    const kinds = new Map<string, number>();
    for (const line of idle) kinds.set(String(line.what), (kinds.get(String(line.what)) ?? 0) + 1);

    sshd.pause();
    const hung: number[] = [];
    try {
      for (let i = 0; i < 5; i += 1) {
        const t = process.hrtime.bigint();
        await b.client.call('/VolumeDriver.Get', { Name: `hung-${i}` });
        hung.push(ms(t));
      }
    } finally {
      sshd.resume();
    }

    console.log('| measure | figure |\n|---|---|');
    console.log(`| Get of an unknown name, store up (a lookup on the store) | ${fmt(unknown)} |`);
    console.log(`| Get of the same unknown name again within 1 s (remembered) | ${fmt(repeated)} |`);
    console.log(`| Get on B right after Create on A (create to visible) | ${fmt(visible)} |`);
    console.log(`| Remove on A to gone from List on B | ${fmt(gone)} |`);
    console.log(`| Get of an unknown name, store hung (SIGSTOP) | ${fmt(hung)} |`);
    console.log(`| store operations of an idle host | ${(idle.length / 30).toFixed(2)} per second (${[...kinds].map(([k, n]) => `${k}: ${n}`).join(', ')} in 30 s) |`);
  } finally {
    for (const host of hosts) {
      await host.stop();
      cleanup(host.dirs.base);
    }
    await sshd.dispose();
  }
}

main(Number(process.argv[2] ?? 200)).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
