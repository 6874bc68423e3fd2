/**
 * Connection sharing, side by side: this checkout's daemon and a baseline build,
 * alternating within every round, against one real OpenSSH sshd with stock MaxStartups,
 * at one round-trip time (loopback, or through a latency proxy). Per build and round:
 *   - Mount latency on a server this host has no mount of ("first") and on one it has ("known");
 *   - sequential MB/s of one volume, and of four volumes at once (write with fsync; read
 *     after the page cache is dropped);
 *   - a storm of simultaneous Mounts: how many failed, how long it took;
 *   - the SSH connections the server holds while those volumes all write.
 * The daemons run as `node MAIN` outside Docker.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cleanup, DaemonProcess, delay, makeDirs } from '../../test/support/daemon-process';
import { startLatencyProxy } from '../../test/support/latency-proxy';
import { installCredentials, sftpOptions } from '../../test/support/sftp-fixtures';
import { TestSshd } from '../../test/support/sshd';
import type { Build } from './baseline';
import type { Cleanup } from './cleanup';
import { dropCaches, log } from './lib/proc';
import type { SuiteStore } from './lib/results';
import { median } from './lib/stats';

export interface SharingSizes {
  rounds: number;
  /** MiB written and read per volume. */
  sizeMiB: number;
  rtts: number[];
  /** Simultaneous Mounts of the storm. */
  storm: number;
  /** Mounts timed per build and round (the median is the round's figure). */
  mountSamples: number;
}

export type SharingFigure = 'mountFirstMs' | 'mountKnownMs' | 'write1' | 'read1' | 'write4' | 'read4' | 'stormFailed' | 'stormSeconds' | 'connections';

/** Label, unit and which way is better, per figure. */
export const SHARING_FIGURES: Record<SharingFigure, { label: string; unit: string; better: 'higher' | 'lower' }> = {
  mountFirstMs: { label: 'Mount, no other mount on the server', unit: 'ms', better: 'lower' },
  mountKnownMs: { label: 'Mount, server already mounted', unit: 'ms', better: 'lower' },
  write1: { label: 'one volume: write (dd conv=fsync)', unit: 'MB/s', better: 'higher' },
  read1: { label: 'one volume: read (caches dropped)', unit: 'MB/s', better: 'higher' },
  write4: { label: 'four volumes at once: write (sum)', unit: 'MB/s', better: 'higher' },
  read4: { label: 'four volumes at once: read (sum)', unit: 'MB/s', better: 'higher' },
  stormFailed: { label: 'storm of Mounts: failed', unit: 'mounts', better: 'lower' },
  stormSeconds: { label: 'storm of Mounts: time', unit: 's', better: 'lower' },
  connections: { label: 'SSH connections at the server, storm volumes writing', unit: 'connections', better: 'lower' },
};

