import assert from 'node:assert/strict';
import type { TestSshd } from '../../support/sshd';
import { PLUGIN, type Engine } from '../support/engine';
import { eventually, serverFile, sftpOptions, SLEEPER, waitRunning } from '../support/helpers';
import { timedDescribe } from '../support/timings';
import type { World } from '../support/world';

/** restart=always containers with an SFTP volume each: an engine restart mounts them all at once. */
const MANY = Array.from({ length: 30 }, (_, i) => i);

export function engineRestart(world: World): void {
  timedDescribe(world.timings, 'case 3: engine restart (scripts/engine stop, then start on the same DIR)', function () {
    let a: Engine;
    let sshd: TestSshd;

    before(async function () {
      this.timeout(1_200_000);
      [a, sshd] = await Promise.all([world.engineA(), world.sshd()]);
    });

    after(async function () {
      this.timeout(120_000);
      if (a === undefined) return;
      await a.removeContainer('c3-always', 'c3-again', ...MANY.map((i) => `c3-many-${i}`));
      await a.docker(['volume', 'rm', 'c3-sftp', 'c3-local', ...MANY.map((i) => `c3-many-${i}`)]);
    });

    it('every volume is still listed, data is intact, a --restart always container gets its volumes back, a stopped one too', async function () {
      this.timeout(300_000);
      await a.createVolume('c3-local');
      await a.createVolume('c3-sftp', sftpOptions(sshd, 'c3-sftp'));
      await a.runContainer(['-v', 'c3-local:/local', '-v', 'c3-sftp:/data'], 'echo local-before > /local/f && echo sftp-before > /data/f');
      await a.startContainer('c3-always', ['--restart', 'always', '-v', 'c3-local:/local', '-v', 'c3-sftp:/data'], SLEEPER);
      await a.dockerOk(['create', '--name', 'c3-again', '--network', 'none', '-v', 'c3-sftp:/data', 'dvs-busybox:latest', 'cat', '/data/f']);
      await waitRunning(a, 'c3-always');
      const before = await a.volumeNames();
      assert.ok(before.includes('c3-local') && before.includes('c3-sftp'));

      const t0 = Date.now();
      await a.stop();
      await a.start();
      const restartMs = Date.now() - t0;

      const plugin = await a.pluginInspect();
      assert.equal(plugin.Enabled, true, 'the plugin is not enabled after the engine restart');
      assert.deepEqual(await a.volumeNames(), before, 'volumes listed before and after the restart differ');
      for (const name of ['c3-local', 'c3-sftp']) {
        const v = await a.volumeInspect(name);
        assert.match(v.Driver, new RegExp(`^${PLUGIN}(:latest)?$`));
      }

      // --restart always: the engine starts the container again and mounts both volumes
      await waitRunning(a, 'c3-always', 90_000);
      const seen = await eventually('c3-always reads both volumes', () => a.exec('c3-always', 'cat /local/f /data/f'), 30_000, 500);
      assert.equal(seen, 'local-before\nsftp-before\n');
      await a.exec('c3-always', 'echo sftp-after > /data/g');
      await serverFile(sshd, ['c3-sftp', 'g'], 'sftp-after\n');
      // a container that was not running is started again by hand
      assert.equal(await a.dockerOk(['start', '-a', 'c3-again']), 'sftp-before\n');
      assert.equal(await a.runContainer(['-v', 'c3-local:/local'], 'cat /local/f'), 'local-before\n');
      console.log(`      engine stop+start took ${(restartMs / 1000).toFixed(1)} s`);
    });

    it('brings back 30 restart=always containers on 30 SFTP volumes, each with its data, over a few shared SSH connections', async function () {
      this.timeout(600_000);
      await Promise.all(MANY.map((i) => a.createVolume(`c3-many-${i}`, sftpOptions(sshd, `c3-many-${i}`))));
      await Promise.all(
        MANY.map((i) => a.startContainer(`c3-many-${i}`, ['--restart', 'always', '-v', `c3-many-${i}:/data`], `echo ${i} > /data/mine; ${SLEEPER}`)),
      );
      for (const i of MANY) await serverFile(sshd, [`c3-many-${i}`, 'mine'], `${i}\n`);
      const connectionsBefore = sshd.connectionCount();

      await a.stop();
      await a.start();

      for (const i of MANY) await waitRunning(a, `c3-many-${i}`, 120_000);
      for (const i of MANY) {
        const seen = await eventually(`c3-many-${i} reads its volume`, () => a.exec(`c3-many-${i}`, 'cat /data/mine'), 30_000, 500);
        assert.equal(seen, `${i}\n`);
      }
      const connectionsAfter = sshd.connectionCount();
      console.log(`      SSH connections to the server for 31 mounted SFTP volumes: ${connectionsBefore} before the restart, ${connectionsAfter} after`);
      // One share of 4 connections for these volumes, plus the control connection; other
      // cases' volumes of engine A may hold a share of their own still. One per volume was 31.
      assert.ok(connectionsAfter <= 12, `${connectionsAfter} SSH connections for one host`);
    });
  });
}
