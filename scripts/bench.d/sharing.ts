/**
 * Connection sharing, side by side: this checkout's daemon and an earlier build (say the
 * last one with an sshfs per volume), alternating within every round, against one real
 * OpenSSH sshd with stock MaxStartups, on loopback and through a latency proxy. Per build
 * and round trip it prints:
 *   - Mount latency on a server this host has no mount of ("first") and on one it has ("known");
 *   - sequential MB/s of one volume, and of four volumes at once (write with fsync; read
 *     after the page cache is dropped);
 *   - a storm of simultaneous Mounts: how many failed, how long it took;
 *   - the SSH connections the server holds while those volumes all write.
 * The daemons run as `node MAIN` outside Docker (build both first).
 * Usage: npx tsx scripts/bench.d/sharing.ts OLD_MAIN [--rounds N] [--size MiB] [--rtt 0,10] [--storm N] [--out PAGE.md]
 *   e.g. git worktree add /tmp/old 3ee3346 && ln -s "$PWD/node_modules" /tmp/old/ && (cd /tmp/old && npx tsc -p .)
 *        npx tsx scripts/bench.d/sharing.ts /tmp/old/dist/main.js
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cleanup, DaemonProcess, delay, makeDirs, MAIN } from '../../test/support/daemon-process';
import { startLatencyProxy, type LatencyProxy } from '../../test/support/latency-proxy';
import { installCredentials, sftpOptions } from '../../test/support/sftp-fixtures';
import { TestSshd } from '../../test/support/sshd';
import { median } from './lib/stats';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => {
  const at = args.indexOf(name);
  return at >= 0 ? (args[at + 1] ?? fallback) : fallback;
};
const OLD_MAIN = args[0];
if (OLD_MAIN === undefined || OLD_MAIN.startsWith('--') || !fs.existsSync(OLD_MAIN)) {
  console.error('usage: npx tsx scripts/bench.d/sharing.ts OLD_MAIN [--rounds N] [--size MiB] [--rtt 0,10] [--storm N] [--out PAGE.md]');
  process.exit(2);
}
const ROUNDS = Number(flag('--rounds', '3'));
const SIZE_MIB = Number(flag('--size', '256'));
const RTTS = flag('--rtt', '0,10').split(',').map(Number);
const STORM = Number(flag('--storm', '60'));
const OUT = flag('--out', '');
const MOUNT_SAMPLES = 5;

const BUILDS = { old: OLD_MAIN, new: MAIN } as const;
type Build = keyof typeof BUILDS;
type Figure = 'mountFirstMs' | 'mountKnownMs' | 'write1' | 'read1' | 'write4' | 'read4' | 'stormFailed' | 'stormSeconds' | 'connections';
const FIGURES: Record<Figure, string> = {
  mountFirstMs: 'Mount, no other mount on the server (ms)',
  mountKnownMs: 'Mount, server already mounted (ms)',
  write1: 'one volume: write MB/s (dd conv=fsync)',
  read1: 'one volume: read MB/s (caches dropped)',
  write4: 'four volumes at once: write MB/s (sum)',
  read4: 'four volumes at once: read MB/s (sum)',
  stormFailed: `storm of ${STORM} Mounts: failed`,
  stormSeconds: `storm of ${STORM} Mounts: seconds`,
  connections: `SSH connections at the server, ${STORM} volumes writing`,
};

function dd(ddArgs: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('dd', [...ddArgs, 'bs=1M', `count=${SIZE_MIB}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`dd failed: ${err}`))));
  });
}

function dropCaches(): void {
  fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
}

/** MB/s of writing then reading SIZE_MIB in each of `mountpoints` at once. */
async function throughput(mountpoints: string[]): Promise<{ write: number; read: number }> {
  const bytes = mountpoints.length * SIZE_MIB * 1024 * 1024;
  const files = mountpoints.map((mountpoint) => path.join(mountpoint, 'seq.bin'));
  // sshfs opens its extra connections (max_conns) only when the first is busy, each a full
  // handshake: a share used by one volume so far would pay them inside the timed writes,
  // an sshfs per volume at its Mount. A mount lives long, so both are warmed first.
  const warm = await Promise.all(files.map((file) => fs.promises.open(`${file}.warm`, 'w')));
  await Promise.all(warm.map((handle) => handle.write(Buffer.alloc(1024 * 1024, 1))));
  for (const handle of warm) await handle.close();
  for (const file of files) fs.rmSync(`${file}.warm`);
  let started = Date.now();
  await Promise.all(files.map((file) => dd(['if=/dev/zero', `of=${file}`, 'conv=fsync'])));
  const write = bytes / ((Date.now() - started) / 1000) / 1e6;
  dropCaches();
  started = Date.now();
  await Promise.all(files.map((file) => dd([`if=${file}`, 'of=/dev/null'])));
  const read = bytes / ((Date.now() - started) / 1000) / 1e6;
  for (const file of files) fs.rmSync(file);
  return { write, read };
}

