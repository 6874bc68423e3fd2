/**
 * What a user waits for at the engine: `docker volume create / ls / inspect / rm` with
 * many volumes, and `docker run --rm -v VOL:/d dvs-busybox true` (first run on a fresh
 * volume and repeated runs), per driver. Each is timed twice: the docker CLI as a user
 * runs it, and the same request on the engine's API socket (no CLI start-up).
 */
import { IMAGE, PEERS, PREFIX, rethrowIfEngineGone, type World } from './env';
import { log, sleep } from './lib/proc';
import type { SuiteStore } from './lib/results';
import { rotate } from './lib/rotate';

export type DriverPeer = 'local-driver' | 'ours-local' | 'ours-sftp' | 'rclone';

export const OPS = {
  create: 'docker volume create',
  ls: 'docker volume ls',
  inspect: 'docker volume inspect',
  rm: 'docker volume rm',
  runFirst: 'docker run -v, first run on a fresh volume',
  runCold: 'docker run -v, first run with no SSH connection to the server yet',
  runRepeat: 'docker run -v, repeated',
} as const;

/** Records the plugin's own duration of each call it logged since `offset`, per backend. */
export function recordPluginCalls(world: World, store: SuiteStore, offset: number, section: string): void {
  for (const entry of world.pluginCalls(offset)) {
    const peer = entry.volume.includes('-ours-sftp-') ? 'ours-sftp' : entry.volume.includes('-ours-local-') ? 'ours-local' : undefined;
    if (peer !== undefined) store.add(section, entry.call, peer, 'ms', 'lower', entry.ms, "the plugin's own duration, from its log");
  }
}

/**
 * Volume commands for one driver at a time (a `docker volume ls` asks every driver, so
 * phases cannot overlap): create `count` volumes, list and inspect them `repeats` times,
 * remove them. CLI and API requests alternate.
 */
export async function volumeCommands(world: World, store: SuiteStore, peers: DriverPeer[], count: number, repeats: number, sftpCount: number): Promise<void> {
  for (const peer of peers) {
    const n = peer === 'ours-sftp' ? sftpCount : count;
    const names = Array.from({ length: n }, (_, i) => `${PREFIX}-cli-${peer}-${i}`);
    const logOffset = world.engineLogOffset();
    log(`volume commands: ${PEERS[peer].label}, ${n} volumes`);
    try {
      const section = 'volume-cli';
      const sectionApi = 'volume-api';
      for (const [i, name] of names.entries()) {
        if (peer === 'rclone') await world.prepareRemoteDir(name); // ours makes it at Create
        if (i % 2 === 0) {
          const r = await world.docker(['volume', 'create', ...world.createArgs(peer, name)]);
          store.add(section, OPS.create, peer, 'ms', 'lower', r.ms);
        } else {
          const r = await world.api('POST', '/volumes/create', world.createBody(peer, name));
          store.add(sectionApi, OPS.create, peer, 'ms', 'lower', r.ms);
        }
      }
      store.save();
      for (let i = 0; i < repeats; i += 1) {
        const cli = await world.docker(['volume', 'ls', '-q']);
        const listed = cli.stdout.split('\n').filter((line) => line.startsWith(`${PREFIX}-cli-${peer}-`)).length;
        if (listed !== n) throw new Error(`docker volume ls shows ${listed} of ${n} volumes`);
        store.add(section, OPS.ls, peer, 'ms', 'lower', cli.ms, `${n} volumes of this driver`);
        store.add(sectionApi, OPS.ls, peer, 'ms', 'lower', (await world.api('GET', '/volumes')).ms, `${n} volumes of this driver`);
        const name = names[(i * 7919) % n]!;
        store.add(section, OPS.inspect, peer, 'ms', 'lower', (await world.docker(['volume', 'inspect', name])).ms);
        store.add(sectionApi, OPS.inspect, peer, 'ms', 'lower', (await world.api('GET', `/volumes/${name}`)).ms);
      }
      for (const [i, name] of names.entries()) {
        if (i % 2 === 0) store.add(section, OPS.rm, peer, 'ms', 'lower', (await world.docker(['volume', 'rm', name])).ms);
        else store.add(sectionApi, OPS.rm, peer, 'ms', 'lower', (await world.api('DELETE', `/volumes/${name}`)).ms);
      }
      recordPluginCalls(world, store, logOffset, 'plugin-calls-volumes');
    } catch (error) {
      rethrowIfEngineGone(error);
      store.error(`volume commands ${peer}: ${(error as Error).message}`);
      log(`  FAILED volume commands ${peer}: ${(error as Error).message}`);
      await world.removeOwnVolumes();
    }
    store.save();
  }
}

