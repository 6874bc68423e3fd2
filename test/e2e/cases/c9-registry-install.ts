import assert from 'node:assert/strict';
import type { TestSshd } from '../../support/sshd';
import { PLUGIN, type Engine } from '../support/engine';
import { serverFile, sftpOptions } from '../support/helpers';
import { timedDescribe } from '../support/timings';
import { World } from '../support/world';

export function registryInstall(world: World): void {
  timedDescribe(world.timings, 'case 9: the plugin pushed to a local registry (scripts/push) and installed with docker plugin install --alias on a fresh engine', function () {
    let c: Engine | undefined;
    let sshd: TestSshd;
    let ref: string;

    before(async function () {
      this.timeout(1_200_000);
      [ref, sshd] = await Promise.all([world.baseRef(), world.sshd()]);
      c = await world.newEngine('c');
      await c.script('base-image', ['busybox']);
    });

    after(async function () {
      this.timeout(180_000);
      if (c !== undefined) await world.disposeEngine(c);
    });

    it('docker plugin install --alias sftp REF on a fresh engine, then SFTP and local volumes work', async function () {
      this.timeout(300_000);
      const e = c as Engine;
      assert.equal((await e.dockerOk(['plugin', 'ls', '-q'])).trim(), '', 'the engine is not fresh');
      await world.installFromRegistry(e, ref);
      const p = await e.pluginInspect();
      assert.equal(p.Name, `${PLUGIN}:latest`);
      assert.equal(p.Enabled, true);
      assert.equal(p.PluginReference, ref.includes('/') ? ref : `docker.io/${ref}`);
      assert.equal(p.Settings.Mounts.find((m) => m.Name === 'data')?.Source, World.dataDir(e));

      await e.createVolume('c9-sftp', sftpOptions(sshd, 'c9-sftp'));
      await e.createVolume('c9-local');
      await e.runContainer(['-v', 'c9-sftp:/data', '-v', 'c9-local:/local'], 'echo from-registry-install > /data/f && cp /data/f /local/f');
      await serverFile(sshd, ['c9-sftp', 'f'], 'from-registry-install\n');
      assert.equal(await e.runContainer(['-v', 'c9-local:/local'], 'cat /local/f'), 'from-registry-install\n');
      assert.equal((await e.volumeInspect('c9-sftp')).Status?.backend, 'sftp');
      await e.dockerOk(['volume', 'rm', 'c9-sftp', 'c9-local']);
    });
  });
}
