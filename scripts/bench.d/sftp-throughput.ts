/**
 * Prints sequential throughput of: our SFTP volume (default options), and raw sshfs with
 * sshfs's defaults, mounted from the same sshd. Runs alternate so that drift in the
 * machine affects both alike; reports medians, spread and the ratio.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cleanup, DaemonProcess, makeDirs } from '../../test/support/daemon-process';
import { installCredentials, sftpOptions } from '../../test/support/sftp-fixtures';
import { forceUnmount, TestSshd } from '../../test/support/sshd';

const sizeMiB = Number(process.argv[2] ?? 256);
const rounds = Number(process.argv[3] ?? 5);

function dd(args: string[]): number {
  const result = spawnSync('dd', [...args, 'bs=1M', `count=${sizeMiB}`], { encoding: 'utf8' });
  const match = /(\d+) bytes .* copied, ([\d.]+) s/.exec(result.stderr);
  if (result.status !== 0 || match === null) throw new Error(`dd failed: ${result.stderr}`);
  return Number(match[1]) / Number(match[2]) / 1e6;
}

function dropCaches(): void {
  spawnSync('sync');
  try {
    fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
  } catch {
    // not permitted here: reads may come from the page cache of the server side only
  }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

async function main(): Promise<void> {
  const sshd = await TestSshd.start();
  const dirs = makeDirs('dvs-bench');
  await installCredentials(sshd, dirs);
  const daemon = await DaemonProcess.start(dirs);
  const rawMount = path.join(dirs.base, 'raw');
  fs.mkdirSync(rawMount);
  await sshd.mkdirAsUser('raw');
  try {
    await daemon.client.create('bench', sftpOptions(sshd, 'bench'));
    const ours = await daemon.client.mount('bench', 'bench');
    const knownHosts = await sshd.writeKnownHostsInto(dirs.base);
    const raw = spawnSync('sshfs', [
      `${sshd.user}@${sshd.host}:${sshd.serverPath('raw')}`, rawMount,
      '-p', String(sshd.port),
      '-o', `IdentityFile=${sshd.clientKeyPath},UserKnownHostsFile=${knownHosts},StrictHostKeyChecking=yes,BatchMode=yes`,
    ], { encoding: 'utf8' });
    if (raw.status !== 0) throw new Error(`raw sshfs failed: ${raw.stderr}`);

    const targets = { 'docker-volume-sftp (defaults)': ours, 'raw sshfs (sshfs defaults)': rawMount };
    const results = new Map<string, { write: number[]; read: number[] }>();
    for (const name of Object.keys(targets)) results.set(name, { write: [], read: [] });
    // A throwaway first write: the first write of a run is often the fastest.
    dd(['if=/dev/zero', `of=${path.join(rawMount, 'warm')}`, 'conv=fsync']);
    for (let round = 0; round < rounds; round += 1) {
      const order = round % 2 === 0 ? Object.entries(targets) : Object.entries(targets).reverse();
      for (const [name, dir] of order) {
        const file = path.join(dir, 'bench.bin');
        const entry = results.get(name)!;
        entry.write.push(dd(['if=/dev/zero', `of=${file}`, 'conv=fsync']));
        dropCaches();
        entry.read.push(dd([`if=${file}`, 'of=/dev/null']));
        fs.rmSync(file);
      }
    }
    console.log(`Sequential throughput, ${sizeMiB} MiB dd, ${rounds} alternating rounds, loopback sshd (MB/s, median [min-max])`);
    console.log('| mount | write (fsync) | read (caches dropped) |');
    console.log('|---|---|---|');
    const fmt = (values: number[]) => `${median(values).toFixed(0)} [${Math.min(...values).toFixed(0)}-${Math.max(...values).toFixed(0)}]`;
    for (const [name, r] of results) console.log(`| ${name} | ${fmt(r.write)} | ${fmt(r.read)} |`);
    const ourResult = results.get('docker-volume-sftp (defaults)')!;
    const rawResult = results.get('raw sshfs (sshfs defaults)')!;
    console.log(`ratio ours/raw-defaults: write ${(median(ourResult.write) / median(rawResult.write)).toFixed(2)}x, read ${(median(ourResult.read) / median(rawResult.read)).toFixed(2)}x`);
    await daemon.client.unmount('bench', 'bench');
  } finally {
    forceUnmount(rawMount);
    await daemon.stop();
    cleanup(dirs.base);
    await sshd.dispose();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
