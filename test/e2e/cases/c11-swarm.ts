import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestSshd } from '../../support/sshd';
import { BUSYBOX, PLUGIN, PLUGIN_FULL_NAME, type Engine, type VolumeInspect } from '../support/engine';
import { eventually, pluginLog, RUN_ID, serverFile, SLEEPER, useDefaultStore } from '../support/helpers';
import { sleep } from '../support/proc';
import { Swarm, type SwarmTask } from '../support/swarm';
import { timedDescribe } from '../support/timings';
import { World } from '../support/world';

/** dockerd's environment on both nodes: a task start uses the loaded image, with no registry pull first. */
const ENGINE_ENV = { DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: '1' };
/** Loopback aliases the two nodes advertise (the whole of 127/8 is local on Linux). */
const ADDRESSES = ['127.0.0.2', '127.0.0.3'];
const HOST_NAMES = ['swarm-a', 'swarm-b'];
/**
 * Rounds of the create-on-A, run-on-B race, and how many run at once: one at a time takes
 * about a minute here (docker run on B ~0.5 s); raise PARALLEL if that ever passes ~3 min.
 */
const ROUNDS = 100;
const PARALLEL = 1;
/** Each task's node ID is in its environment (both nodes have one hostname here). */
const NODE_ENV = ['--env', 'NODE={{.Node.ID}}'];
/** Writes the task's node ID to /data/NODE.txt, then waits to be stopped (also when the write failed). */
const WRITE_NODE_THEN_SLEEP = `echo "$NODE" >> "/data/$NODE.txt"; ${SLEEPER}`;
const WARNED = 'create options differ from the store catalogue; its definition is used';

/**
 * Two fresh engines of their own, joined into one swarm on loopback aliases (engine A the
 * manager, B a worker), the plugin installed on both from the registry with one default
 * store (a directory of its own on the shared TestSshd) and HOST_NAME swarm-a / swarm-b.
 * Services, a stack and plain `docker run` on both nodes share the store's volumes.
 */
