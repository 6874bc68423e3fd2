import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { TestSshd } from '../../support/sshd';
import { PLUGIN, PLUGIN_FULL_NAME, type Engine, type VolumeInspect } from '../support/engine';
import { eventually, pluginLog, RUN_ID, serverFile, SLEEPER, useDefaultStore, waitRunning } from '../support/helpers';
import { sleep, type ProcResult } from '../support/proc';
import { timedDescribe } from '../support/timings';
import { World } from '../support/world';

/** SFTP_LEASE_TTL of both plugins (the minimum), so that a dead host stops blocking soon. */
const LEASE_TTL = 3;
const CATALOGUE_AGE = /^read from the store ([\d.]+) s ago$/;
/**
 * For a volume name it does not know, an engine asks every volume driver's Get in turn,
 * legacy plugin sockets in /run/docker/plugins first (other users' tools on a shared host);
 * one that hangs costs each such lookup about a minute (its client's timeout and retries).
 * Only the first test relies on that lookup (a bare -v on B); elsewhere the engines are
 * told the driver (--volume-driver, or docker volume create -d sftp of a name the store
 * already holds: the engine finds it with our Get and does not call Create), so that what
 * is timed is the plugin.
 */
const BY_SFTP = ['--volume-driver', PLUGIN];

interface ProcInfo {
  ppid: number;
  cmdline: string;
  /** cgroup paths (every hierarchy) that name a container or plugin by its 64-hex ID. */
  cgroups: string[];
}

/** Every process of this host: parent, argv (space-joined), container cgroups. */
function processTable(): Map<number, ProcInfo> {
  const table = new Map<number, ProcInfo>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      const cgroups = [...fs.readFileSync(`/proc/${entry}/cgroup`, 'utf8').matchAll(/^\d+:[^:]*:(.*[0-9a-f]{64}.*)$/gm)].map((m) => m[1] ?? '');
      table.set(Number(entry), { ppid, cmdline, cgroups });
    } catch {
      /* gone meanwhile */
    }
  }
  return table;
}

/** Gone, or a zombie waiting for its parent (PID 1 here reaps lazily). */
function isGone(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone: killing a PID namespace's init takes the rest of it along */
  }
}

/**
 * The host "loses power": dockerd of `engine`, its containerd, every containerd shim of its
 * namespaces (containers and plugins) and all their descendants (tini, the plugin's node,
 * sshfs, ssh, the containers' processes) are frozen, then SIGKILLed, by PID. Nothing shuts
 * down cleanly: no Unmount, no lease dropped. What dockerd would have removed on its way
 * out (its pid file, the plugin's socket directory, the cgroups of its containers and
 * plugin) is removed here, so that World.dispose() purges the dead engine as usual.
 * Returns the PIDs killed.
 */
async function killEngineHard(engine: Engine, pluginId: string): Promise<number[]> {
  const pidFile = path.join(engine.dir, 'pid');
  const dockerd = Number(fs.readFileSync(pidFile, 'utf8').trim());
  const table = processTable();
  assert.ok(table.get(dockerd)?.cmdline.includes(`--pidfile ${pidFile}`), `pid ${dockerd} is not the dockerd of ${engine.dir}`);
  const containerdDir = `${path.join(engine.dir, 'exec', 'containerd')}/`;
  const victims = new Set<number>([dockerd]);
  for (const [pid, info] of table) if (info.cmdline.includes(containerdDir)) victims.add(pid);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, info] of table) {
      if (!victims.has(pid) && victims.has(info.ppid)) {
        victims.add(pid);
        grew = true;
      }
    }
  }
  const pids = [...victims];
  for (const pid of pids) signal(pid, 'SIGSTOP'); // nothing restarts anything meanwhile
  for (const pid of pids) signal(pid, 'SIGKILL');
  await eventually(`the processes of engine ${engine.name} gone`, () => assert.deepEqual(pids.filter((pid) => !isGone(pid)), []), 10_000, 50);
  fs.rmSync(pidFile, { force: true });
  fs.rmSync(path.join('/run/docker/plugins', pluginId), { recursive: true, force: true });
  const hierarchies = ['/sys/fs/cgroup', ...fs.readdirSync('/sys/fs/cgroup').map((d) => path.join('/sys/fs/cgroup', d))];
  for (const cgroup of new Set(pids.flatMap((pid) => table.get(pid)?.cgroups ?? []))) {
    for (const root of hierarchies) {
      try {
        fs.rmdirSync(path.join(root, cgroup));
      } catch {
        /* not in this hierarchy */
      }
    }
  }
  return pids;
}