async function timedMount(daemon: DaemonProcess, name: string): Promise<number> {
  const started = process.hrtime.bigint();
  await daemon.client.mount(name, 'bench');
  return Number(process.hrtime.bigint() - started) / 1e6;
}

async function oneBuild(build: Build, sshd: TestSshd, port: number, round: number): Promise<Partial<Record<Figure, number>>> {
  const dirs = makeDirs(`dvs-bench-sharing-${build}`);
  await installCredentials(sshd, dirs);
  const daemon = new DaemonProcess(dirs, { SFTP_IDLE_UNMOUNT: '0', LOG_LEVEL: 'warn' }, BUILDS[build]);
  await daemon.start();
  const volume = async (name: string): Promise<string> => {
    const remote = `${build}-${round}-${name}`;
    await daemon.client.create(name, { ...sftpOptions(sshd, remote), port: String(port) });
    return name;
  };
  const out: Partial<Record<Figure, number>> = {};
  try {
    const first: number[] = [];
    const known: number[] = [];
    const anchor = await volume('anchor');
    for (let i = 0; i < MOUNT_SAMPLES; i += 1) {
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
    const one = await throughput(mountpoints);
    out.write1 = one.write;
    out.read1 = one.read;
    for (const name of four.slice(1)) mountpoints.push(await daemon.client.mount(name, 'bench'));
    const all = await throughput(mountpoints);
    out.write4 = all.write;
    out.read4 = all.read;
    for (const name of four) await daemon.client.unmount(name, 'bench');

    const storm = await Promise.all(Array.from({ length: STORM }, (_, i) => volume(`storm${i}`)));
    await delay(1000);
    const started = Date.now();
    const replies = await Promise.all(storm.map((name) => daemon.client.call('/VolumeDriver.Mount', { Name: name, ID: 'bench' })));
    out.stormSeconds = (Date.now() - started) / 1000;
    const mounted = replies.filter((reply) => reply.body.Err === '').map((reply) => String(reply.body.Mountpoint));
    out.stormFailed = STORM - mounted.length;
    out.connections = await sshd.mostConnectionsDuring(() =>
      Promise.all(mounted.map((mountpoint) => fs.promises.writeFile(path.join(mountpoint, 'busy'), Buffer.alloc(1024 * 1024, 1)))),
    );
    for (const name of storm) await daemon.client.call('/VolumeDriver.Unmount', { Name: name, ID: 'bench' });
  } finally {
    await daemon.stop();
    cleanup(dirs.base);
  }
  return out;
}

/** What is printed is also the page (--out): tables, then every round's figures. */
const page: string[] = [];
const say = (line: string): void => {
  console.log(line);
  page.push(line);
};

async function main(): Promise<void> {
  say(`sharing bench: old ${OLD_MAIN}, new ${MAIN}; ${ROUNDS} rounds, ${SIZE_MIB} MiB per volume, storm ${STORM}, RTT ${RTTS.join(', ')} ms`);
  const sshd = await TestSshd.start({ extraConfig: ['MaxStartups 10:30:100'] });
  try {
    for (const rtt of RTTS) {
      let proxy: LatencyProxy | undefined;
      if (rtt > 0) proxy = await startLatencyProxy(`${sshd.host}:${sshd.port}`, rtt);
      const port = proxy?.port ?? sshd.port;
      const samples: Record<Build, Partial<Record<Figure, number>>[]> = { old: [], new: [] };
      try {
        for (let round = 0; round < ROUNDS; round += 1) {
          const order: Build[] = round % 2 === 0 ? ['old', 'new'] : ['new', 'old'];
          for (const build of order) {
            const figures = await oneBuild(build, sshd, port, round);
            samples[build].push(figures);
            say(`- rtt ${rtt} ms, round ${round + 1}, ${build}: ${JSON.stringify(figures, (_, v: unknown) => (typeof v === 'number' ? Number(v.toFixed(1)) : v))}`);
          }
        }
      } finally {
        proxy?.stop();
      }
      say(`\n| RTT ${rtt} ms (median of ${ROUNDS}) | old | new | new/old |\n|---|---|---|---|`);
      for (const [figure, label] of Object.entries(FIGURES) as [Figure, string][]) {
        const of = (build: Build): number => median(samples[build].map((s) => s[figure] ?? NaN));
        const ratio = of('old') === 0 ? '' : `${(of('new') / of('old')).toFixed(2)}x`;
        say(`| ${label} | ${of('old').toFixed(1)} | ${of('new').toFixed(1)} | ${ratio} |`);
      }
      say('');
    }
  } finally {
    await sshd.dispose();
  }
  if (OUT !== '') {
    const header = [
      '# Connection sharing: this build against an earlier one',
      '',
      `Written by \`npx tsx scripts/bench.d/sharing.ts\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC (${os.cpus().length} cpus, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}).`,
      'Both daemons run outside Docker against one OpenSSH sshd with stock MaxStartups, on loopback and through a latency proxy;',
      'within a round the two builds alternate and their order rotates. Medians of the rounds; every round is listed after the tables.',
      '',
    ];
    fs.writeFileSync(OUT, `${[...header, ...page].join('\n')}\n`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