/**
 * `docker run --rm -v VOL:/d IMAGE true`: `first` fresh volumes per driver (created before,
 * not timed) and `repeats` runs on one volume, all drivers alternating; plus the same run
 * without a volume as the floor; and `cold` first runs on a server ours has no connection
 * to any more (13 s apart each).
 */
export async function mountLatency(world: World, store: SuiteStore, peers: DriverPeer[], first: number, repeats: number, cold: number): Promise<void> {
  const section = 'mount';
  const runArgs = (volume: string | undefined): string[] => [
    'run', '--rm', '--label', PREFIX, '--network', 'none', ...(volume === undefined ? [] : ['-v', `${volume}:/d`]), IMAGE, 'true',
  ];
  const fresh: Partial<Record<DriverPeer, string[]>> = {};
  /** The i-th fresh volume of `peer`, all made before anything is timed. */
  const volume = (peer: DriverPeer, i: number): string => fresh[peer]![i]!;
  const logOffset = world.engineLogOffset();
  log(`mount latency: ${first} fresh volumes and ${repeats} repeats per driver`);
  try {
    for (const peer of peers) {
      const names: string[] = [];
      for (let i = 0; i <= first; i += 1) {
        const name = `${PREFIX}-mnt-${peer}-${i}`;
        if (peer === 'rclone') await world.prepareRemoteDir(name); // ours makes it at Create
        await world.docker(['volume', 'create', ...world.createArgs(peer, name)]);
        names.push(name);
      }
      fresh[peer] = names;
    }
    await world.docker(runArgs(undefined)); // warm the image and the engine
    for (let i = 0; i < first; i += 1) {
      for (const peer of rotate(peers, i)) {
        const r = await world.docker(runArgs(volume(peer, i)));
        store.add(section, OPS.runFirst, peer, 'ms', 'lower', r.ms);
      }
      store.add(section, OPS.runFirst, 'no volume', 'ms', 'lower', (await world.docker(runArgs(undefined))).ms);
    }
    // Repeated: the volume of index `first` gets one untimed first run, then `repeats` timed ones.
    for (const peer of peers) await world.docker(runArgs(volume(peer, first)));
    for (let i = 0; i < repeats; i += 1) {
      for (const peer of rotate(peers, i)) {
        const r = await world.docker(runArgs(volume(peer, first)));
        store.add(section, OPS.runRepeat, peer, 'ms', 'lower', r.ms);
      }
      store.add(section, OPS.runRepeat, 'no volume', 'ms', 'lower', (await world.docker(runArgs(undefined))).ms);
    }
    // Cold: a fresh SFTP volume made long enough ago that nothing of ours holds an SSH
    // connection to the server any more (SFTP_IDLE_UNMOUNT, 10 s, after the last use and
    // after the Create's warm-up), paired with a fresh local-driver volume.
    const coldVolumes: Record<'ours-sftp' | 'local-driver', string[]> = { 'ours-sftp': [], 'local-driver': [] };
    for (const peer of ['ours-sftp', 'local-driver'] as const) {
      for (let i = 0; i < cold; i += 1) {
        const name = `${PREFIX}-cold-${peer}-${i}`;
        await world.docker(['volume', 'create', ...world.createArgs(peer, name)]);
        coldVolumes[peer].push(name);
      }
    }
    for (let i = 0; i < cold; i += 1) {
      await sleep(13_000);
      for (const peer of rotate(['ours-sftp', 'local-driver'] as const, i)) {
        const r = await world.docker(runArgs(coldVolumes[peer][i]));
        store.add(section, OPS.runCold, peer, 'ms', 'lower', r.ms);
      }
    }
    for (let i = 0; i < Math.min(repeats, 10); i += 1) {
      const raw = await world.timeRawSshfsMount();
      store.add('mount-reference', 'raw sshfs mount on the host', 'sshfs-best', 'ms', 'lower', raw.mount, 'sshfs (daemonizes once connected) + one stat');
      store.add('mount-reference', 'raw sshfs unmount on the host', 'sshfs-best', 'ms', 'lower', raw.unmount, 'fusermount3 -u');
    }
    recordPluginCalls(world, store, logOffset, 'plugin-calls-mount');
  } catch (error) {
    rethrowIfEngineGone(error);
    store.error(`mount latency: ${(error as Error).message}`);
    log(`  FAILED mount latency: ${(error as Error).message}`);
  }
  await world.removeOwnVolumes();
  store.save();
}
