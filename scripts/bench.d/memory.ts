/**
 * Resident memory of the plugin in the engine (its node process, and its sshfs and ssh
 * children) next to rclone's `serve docker`: idle, holding many volumes, and with SFTP
 * volumes mounted by running containers.
 */
import { IMAGE, PREFIX, rethrowIfEngineGone, type World } from './env';
import { log, sleep } from './lib/proc';
import { rssMB } from './lib/procfs';
import type { SuiteStore } from './lib/results';
import { median } from './lib/stats';

/** Median of a few RSS readings half a second apart, after the state settled. */
async function settledRss(read: () => Promise<number> | number): Promise<number> {
  await sleep(1500);
  const values: number[] = [];
  for (let i = 0; i < 3; i += 1) {
    values.push(await read());
    await sleep(500);
  }
  return median(values);
}

export async function recordMemory(world: World, store: SuiteStore, state: string, who: { ours: boolean; rclone: boolean } = { ours: true, rclone: true }): Promise<void> {
  const parts: string[] = [];
  if (who.ours) {
    const ours = await settledRss(async () => (await world.pluginRss()).node);
    store.add('memory', state, 'ours', 'MB', 'lower', ours, "RSS of the plugin's node process");
    const helpers = (await world.pluginRss()).helpers;
    if (helpers > 0) store.add('memory', state, 'ours: sshfs + ssh children', 'MB', 'lower', helpers, 'sum of RSS');
    parts.push(`ours ${ours.toFixed(1)} MB (+${helpers.toFixed(1)} MB sshfs/ssh)`);
  }
  if (who.rclone) {
    const rclone = await settledRss(() => rssMB(world.rclonePid()));
    store.add('memory', state, 'rclone', 'MB', 'lower', rclone, 'RSS of rclone serve docker');
    parts.push(`rclone ${rclone.toFixed(1)} MB`);
  }
  log(`memory (${state}): ${parts.join(', ')}`);
  store.save();
}

/** RSS of ours with `n` local volumes, and of rclone with `n` of its own (made on the API socket, not timed). */
export async function memoryWithVolumes(world: World, store: SuiteStore, n: number): Promise<void> {
  for (const peer of ['ours-local', 'rclone'] as const) {
    log(`memory: ${n} volumes of ${peer}`);
    try {
      for (let i = 0; i < n; i += 1) {
        const name = `${PREFIX}-memv-${peer}-${i}`;
        if (peer === 'rclone') await world.prepareRemoteDir(name);
        await world.api('POST', '/volumes/create', world.createBody(peer, name));
      }
      await recordMemory(world, store, `${n} volumes`, { ours: peer === 'ours-local', rclone: peer === 'rclone' });
    } finally {
      await world.removeOwnVolumes();
    }
  }
}

/** RSS with `count` SFTP volumes mounted at once by running containers (ours and rclone). */
export async function memoryWithMounts(world: World, store: SuiteStore, count: number): Promise<void> {
  const state = `${count} SFTP volumes mounted`;
  log(`memory: ${state}`);
  try {
    for (const peer of ['ours-sftp', 'rclone'] as const) {
      for (let i = 0; i < count; i += 1) {
        const name = `${PREFIX}-mem-${peer}-${i}`;
        if (peer === 'rclone') await world.prepareRemoteDir(name);
        await world.docker(['volume', 'create', ...world.createArgs(peer, name)]);
        await world.docker(['run', '-d', '--label', PREFIX, '--network', 'none', '-v', `${name}:/d`, IMAGE, 'sleep', '3600']);
      }
    }
    await recordMemory(world, store, state);
    const readAhead = await world.oursReadAhead();
    store.note(
      `read_ahead_kb of our plugin's ${readAhead.size} sshfs mounts, read on the host while ${count} containers held them: ` +
        `${[...new Set(readAhead.values())].join(', ') || 'none found'} (the kernel's default for FUSE is 128).`,
    );
    const options = await world.oursSshfsOptions();
    if (options !== undefined) store.note(`Our plugin ran sshfs with -o ${options} (and its ssh_config: Ciphers, keep-alives, pinned host key).`);
  } catch (error) {
    rethrowIfEngineGone(error);
    store.error(`memory with mounts: ${(error as Error).message}`);
  }
  await world.removeOwnVolumes();
  if (!(await world.rcloneAnswers())) {
    store.error('rclone serve docker stopped answering VolumeDriver calls after the containers that held its volumes were removed (its calls time out; the engine gives up after a minute each).');
  }
}