function dd(ddArgs: string[], sizeMiB: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('dd', [...ddArgs, 'bs=1M', `count=${sizeMiB}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`dd failed: ${err}`))));
  });
}

/** MB/s of writing then reading `sizeMiB` in each of `mountpoints` at once. */
async function throughput(mountpoints: string[], sizeMiB: number): Promise<{ write: number; read: number }> {
  const bytes = mountpoints.length * sizeMiB * 1024 * 1024;
  const files = mountpoints.map((mountpoint) => path.join(mountpoint, 'seq.bin'));
  // sshfs opens its extra connections (max_conns) only when the first is busy, each a full
  // handshake: a share used by one volume so far would pay them inside the timed writes,
  // an sshfs per volume at its Mount. A mount lives long, so both are warmed first.
  const warm = await Promise.all(files.map((file) => fs.promises.open(`${file}.warm`, 'w')));
  await Promise.all(warm.map((handle) => handle.write(Buffer.alloc(1024 * 1024, 1))));
  for (const handle of warm) await handle.close();
  for (const file of files) fs.rmSync(`${file}.warm`);
  let started = Date.now();
  await Promise.all(files.map((file) => dd(['if=/dev/zero', `of=${file}`, 'conv=fsync'], sizeMiB)));
  const write = bytes / ((Date.now() - started) / 1000) / 1e6;
  await dropCaches();
  started = Date.now();
  await Promise.all(files.map((file) => dd([`if=${file}`, 'of=/dev/null'], sizeMiB)));
  const read = bytes / ((Date.now() - started) / 1000) / 1e6;
  for (const file of files) fs.rmSync(file);
  return { write, read };
}

async function timedMount(daemon: DaemonProcess, name: string): Promise<number> {
  const started = process.hrtime.bigint();
  await daemon.client.mount(name, 'bench');
  return Number(process.hrtime.bigint() - started) / 1e6;
}

/** One round of one build: a fresh daemon, every figure once. */
async function oneBuild(build: Build, sshd: TestSshd, port: number, round: number, sizes: SharingSizes, cleanupPath: Cleanup): Promise<Partial<Record<SharingFigure, number>>> {
  const dirs = makeDirs(`dvs-bench-sharing-${build.id}`);
  await installCredentials(sshd, dirs);
  const daemon = new DaemonProcess(dirs, { SFTP_IDLE_UNMOUNT: '0', LOG_LEVEL: 'warn' }, build.main);
  const held = cleanupPath.hold(`daemon ${build.id}`, async () => {
    await daemon.stop();
    cleanup(dirs.base);
  });
  const volume = async (name: string): Promise<string> => {
    const remote = `${build.id}-${round}-${name}`;
    await daemon.client.create(name, { ...sftpOptions(sshd, remote), port: String(port) });
    return name;
  };
  const out: Partial<Record<SharingFigure, number>> = {};
  try {
    await daemon.start();
    const first: number[] = [];
    const known: number[] = [];
    const anchor = await volume('anchor');
    for (let i = 0; i < sizes.mountSamples; i += 1) {
      const name = await volume(`m${i}`);
      first.push(await timedMount(daemon, name));
      await daemon.client.unmount(name, 'bench');
      await daemon.client.mount(anchor, 'bench');
      known.push(await timedMount(daemon, name));
      await daemon.client.unmount(name, 'bench');
      await daemon.client.unmount(anchor, 'bench');
    }
    out.mountFirstMs = median(first);
    out.mountKnownMs = median(known);

    const four = await Promise.all([0, 1, 2, 3].map((i) => volume(`seq${i}`)));
    const mountpoints = [await daemon.client.mount(four[0] ?? '', 'bench')];
    const one = await throughput(mountpoints, sizes.sizeMiB);
    out.write1 = one.write;
    out.read1 = one.read;
    for (const name of four.slice(1)) mountpoints.push(await daemon.client.mount(name, 'bench'));
    const all = await throughput(mountpoints, sizes.sizeMiB);
    out.write4 = all.write;
    out.read4 = all.read;
    for (const name of four) await daemon.client.unmount(name, 'bench');

    const storm = await Promise.all(Array.from({ length: sizes.storm }, (_, i) => volume(`storm${i}`)));
    await delay(1000);
    const started = Date.now();
    const replies = await Promise.all(storm.map((name) => daemon.client.call('/VolumeDriver.Mount', { Name: name, ID: 'bench' })));
    out.stormSeconds = (Date.now() - started) / 1000;
    const mounted = replies.filter((reply) => reply.body.Err === '').map((reply) => String(reply.body.Mountpoint));
    out.stormFailed = sizes.storm - mounted.length;
    out.connections = await sshd.mostConnectionsDuring(() =>
      Promise.all(mounted.map((mountpoint) => fs.promises.writeFile(path.join(mountpoint, 'busy'), Buffer.alloc(1024 * 1024, 1)))),
    );
    for (const name of storm) await daemon.client.call('/VolumeDriver.Unmount', { Name: name, ID: 'bench' });
  } finally {
    await held.release();
  }
  return out;
}

/** Every round at one round-trip time: the builds alternate and their order flips each round. */
export async function sharingAtRtt(builds: readonly Build[], rtt: number, sizes: SharingSizes, store: SuiteStore, cleanupPath: Cleanup): Promise<void> {
  const sshd = await TestSshd.start({ extraConfig: ['MaxStartups 10:30:100'] });
  const held = [cleanupPath.hold('sshd', () => sshd.dispose())];
  try {
    let port = sshd.port;
    if (rtt > 0) {
      const proxy = await startLatencyProxy(`${sshd.host}:${sshd.port}`, rtt);
      held.push(cleanupPath.hold(`latency proxy ${rtt} ms`, () => proxy.stop()));
      port = proxy.port;
    }
    const section = `rtt-${rtt}`;
    for (let round = 0; round < sizes.rounds; round += 1) {
      const order = round % 2 === 0 ? builds : [...builds].reverse();
      for (const build of order) {
        const figures = await oneBuild(build, sshd, port, round, sizes, cleanupPath);
        for (const [figure, value] of Object.entries(figures) as [SharingFigure, number][]) {
          const { unit, better } = SHARING_FIGURES[figure];
          store.add(section, figure, build.id, unit, better, value);
        }
        log(`sharing, RTT ${rtt} ms, round ${round + 1}/${sizes.rounds}, ${build.id}: ${JSON.stringify(figures, (_, v: unknown) => (typeof v === 'number' ? Number(v.toFixed(1)) : v))}`);
        store.save();
      }
    }
  } finally {
    for (const h of held.reverse()) await h.release();
  }
}
