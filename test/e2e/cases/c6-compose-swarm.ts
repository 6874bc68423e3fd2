import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestSshd } from '../../support/sshd';
import { BUSYBOX, PLUGIN, type Engine } from '../support/engine';
import { eventually, serverFile, sftpOptions } from '../support/helpers';
import { run } from '../support/proc';
import { timedDescribe } from '../support/timings';
import type { World } from '../support/world';

/** The compose CLI to use: Compose v2 as a docker CLI plugin, else Debian's docker-compose (v1). */
async function findCompose(): Promise<string[] | undefined> {
  const v2 = await run('docker', ['compose', 'version']).catch(() => undefined);
  if (v2?.code === 0) return ['docker', 'compose'];
  const v1 = await run('docker-compose', ['version']).catch(() => undefined);
  if (v1?.code === 0) return ['docker-compose'];
  return undefined;
}

export function composeAndSwarm(world: World): void {
  timedDescribe(world.timings, 'case 6: compose (driver: sftp, driver_opts) and a swarm service with a volume-driver mount', function () {
    let a: Engine;
    let sshd: TestSshd;

    before(async function () {
      this.timeout(1_200_000);
      [a, sshd] = await Promise.all([world.engineA(), world.sshd()]);
    });

    it('docker compose: a service on a `driver: sftp` volume with driver_opts writes to the server; down -v removes the volume', async function () {
      this.timeout(180_000);
      // In a Debian 13 root: that release's docker CLI with Compose v2 (docker-compose 2.x as a CLI plugin).
      const inRoot = a.root !== '';
      if (inRoot) {
        const version = await a.inRoot(['docker', 'compose', 'version', '--short']);
        assert.equal(version.code, 0, `docker compose in the Debian root: ${version.stderr}`);
        assert.match(version.stdout.trim(), /^v?2\./, 'Compose v2 in the Debian root');
      }
      const compose = inRoot ? ['docker', 'compose'] : await findCompose();
      if (compose === undefined) {
        console.log('      SKIP: no compose CLI (neither `docker compose` nor `docker-compose`; apt-get install docker-compose)');
        this.skip();
      }
      const [cmd, ...pre] = compose;
      // inside the root for its own CLI; `file` is the path the CLI opens
      const dir = fs.mkdtempSync(inRoot ? a.hostPath('/tmp/dvs-e2e-compose-') : path.join(os.tmpdir(), 'dvs-e2e-compose-'));
      // JSON is YAML: no hand-written YAML to escape
      fs.writeFileSync(
        path.join(dir, 'compose.yaml'),
        JSON.stringify(
          {
            version: '3.8',
            services: {
              writer: {
                image: BUSYBOX,
                network_mode: 'none',
                command: ['sh', '-c', 'echo from-compose > /data/compose.txt && cat /data/compose.txt'],
                volumes: ['shared:/data'],
              },
            },
            volumes: { shared: { driver: PLUGIN, driver_opts: sftpOptions(sshd, 'c6-compose') } },
          },
          null,
          2,
        ),
      );
      const project = 'c6e2e';
      const file = inRoot ? path.join('/tmp', path.basename(dir), 'compose.yaml') : path.join(dir, 'compose.yaml');
      const composeRun = (args: string[]) =>
        inRoot
          ? a.inRoot([cmd as string, ...pre, '-p', project, '-f', file, ...args], { timeoutMs: 120_000 })
          : run(cmd as string, [...pre, '-p', project, '-f', file, ...args], { env: a.env(), cwd: dir, timeoutMs: 120_000 });
      try {
        const up = await composeRun(['up', '--exit-code-from', 'writer']);
        assert.equal(up.code, 0, `compose up failed:\n${up.stdout}\n${up.stderr}`);
        assert.match(up.stdout, /from-compose/);
        await serverFile(sshd, ['c6-compose', 'compose.txt'], 'from-compose\n');
        const v = await a.volumeInspect(`${project}_shared`);
        assert.match(v.Driver, /^sftp(:latest)?$/);
        assert.equal(v.Status?.backend, 'sftp');
        assert.equal(v.Options?.path, sshd.serverPath('c6-compose'));
        const down = await composeRun(['down', '-v']);
        assert.equal(down.code, 0, `compose down -v failed:\n${down.stderr}`);
        assert.ok(!(await a.volumeNames()).includes(`${project}_shared`), 'compose down -v left the volume');
        // remove=retain (default): the server keeps the data
        assert.equal(fs.readFileSync(sshd.serverPath('c6-compose', 'compose.txt'), 'utf8'), 'from-compose\n');
      } finally {
        await composeRun(['down', '-v']).catch(() => undefined);
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('swarm service on a single-node swarm: --mount type=volume,volume-driver=sftp,volume-opt=... writes to the server', async function () {
      this.timeout(240_000);
      await a.dockerOk(['swarm', 'init', '--advertise-addr', '127.0.0.1']);
      try {
        const opts = sftpOptions(sshd, 'c6-swarm');
        const mount = ['type=volume', 'source=c6-swarm', 'destination=/data', `volume-driver=${PLUGIN}`, ...Object.entries(opts).map(([k, v]) => `volume-opt=${k}=${v}`)].join(',');
        await a.dockerOk([
          'service', 'create', '--detach', '--name', 'c6-svc', '--restart-condition', 'none', '--mount', mount,
          BUSYBOX, 'sh', '-c', 'echo from-swarm-task > /data/swarm.txt',
        ]);
        const state = await eventually('the swarm task completes', async () => {
          const s = (await a.dockerOk(['service', 'ps', '--no-trunc', '--format', '{{.CurrentState}}|{{.Error}}', 'c6-svc'])).trim();
          assert.ok(!/^(Failed|Rejected)/.test(s), `task failed: ${s}`);
          assert.match(s, /^Complete/);
          return s;
        }, 120_000, 500).catch(async (e: Error) => {
          throw new Error(`${e.message}\n${(await a.docker(['service', 'ps', '--no-trunc', 'c6-svc'])).stdout}`);
        });
        assert.match(state, /^Complete/);
        await serverFile(sshd, ['c6-swarm', 'swarm.txt'], 'from-swarm-task\n');
        const v = await a.volumeInspect('c6-swarm');
        assert.equal(v.Status?.backend, 'sftp');
      } finally {
        await a.docker(['service', 'rm', 'c6-svc']);
        await a.docker(['swarm', 'leave', '--force']);
        // the task container goes away asynchronously; then the volume can be removed
        await eventually('c6-swarm volume removed', async () => {
          const r = await a.docker(['volume', 'rm', 'c6-swarm']);
          assert.ok(r.code === 0 || /no such volume/i.test(r.stderr), r.stderr);
        }, 30_000, 500).catch((e: Error) => console.log(`      (cleanup) ${e.message}`));
      }
    });
  });
}