/**
 * Both engines' plugins get one default store (SFTP_* settings, a fresh SFTP_BASE_PATH on
 * the shared TestSshd), so each keeps the store's catalogue. The case is last in the tier:
 * it leaves those settings in place, and its last test kills engine B for good (World
 * disposes of it as usual).
 */
export function storeCatalogue(world: World): void {
  timedDescribe(world.timings, 'case 10: the store catalogue: volumes of a default store seen, shared and guarded by every host', function () {
    let a: Engine;
    let b: Engine;
    let sshd: TestSshd;
    let bKilled = false;
    let bPluginId = '';
    /** SFTP_BASE_PATH of both plugins, relative to the server's root. */
    const STORE = `c10-store-${RUN_ID}`;
    const record = (name: string): string => sshd.serverPath(STORE, '.docker-volume-sftp', 'volumes', `${name}.json`);
    const hostId = (e: Engine): string => fs.readFileSync(path.join(World.hostDataDir(e), 'host-id'), 'utf8').trim();
    const status = (v: VolumeInspect): Record<string, unknown> => v.Status ?? {};

    /** The default store on both plugins, with short leases and catalogue reads. */
    const useStore = (e: Engine, hostName: string): Promise<void> =>
      useDefaultStore(e, sshd, STORE, hostName, { SFTP_LEASE_TTL: String(LEASE_TTL), SFTP_CATALOGUE_REFRESH: '1' });

    /** Waits until `e` lists `name` (its plugin reads the catalogue every second). */
    async function listedOn(e: Engine, name: string): Promise<void> {
      await eventually(
        `${e.name} lists ${name}`,
        async () => {
          const names = (await e.dockerOk(['volume', 'ls', '--format', '{{.Name}}', '--filter', `driver=${PLUGIN_FULL_NAME}`], { timeoutMs: 10_000 })).split('\n');
          assert.ok(names.includes(name), `not in ${names.join(' ')}`);
        },
        15_000,
        100,
      );
    }

    /**
     * A volume created on A, used on B by a running container `c10-user`; returns the path on
     * the server of B's lease on it, which must exist.
     */
    async function inUseOnB(name: string): Promise<string> {
      await a.createVolume(name);
      await listedOn(b, name);
      await b.startContainer('c10-user', [...BY_SFTP, '-v', `${name}:/data`], SLEEPER);
      await waitRunning(b, 'c10-user');
      // A host's hold on a volume it mounts: its mark (docs/catalogue-protocol.md, Leases).
      const lease = sshd.serverPath(STORE, '.docker-volume-sftp', 'mounts', hostId(b), `${name}.mounted`);
      assert.ok(fs.existsSync(lease), 'B holds no lease file');
      return lease;
    }

    /**
     * The refusal of a remove because host-b (by its host ID) holds a lease on `name`; the
     * name the message gives the holder is captured: it comes from the lease file's content.
     */
    const leaseOfB = (name: string): RegExp =>
      new RegExp(`volume ${name} is mounted on (.+?) \\(host ID ${hostId(b).slice(0, 8)}, lease renewed \\d+ s ago\\)`);

    /** Checks a refused `docker volume rm NAME`; returns the holder's name in the message. */
    function refusalByB(r: ProcResult, name: string): string {
      assert.notEqual(r.code, 0, `docker volume rm ${name} on A succeeded while host-b uses it`);
      const holder = leaseOfB(name).exec(r.stderr)?.[1];
      assert.ok(holder !== undefined, `not a refusal for host-b's lease: ${r.stderr.trim()}`);
      return holder;
    }

    /** `docker volume rm NAME` on A, refused naming host-b; returns the message. */
    async function refusedForB(name: string): Promise<string> {
      const r = await a.docker(['volume', 'rm', name]);
      assert.equal(refusalByB(r, name), 'host-b', r.stderr.trim());
      return r.stderr.trim();
    }

    /**
     * `docker volume rm NAME` on A until it succeeds; every refusal must be for host-b's
     * lease. Returns the holder names the refusals gave.
     */
    async function removeOnA(name: string, timeoutMs: number): Promise<string[]> {
      const holders: string[] = [];
      await eventually(
        `docker volume rm ${name} on A`,
        async () => {
          const r = await a.docker(['volume', 'rm', name]);
          if (r.code === 0) return;
          holders.push(refusalByB(r, name));
          throw new Error(`refused: ${r.stderr.trim()}`);
        },
        timeoutMs,
        100,
      );
      return holders;
    }

    before(async function () {
      this.timeout(1_200_000);
      [a, b, sshd] = await Promise.all([world.engineA(), world.engineB(), world.sshd()]);
      await sshd.mkdirAsUser(STORE);
      await Promise.all([useStore(a, 'host-a'), useStore(b, 'host-b')]);
      bPluginId = (await b.pluginInspect()).Id;
      assert.notEqual(hostId(a), hostId(b), 'the two plugins have one host ID');
    });

    after(async function () {
      this.timeout(120_000);
      if (sshd !== undefined && !sshd.running) await sshd.restart();
      if (b !== undefined && !bKilled) await b.removeContainer('c10-user');
      // engine B, killed by the last test, is purged with the others by World.dispose()
    });

    it('a volume created on A with no options is listed on B and used there by docker run -v, with no create on B', async function () {
      this.timeout(180_000); // about 5 s, plus a minute per hung legacy plugin: see BY_SFTP
      const VOL = 'c10-shared';
      await a.createVolume(VOL);
      await a.runContainer(['-v', `${VOL}:/data`], 'echo from-a > /data/file');
      await serverFile(sshd, [STORE, VOL, 'file'], 'from-a\n');
      const onA = await a.volumeInspect(VOL);
      assert.equal(onA.Scope, 'global', 'Capabilities did not report Scope global');
      assert.equal(status(onA).createdBy, 'host-a');
      const published = JSON.parse(fs.readFileSync(record(VOL), 'utf8')) as { name: string; options: object; createdBy: { id: string; name: string } };
      assert.deepEqual([published.name, published.options, published.createdBy], [VOL, {}, { id: hostId(a), name: 'host-a' }]);

      await listedOn(b, VOL);
      const t0 = Date.now();
      assert.equal(await b.runContainer(['-v', `${VOL}:/data`], 'cat /data/file && echo from-b > /data/back', 150_000), 'from-a\n');
      const runMs = Date.now() - t0;
      console.log(`      docker run -v ${VOL}:/data on B: ${runMs} ms${runMs > 20_000 ? ' (probably a hung legacy volume plugin in /run/docker/plugins: see BY_SFTP)' : ''}`);
      const onB = await b.volumeInspect(VOL);
      assert.equal(onB.Driver, PLUGIN_FULL_NAME, `B made a volume of driver ${onB.Driver}`);
      assert.equal(onB.Scope, 'global');
      assert.equal(onB.CreatedAt, onA.CreatedAt);
      assert.equal(status(onB).createdBy, 'host-a');
      assert.match(String(status(onB).catalogue), CATALOGUE_AGE);
      const createsOnB = pluginLog(b).filter((l) => l.msg === 'call' && l.call === '/VolumeDriver.Create' && l.volume === VOL);
      assert.deepEqual(createsOnB, [], "B's plugin got a Create: its Get did not find A's volume");
      assert.equal(await a.runContainer(['-v', `${VOL}:/data`], 'cat /data/back'), 'from-b\n');
    });

    it('a simultaneous create of one name on A and B with the same options: both succeed, one definition', async function () {
      this.timeout(60_000);
      const SAME = 'c10-race';
      const same = await Promise.all([a, b].map((e) => e.docker(['volume', 'create', '-d', PLUGIN, '-o', 'cache_timeout=1', SAME])));
      assert.deepEqual(same.map((r) => [r.code, r.stdout.trim()]), [[0, SAME], [0, SAME]], same.map((r) => r.stderr).join(''));
      const [ra, rb] = [await a.volumeInspect(SAME), await b.volumeInspect(SAME)];
      assert.equal(ra.CreatedAt, rb.CreatedAt, 'two definitions of one name');
      const creator = (JSON.parse(fs.readFileSync(record(SAME), 'utf8')) as { createdBy: { name: string } }).createdBy.name;
      assert.ok(['host-a', 'host-b'].includes(creator), `created by ${creator}`);
      assert.deepEqual([status(ra).createdBy, status(rb).createdBy], [creator, creator]);
      assert.ok(fs.existsSync(sshd.serverPath(STORE, SAME)), 'the volume has no directory on the store');
    });

    /** Names raced with different options, and who won each (index 0 = A, 1 = B). */
    const CLASHES = ['c10-clash-1', 'c10-clash-2', 'c10-clash-3'];
    const CLASH_OPTS = ['cache_timeout=1', 'cache_timeout=2'];
    const HOSTS = ['host-a', 'host-b'];
    const winners = new Map<string, number>();

    it("a simultaneous create of one name on A and B with different options: both succeed, the store keeps the winner's definition and both hosts use it", async function () {
      this.timeout(60_000);
      // three names at once: every one is a race of its own
      const results = await Promise.all(
        CLASHES.map((name) => Promise.all([a, b].map((e, i) => e.docker(['volume', 'create', '-d', PLUGIN, '-o', CLASH_OPTS[i] ?? '', name])))),
      );
      const overruled: string[] = [];
      for (const [n, name] of CLASHES.entries()) {
        const clash = results[n] ?? [];
        assert.deepEqual(clash.map((r) => [r.code, r.stdout.trim()]), [[0, name], [0, name]], `${name}: ${clash.map((r) => r.stderr.trim()).join(' | ')}`);
        const defined = JSON.parse(fs.readFileSync(record(name), 'utf8')) as { options: Record<string, string>; createdBy: { name: string } };
        const winner = HOSTS.indexOf(defined.createdBy.name);
        assert.ok(winner >= 0, `${name} created by ${defined.createdBy.name}`);
        winners.set(name, winner);
        assert.deepEqual(defined.options, { cache_timeout: CLASH_OPTS[winner]?.split('=')[1] }, `${name}: the store's record is not the winner's definition`);
        for (const [i, e] of [a, b].entries()) {
          const v = await e.volumeInspect(name);
          assert.equal(v.Driver, PLUGIN_FULL_NAME, `${e.name}'s ${name}`);
          assert.deepEqual([status(v).createdBy, status(v).options], [HOSTS[winner], CLASH_OPTS[winner]], `${e.name}'s view of ${name}: ${JSON.stringify(v.Status)}`);
          const ignored = status(v).ignoredOptions;
          const createSent = (): boolean => pluginLog(e).some((l) => l.msg === 'call' && l.call === '/VolumeDriver.Create' && l.volume === name);
          if (i === winner) {
            assert.equal(ignored, undefined, `the winner ${e.name} ignored options of ${name}: ${JSON.stringify(v.Status)}`);
          } else if (ignored !== undefined) {
            // the loser's engine sent Create (its Get came before the winner's record): overruled
            assert.equal(ignored, `${CLASH_OPTS[i] ?? ''} (the store's definition is used)`, `${e.name}'s ${name}: ${JSON.stringify(v.Status)}`);
            await eventually(`${e.name}'s plugin log shows a Create of ${name}`, () => assert.ok(createSent(), 'none'), 3000, 100);
            overruled.push(`${name} on ${e.name}`);
          } else {
            // the loser's engine found the winner's volume with Get and sent no Create
            assert.ok(!createSent(), `${e.name}'s plugin got a Create of ${name} and reports no ignored options: ${JSON.stringify(v.Status)}`);
          }
        }
      }
      console.log(`      winners: ${CLASHES.map((name) => HOSTS[winners.get(name) ?? -1]).join(' ')}; overruled Creates (Status.ignoredOptions): ${overruled.join(', ') || 'none'}`);
      // every overruled Create is in its plugin's log, with both option sets
      for (const entry of overruled) {
        const [name, engineName] = entry.split(' on ');
        const e = [a, b].find((x) => x.name === engineName) as Engine;
        const warned = await eventually(`${e.name}'s plugin log warns of the overruled Create of ${name ?? ''}`, () => {
          const lines = pluginLog(e).filter((l) => l.msg === 'create options differ from the store catalogue; its definition is used' && l.volume === name);
          assert.equal(lines.length, 1, JSON.stringify(lines));
          return lines;
        }, 3000, 100);
        const winner = winners.get(name ?? '') ?? -1;
        assert.deepEqual([warned[0]?.asked, warned[0]?.used, warned[0]?.createdBy], [CLASH_OPTS[1 - winner], CLASH_OPTS[winner], HOSTS[winner]]);
      }
      // A create of the name again, on either host and with either option set, is that volume.
      for (const name of CLASHES) {
        const winner = winners.get(name) ?? -1;
        for (const [i, e] of [a, b].entries()) {
          await e.createVolume(name, { cache_timeout: CLASH_OPTS[1 - i]?.split('=')[1] ?? '' });
          const v = await e.volumeInspect(name);
          assert.deepEqual([status(v).createdBy, status(v).options], [HOSTS[winner], CLASH_OPTS[winner]], `${e.name}'s view of ${name} after a second create`);
        }
      }
    });

    // The loser of a race may have made the remote directory itself: undoing its create must
    // keep it (it is the winner's volume's directory now).
    it("the winner's volume of each such race keeps its directory on the store and works on both hosts", async function () {
      this.timeout(60_000);
      assert.equal(winners.size, CLASHES.length, 'the race above did not finish');
      const missing = CLASHES.filter((name) => !fs.existsSync(sshd.serverPath(STORE, name)));
      assert.deepEqual(missing, [], `volumes of the store with no directory on the server (removed by the losing host's undo?): ${missing.join(' ')}`);
      for (const name of CLASHES) {
        const winner = winners.get(name) ?? -1;
        const [winnerEngine, loserEngine] = [[a, b][winner] as Engine, [a, b][1 - winner] as Engine];
        await winnerEngine.runContainer([...BY_SFTP, '-v', `${name}:/data`], `echo ${name} > /data/f`);
        assert.equal(await loserEngine.runContainer([...BY_SFTP, '-v', `${name}:/data`], 'cat /data/f'), `${name}\n`);
      }
    });

    it('docker volume rm on A is refused, naming host-b, while a container on B uses the volume (also after the lease TTL: B renews it), and done once it stopped', async function () {
      this.timeout(60_000);
      const VOL = 'c10-busy';
      await inUseOnB(VOL);
      console.log(`      ${await refusedForB(VOL)}`);
      await sleep((LEASE_TTL + 1) * 1000);
      await refusedForB(VOL);
      assert.ok(fs.existsSync(record(VOL)), 'the refused remove withdrew the record');
      assert.ok(await b.isRunning('c10-user'));

      await b.removeContainer('c10-user');
      const t0 = Date.now();
      // B drops its lease right after its Unmount (asynchronously): well before it would expire
      const holders = await removeOnA(VOL, 1500);
      console.log(`      removed on A ${Date.now() - t0} ms after B's container stopped (${holders.length} refusals before)`);
      assert.ok(holders.every((h) => h === 'host-b'), `refusals named ${holders.join(', ')}`);
      assert.equal(fs.existsSync(record(VOL)), false, 'the record is still on the store');
      assert.ok(fs.existsSync(sshd.serverPath(STORE, VOL)), 'the data was deleted without remove=delete');
      await eventually(`B forgets ${VOL}`, async () => assert.ok(!(await b.volumeNames()).includes(VOL)), 5000, 100);
    });

    it('with the SFTP server down, docker volume ls and inspect on B answer at once from the local copy, saying how old it is', async function () {
      this.timeout(60_000);
      const VOL = 'c10-cached';
      await a.createVolume(VOL);
      await listedOn(b, VOL);
      const before = await b.volumeNames();
      // B's engine learns the driver (see BY_SFTP); B's plugin still knows VOL only from the catalogue
      await b.createVolume(VOL);
      await sshd.kill();
      try {
        await sleep(2500);
        let t0 = Date.now();
        const names = await b.volumeNames();
        const lsMs = Date.now() - t0;
        t0 = Date.now();
        const v = await b.volumeInspect(VOL);
        const inspectMs = Date.now() - t0;
        console.log(`      server down: ls ${lsMs} ms, inspect ${inspectMs} ms; Status ${JSON.stringify(v.Status)}`);
        assert.deepEqual(names, before);
        assert.ok(lsMs < 1500 && inspectMs < 1500, `ls took ${lsMs} ms, inspect ${inspectMs} ms`);
        assert.equal(status(v).createdBy, 'host-a');
        const age = Number(CATALOGUE_AGE.exec(String(status(v).catalogue))?.[1]);
        assert.ok(age >= 2, `catalogue age ${String(status(v).catalogue)} while the server has been down 2.5 s`);
      } finally {
        await sshd.restart();
      }
      await eventually(
        'B reads the catalogue again',
        async () => {
          const age = Number(CATALOGUE_AGE.exec(String(status(await b.volumeInspect(VOL)).catalogue))?.[1]);
          assert.ok(age < 1.5, `age ${age} s`);
        },
        15_000,
        250,
      );
    });

    it(`a host that died holding a lease blocks docker volume rm on A until the lease expires (${LEASE_TTL} s)`, async function () {
      this.timeout(60_000);
      const VOL = 'c10-orphan';
      const lease = await inUseOnB(VOL);

      bKilled = true;
      const killed = await killEngineHard(b, bPluginId);
      const killedAt = Date.now();
      const first = await a.docker(['volume', 'rm', VOL]);
      // Dead only after the TTL plus a margin (TTL/6, at least 2 s) from its last heartbeat.
      const deadAfterMs = (LEASE_TTL + Math.max(LEASE_TTL / 6, 2)) * 1000;
      const holders = [refusalByB(first, VOL), ...(await removeOnA(VOL, deadAfterMs + 3000))];
      const ms = Date.now() - killedAt;
      console.log(`      killed ${killed.length} processes of engine B; A's rm refused ${holders.length} times, done ${ms} ms after the kill`);
      assert.ok(ms <= deadAfterMs + 2000, `A waited ${ms} ms`);
      assert.ok(fs.existsSync(lease), 'the dead host lease vanished by itself');
      assert.equal(fs.existsSync(record(VOL)), false, 'the record is still on the store');
      // The refusals name the dead host, unless its lease file was left unreadable.
      const content = JSON.stringify(fs.readFileSync(lease, 'utf8'));
      assert.deepEqual([...new Set(holders)], ['host-b'], `refusals named ${holders.join(', ')}; the dead host's lease file holds ${content}`);
    });
  });
}
