/**
 * Metadata speed over SFTP (issue 12) at one round-trip time, on the host (no Docker): sshfs
 * option profiles, the plugin's own options (rendered by src/) and rclone, next to raw sshfs
 * with its defaults. Every sample is one workload right after a fresh mount (cold caches, no
 * connection opened beforehand); peers
 * alternate within a round and their order rotates from round to round.
 */
import path from 'node:path';
import type { Cleanup } from './cleanup';
import { log } from './lib/proc';
import type { SuiteStore } from './lib/results';
import { rotate } from './lib/rotate';
import { MetadataWorld, PEERS, type PeerId } from './metadata-peers';
import { Fixture, WORKLOADS, prepareScratch, runWorkload, type WorkloadId } from './metadata-workloads';

export interface MetadataSizes {
  peers: PeerId[];
  workloads: WorkloadId[];
  /** Files in the tree and the tarball per round-trip time (a multiple of 100). */
  files: Record<number, number>;
  /** Rounds per round-trip time. */
  rounds: Record<number, number>;
}

/** Every round at `rtt`: a world of its own below `dir` (sshd, a proxy, the mounts), gone at the end. */
export async function metadataAtRtt(rtt: number, sizes: MetadataSizes, dir: string, store: SuiteStore, cleanupPath: Cleanup): Promise<void> {
  const files = sizes.files[rtt]!;
  const rounds = sizes.rounds[rtt]!;
  const world = await MetadataWorld.start(path.join(dir, `rtt-${rtt}`), [rtt]);
  const held = cleanupPath.hold('metadata mounts, sshd and proxy', () => world.stop());
  try {
    const fixture = new Fixture(world.sshd, files, path.join(dir, 'work'), rtt);
    log(`metadata, RTT ${rtt} ms: writing the tree on the server (${files} files) and the tarball`);
    await fixture.prepare();
    store.run.params.recipes = Object.fromEntries(sizes.peers.map((p) => [p, world.recipe(p, 'REMOTE')]));
    for (let round = 0; round < rounds; round += 1) {
      const order = rotate(sizes.peers, round);
      log(`metadata, RTT ${rtt} ms, round ${round + 1}/${rounds}: ${order.join(', ')}`);
      for (const workload of sizes.workloads) {
        const line: string[] = [];
        for (const peer of order) {
          if (cleanupPath.closed) return;
          const seconds = await sample(world, fixture, store, peer, rtt, workload);
          line.push(`${PEERS[peer].short} ${seconds === undefined ? 'FAILED' : seconds.toFixed(2)}`);
        }
        log(`  ${WORKLOADS[workload].label}: ${line.join(', ')} (s)`);
        store.save();
      }
    }
  } finally {
    await held.release();
  }
}

/** One sample: a fresh mount, the workload timed, the mount gone. Failures are recorded, not thrown. */
async function sample(world: MetadataWorld, fixture: Fixture, store: SuiteStore, peer: PeerId, rtt: number, workload: WorkloadId): Promise<number | undefined> {
  const needsScratch = workload === 'extract' || workload === 'creates' || workload === 'rm-rf';
  const scratch = needsScratch ? await fixture.scratch() : '';
  let mount;
  try {
    if (needsScratch) prepareScratch(workload, fixture, scratch);
    // Timed right after the mount answers, as a container's first walk is: what a peer's
    // connections cost after that (sshfs opens 2..N lazily) is in the figure.
    mount = await world.mount(peer, rtt, fixture.volume);
    const seconds = await runWorkload(workload, fixture, mount.mountpoint, scratch);
    store.add(`rtt-${rtt}`, workload, peer, 's', 'lower', seconds);
    return seconds;
  } catch (error) {
    const message = `rtt-${rtt} ${workload} ${peer}: ${(error as Error).message}`;
    store.error(message);
    log(`  FAILED ${message}`);
    return undefined;
  } finally {
    if (mount !== undefined) await world.unmount(mount);
    if (needsScratch) fixture.removeScratch(scratch);
  }
}