export function swarmAcrossHosts(world: World): void {
  timedDescribe(world.timings, 'case 11: swarm across hosts: services, a stack and docker run on two nodes share the store catalogue', function () {
    let a: Engine;
    let b: Engine;
    let sshd: TestSshd;
    let swarm: Swarm | undefined;
    const STORE = `c11-store-${RUN_ID}`;
    const hostId = (e: Engine): string => fs.readFileSync(path.join(World.hostDataDir(e), 'host-id'), 'utf8').trim();
    // A host's hold on a volume it mounts: its mark (docs/catalogue-protocol.md, Leases).
    const lease = (volume: string, e: Engine): string => sshd.serverPath(STORE, '.docker-volume-sftp', 'mounts', hostId(e), `${volume}.mounted`);
    const status = (v: VolumeInspect): Record<string, unknown> => v.Status ?? {};
    const sw = (): Swarm => {
      assert.ok(swarm !== undefined, 'no swarm');
      return swarm;
    };

    /** `docker service create --detach --no-resolve-image --name NAME ARGS busybox sh -c SCRIPT` on the manager. */
    async function createService(name: string, args: readonly string[], script: string): Promise<void> {
      await a.dockerOk(['service', 'create', '--detach', '--no-resolve-image', '--name', name, ...NODE_ENV, ...args, BUSYBOX, 'sh', '-c', script]);
    }

    /** Both nodes see `volume` as the store's volume: driver sftp, the given options, no local-driver one. */
    async function storeVolumeOnBoth(volume: string, options: string): Promise<VolumeInspect[]> {
      const views: VolumeInspect[] = [];
      for (const e of [a, b]) {
        const v = await e.volumeInspect(volume);
        assert.equal(v.Driver, PLUGIN_FULL_NAME, `${e.name} has ${volume} of driver ${v.Driver}`);
        assert.equal(status(v).options, options, `${e.name}'s ${volume}: ${JSON.stringify(v.Status)}`);
        assert.ok(!(await e.volumeNames('local')).includes(volume), `${e.name} has a local-driver ${volume}`);
        views.push(v);
      }
      return views;
    }

    /** The store has the node file of each task (WRITE_NODE_THEN_SLEEP); else the tasks' output. */
    async function eachNodeWrote(volume: string, tasks: SwarmTask[]): Promise<void> {
      try {
        for (const id of sw().nodeIds) await serverFile(sshd, [STORE, volume, `${id}.txt`], `${id}\n`);
      } catch (error) {
        const logs = await Promise.all(
          tasks.map(async (t) => {
            const { engine, container } = sw().containerOf(t);
            const r = await engine.docker(['logs', container]);
            const env = await engine.docker(['exec', container, 'sh', '-c', 'echo "NODE=$NODE"; ls -la /data; grep " /data " /proc/mounts']);
            return `${engine.name}: ${r.stdout}${r.stderr}${env.stdout}${env.stderr}`;
          }),
        );
        throw new Error(`${error instanceof Error ? error.message : String(error)}\n${logs.join('\n')}`);
      }
    }

    /** Each of the running tasks (one per node) reads the node file the other one wrote. */
    async function eachReadsTheOther(tasks: SwarmTask[]): Promise<void> {
      for (const t of tasks) {
        const other = tasks.find((o) => o.NodeID !== t.NodeID);
        assert.ok(other?.NodeID !== undefined, 'no task on another node');
        const { engine, container } = sw().containerOf(t);
        const seen = await eventually(
          `${engine.name}'s task reads ${other.NodeID}.txt`,
          () => engine.exec(container, `cat /data/${other.NodeID}.txt`),
          5000,
          200,
        );
        assert.match(seen, new RegExp(`^${other.NodeID}$`, 'm'));
      }
    }

    before(async function () {
      this.timeout(900_000);
      const [ref, server] = await Promise.all([world.baseRef(), world.sshd()]);
      sshd = server;
      const engines = await world.timings.measure('setup: case 11: two engines, busybox, plugin from the registry', () =>
        Promise.all(
          HOST_NAMES.map(async (name) => {
            const e = await world.newEngine(name, { env: ENGINE_ENV });
            await e.script('base-image', ['busybox']);
            await world.installFromRegistry(e, ref);
            return e;
          }),
        ),
      );
      [a, b] = engines as [Engine, Engine];
      for (const e of [a, b]) {
        const dockerd = fs.readFileSync(path.join(e.dir, 'pid'), 'utf8').trim();
        assert.ok(fs.readFileSync(`/proc/${dockerd}/environ`, 'utf8').split('\0').includes('DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1'), `dockerd of ${e.name} lacks the variable`);
      }
      await sshd.mkdirAsUser(STORE);
      await Promise.all([a, b].map((e, i) => useDefaultStore(e, sshd, STORE, HOST_NAMES[i] as string)));
      assert.notEqual(hostId(a), hostId(b), 'the two plugins have one host ID');
      swarm = await world.timings.measure('setup: case 11: swarm init on A, join of B', () => Swarm.form([a, b], ADDRESSES));
    });

    after(async function () {
      this.timeout(300_000);
      await swarm?.leave();
      for (const e of [b, a]) if (e !== undefined) await world.disposeEngine(e);
    });

    it(`${ROUNDS} rounds: docker volume create -d sftp on A, then at once docker run -v NAME:/data on B naming no driver: B always gets the store's volume`, async function () {
      this.timeout(600_000);
      const names = Array.from({ length: ROUNDS }, (_, i) => `c11-round-${i}`);
      const gaps: number[] = [];
      const runMs: number[] = [];
      const failures: string[] = [];
      let next = 0;
      const t0 = Date.now();
      const worker = async (): Promise<void> => {
        for (let i = next++; i < ROUNDS; i = next++) {
          const name = names[i] as string;
          await a.createVolume(name);
          const created = Date.now();
          if (i % 4 !== 0) await sleep((i % 4) * 25); // 0, 25, 50 or 75 ms after the create returned
          const started = Date.now();
          gaps.push(started - created);
          const r = await b.docker(['run', '--rm', '--network', 'none', '-v', `${name}:/data`, BUSYBOX, 'sh', '-c', `echo round-${i} > /data/f`]);
          runMs.push(Date.now() - started);
          if (r.code !== 0) failures.push(`${name}: ${r.stderr.trim()}`);
        }
      };
      await Promise.all(Array.from({ length: PARALLEL }, worker));
      const totalMs = Date.now() - t0;
      runMs.sort((x, y) => x - y);
      const pct = (p: number): number => runMs[Math.min(runMs.length - 1, Math.floor((p / 100) * runMs.length))] ?? NaN;
      console.log(
        `      ${ROUNDS} rounds, ${PARALLEL} at a time: ${(totalMs / 1000).toFixed(1)} s; docker run on B p50 ${pct(50)} ms, p90 ${pct(90)} ms, max ${runMs.at(-1)} ms; ` +
          `create-to-run gap max ${Math.max(...gaps)} ms`,
      );
      assert.deepEqual(failures, [], `docker run on B failed in ${failures.length} rounds`);
      assert.ok(Math.max(...gaps) < 100, `a docker run started ${Math.max(...gaps)} ms after its create`);

      const inspected = JSON.parse(await b.dockerOk(['volume', 'inspect', ...names])) as VolumeInspect[];
      const notOurs = inspected.filter((v) => v.Driver !== PLUGIN_FULL_NAME).map((v) => `${v.Name} (${v.Driver})`);
      assert.deepEqual(notOurs, [], `B bound ${notOurs.length} of the names to another driver`);
      assert.equal(inspected.length, ROUNDS);
      const local = (await b.volumeNames('local')).filter((n) => names.includes(n));
      assert.deepEqual(local, [], `B made ${local.length} local-driver volumes`);
      const missing = names.filter((name, i) => {
        try {
          return fs.readFileSync(sshd.serverPath(STORE, name, 'f'), 'utf8') !== `round-${i}\n`;
        } catch {
          return true;
        }
      });
      assert.deepEqual(missing, [], `data written on B is not on the store for ${missing.length} volumes`);
    });

    const PAIR = 'c11-pair';

    it('a service of 2 replicas spread over the nodes on one sftp volume: a task on each node, each sees the other\'s writes within 1 s', async function () {
      this.timeout(180_000);
      await createService(PAIR, ['--replicas', '2', '--placement-pref', 'spread=node.id', '--mount', `type=volume,source=${PAIR},target=/data,volume-driver=${PLUGIN}`], SLEEPER);
      const tasks = await sw().waitRunning(PAIR, [1, 1]);
      const byEngine = new Map(tasks.map((t) => [sw().engineOf(t.NodeID), sw().containerOf(t).container]));
      await storeVolumeOnBoth(PAIR, 'none');
      const latencies: number[] = [];
      for (let round = 1; round <= 3; round++) {
        for (const [writer, reader] of [[a, b], [b, a]] as const) {
          const id = sw().nodeIdOf(writer);
          const line = `${id} ${round}`;
          const file = `/data/${id}.txt`;
          // the reader polls every 20 ms from before the write on
          const polling = reader.exec(byEngine.get(reader) ?? '', `i=0; until grep -qx '${line}' ${file} 2>/dev/null; do i=$((i+1)); [ $i -ge 250 ] && exit 1; usleep 20000; done; echo $i`);
          await sleep(500);
          await writer.exec(byEngine.get(writer) ?? '', `echo "$NODE ${round}" >> /data/$NODE.txt`);
          const written = Date.now();
          const polls = Number((await polling).trim());
          const ms = Date.now() - written;
          latencies.push(ms);
          assert.ok(ms < 1000, `${reader.name} saw ${writer.name}'s line ${round} ${ms} ms after it was written (${polls} polls)`);
        }
      }
      console.log(`      seen by the other node after (ms): ${latencies.join(' ')}`);
      assert.equal(fs.readFileSync(sshd.serverPath(STORE, PAIR, `${sw().nodeIdOf(b)}.txt`), 'utf8'), `${sw().nodeIdOf(b)} 1\n${sw().nodeIdOf(b)} 2\n${sw().nodeIdOf(b)} 3\n`);
    });

    it("docker node update --availability drain of B: B's task moves to A with the data; B's lease goes once its task has stopped", async function () {
      this.timeout(180_000);
      const idB = sw().nodeIdOf(b);
      const before = await sw().waitRunning(PAIR, [1, 1], 10_000);
      const onB = before.find((t) => t.NodeID === idB) as SwarmTask;
      const oldContainer = sw().containerOf(onB).container;
      const leaseB = lease(PAIR, b);
      assert.ok(fs.existsSync(leaseB), 'B holds no lease on the volume while its task runs');
      assert.ok(fs.existsSync(lease(PAIR, a)), 'A holds no lease on the volume while its task runs');
      const t0 = Date.now();
      await a.dockerOk(['node', 'update', '--availability', 'drain', idB]);
      try {
        const after = await sw().waitRunning(PAIR, [2, 0]);
        const movedMs = Date.now() - t0;
        const moved = after.find((t) => t.Slot === onB.Slot);
        assert.ok(moved !== undefined, `no running task of slot ${String(onB.Slot)} on A`);
        const { engine, container } = sw().containerOf(moved);
        assert.equal(engine, a);
        assert.equal(await a.exec(container, `cat /data/${idB}.txt`), `${idB} 1\n${idB} 2\n${idB} 3\n`, "B's writes are not there for the moved task");

        await eventually(`B's old task container stopped`, async () => assert.equal((await b.dockerOk(['inspect', '-f', '{{.State.Running}}', oldContainer])).trim(), 'false'), 60_000, 200);
        const stoppedMs = Date.now() - t0;
        await eventually(`B's lease file ${path.basename(leaseB)} gone`, () => assert.ok(!fs.existsSync(leaseB), 'still there'), 5000, 100);
        const leaseMs = Date.now() - t0;
        // NOTES: the stopped container stays as task history and still holds the volume for the engine
        const history = (await b.dockerOk(['ps', '-aq', '--no-trunc', '--filter', `label=com.docker.swarm.service.name=${PAIR}`])).split('\n').filter(Boolean);
        const kept = history.includes(oldContainer);
        const v = await b.volumeInspect(PAIR);
        assert.equal(status(v).mounts, 0, `B's plugin still counts mounts: ${JSON.stringify(v.Status)}`);
        if (kept) await b.dockerOk(['rm', oldContainer]);
        assert.ok(!fs.existsSync(leaseB), 'B leases the volume again');
        assert.ok(fs.existsSync(lease(PAIR, a)), "A's lease is gone");
        console.log(
          `      drain: the task ran on A after ${movedMs} ms, B's old container stopped after ${stoppedMs} ms, B's lease gone after ${leaseMs} ms; ` +
            `${kept ? "B's stopped task container was still there as task history (removed by docker rm)" : 'no stopped task container left on B'}`,
        );
      } finally {
        await a.dockerOk(['node', 'update', '--availability', 'active', idB]);
        await sw().removeService(PAIR);
      }
    });

    it('docker stack deploy: a compose volume of driver sftp with driver_opts, services on the host network: tasks on both nodes use it', async function () {
      this.timeout(180_000);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dvs-e2e-stack-'));
      const file = path.join(dir, 'stack.yaml');
      const STACK = 'c11stack';
      const VOLUME = `${STACK}_data`;
      const SERVICE = `${STACK}_app`;
      // JSON is YAML; $$ keeps the CLI's interpolation off the task's own variable
      fs.writeFileSync(
        file,
        JSON.stringify(
          {
            version: '3.8',
            services: {
              app: {
                image: BUSYBOX,
                command: ['sh', '-c', WRITE_NODE_THEN_SLEEP.replaceAll('$', () => '$$')],
                environment: { NODE: '{{.Node.ID}}' },
                volumes: ['data:/data'],
                networks: ['hostnet'],
                deploy: { replicas: 2, placement: { preferences: [{ spread: 'node.id' }] } },
              },
            },
            volumes: { data: { driver: PLUGIN, driver_opts: { cache_timeout: '1' } } },
            networks: { hostnet: { external: true, name: 'host' } },
          },
          null,
          2,
        ),
      );
      try {
        await a.dockerOk(['stack', 'deploy', '--detach=true', '--resolve-image', 'never', '-c', file, STACK]);
        const tasks = await sw().waitRunning(SERVICE, [1, 1]);
        await eachNodeWrote(VOLUME, tasks);
        await eachReadsTheOther(tasks);
        const views = await storeVolumeOnBoth(VOLUME, 'cache_timeout=1');
        console.log(`      ${VOLUME} created by ${views.map((v) => String(status(v).createdBy)).join(' / ')} (A / B's view)`);
      } finally {
        await a.docker(['stack', 'rm', STACK]);
        await sw().removeService(SERVICE).catch((e: Error) => console.log(`      (cleanup) ${e.message}`));
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('a service whose mount names no driver, created on A right after the volume: both tasks get the store\'s volume, none a local one', async function () {
      this.timeout(180_000);
      const VOLUME = 'c11-nodriver';
      const SERVICE = 'c11-nodriver';
      await a.createVolume(VOLUME);
      const t0 = Date.now();
      try {
        await createService(SERVICE, ['--replicas', '2', '--placement-pref', 'spread=node.id', '--mount', `type=volume,source=${VOLUME},target=/data`], WRITE_NODE_THEN_SLEEP);
        const tasks = await sw().waitRunning(SERVICE, [1, 1]);
        console.log(`      service created ${Date.now() - t0} ms before both tasks ran (create on A to service create: 0 ms)`);
        await storeVolumeOnBoth(VOLUME, 'none');
        await eachNodeWrote(VOLUME, tasks);
        await eachReadsTheOther(tasks);
      } finally {
        await sw().removeService(SERVICE);
      }
    });

    it("a service's volume-opt that differs from the store's definition: tasks on both nodes run with the store's definition", async function () {
      this.timeout(180_000);
      const VOLUME = 'c11-opts';
      const SERVICE = 'c11-opts';
      await a.createVolume(VOLUME, { cache_timeout: '1' });
      try {
        await createService(
          SERVICE,
          ['--replicas', '2', '--placement-pref', 'spread=node.id', '--mount', `type=volume,source=${VOLUME},target=/data,volume-driver=${PLUGIN},volume-opt=cache_timeout=3`],
          WRITE_NODE_THEN_SLEEP,
        );
        const tasks = await sw().waitRunning(SERVICE, [1, 1]);
        const views = await storeVolumeOnBoth(VOLUME, 'cache_timeout=1');
        const report: string[] = [];
        for (const [i, e] of [a, b].entries()) {
          const ignored = status(views[i] as VolumeInspect).ignoredOptions;
          const log = pluginLog(e);
          const creates = log.filter((l) => l.msg === 'call' && l.call === '/VolumeDriver.Create' && l.volume === VOLUME).length;
          const warned = log.filter((l) => l.msg === WARNED && l.volume === VOLUME);
          // A made the volume itself (one Create with the store's options): only another Create can be overruled
          const overruled = e === a ? creates - 1 : creates;
          if (overruled > 0) {
            assert.equal(ignored, "cache_timeout=3 (the store's definition is used)", `${e.name}'s ${VOLUME}: ${JSON.stringify(views[i]?.Status)}`);
            assert.deepEqual(warned.map((l) => [l.asked, l.used]), [['cache_timeout=3', 'cache_timeout=1']], `${e.name}'s plugin log`);
          } else {
            assert.equal(ignored, undefined, `${e.name} reports ignored options with no Create of the service's`);
            assert.deepEqual(warned, [], `${e.name}'s plugin warned with no Create of the service's`);
          }
          report.push(`${e.name}: ${overruled > 0 ? `the service's Create overruled (${String(ignored)})` : 'no Create of the service reached the plugin (the engine found the volume with Get)'}`);
        }
        console.log(`      ${report.join('; ')}`);
        await eachReadsTheOther(tasks);
      } finally {
        await sw().removeService(SERVICE);
      }
    });

    it('a global service with an sftp volume runs one task on each node, both on the store\'s volume', async function () {
      this.timeout(180_000);
      const VOLUME = 'c11-global';
      const SERVICE = 'c11-global';
      try {
        await createService(SERVICE, ['--mode', 'global', '--mount', `type=volume,source=${VOLUME},target=/data,volume-driver=${PLUGIN}`], WRITE_NODE_THEN_SLEEP);
        const tasks = await sw().waitRunning(SERVICE, [1, 1]);
        await storeVolumeOnBoth(VOLUME, 'none');
        await eachNodeWrote(VOLUME, tasks);
        await eachReadsTheOther(tasks);
      } finally {
        await sw().removeService(SERVICE);
      }
    });
  });
}
