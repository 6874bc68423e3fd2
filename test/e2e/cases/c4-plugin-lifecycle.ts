import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { TestSshd } from '../../support/sshd';
import { PLUGIN, REPO, type Engine } from '../support/engine';
import { serverFile, sftpOptions } from '../support/helpers';
import { timedDescribe } from '../support/timings';
import { ROOT, type World } from '../support/world';

/** Files the Dockerfile and scripts/lib/build.sh need from a build context. */
const CONTEXT_FILES = ['Dockerfile', '.dockerignore', 'package.json', 'package-lock.json', 'tsconfig.json', 'config.json', 'src', 'scripts/build-native'];

export function pluginLifecycle(world: World): void {
  timedDescribe(world.timings, 'case 4: plugin disable + enable, and upgrade to a new build through a local registry', function () {
    let a: Engine;
    let sshd: TestSshd;
    let registry: string;

    before(async function () {
      this.timeout(1_200_000);
      [a, sshd, registry] = await Promise.all([world.engineA(), world.sshd(), world.registry()]);
      await a.createVolume('c4-local');
      await a.createVolume('c4-sftp', sftpOptions(sshd, 'c4-sftp'));
      await a.runContainer(['-v', 'c4-local:/local', '-v', 'c4-sftp:/data'], 'echo local-data > /local/f && echo sftp-data > /data/f');
    });

    after(async function () {
      this.timeout(120_000);
      if (a === undefined) return;
      await a.docker(['volume', 'rm', 'c4-local', 'c4-sftp', 'c4-new']);
    });

    async function assertDataIntact(): Promise<void> {
      assert.equal(await a.runContainer(['-v', 'c4-local:/local', '-v', 'c4-sftp:/data'], 'cat /local/f /data/f'), 'local-data\nsftp-data\n');
    }

    it('disable + enable with no container running: volumes and data survive', async function () {
      this.timeout(180_000);
      assert.equal((await a.dockerOk(['ps', '-q'])).trim(), '', 'containers are running');
      const before = await a.volumeNames();
      assert.ok(before.includes('c4-local') && before.includes('c4-sftp'));
      // The engine refuses a plain disable while it knows volumes of the plugin ("plugin
      // ... is in use"), even with no container: -f is the documented way.
      const plain = await a.docker(['plugin', 'disable', PLUGIN]);
      if (plain.code !== 0) {
        assert.match(plain.stderr, /in use/);
        await a.dockerOk(['plugin', 'disable', '-f', PLUGIN]);
      }
      assert.equal((await a.pluginInspect()).Enabled, false);
      await a.dockerOk(['plugin', 'enable', PLUGIN]);
      assert.equal((await a.pluginInspect()).Enabled, true);
      assert.deepEqual(await a.volumeNames(), before);
      await assertDataIntact();
    });

    it('scripts/upgrade to a new build (pushed to the local registry): same plugin ID, new rootfs, volumes and data survive', async function () {
      this.timeout(900_000);
      // A new build: the working tree with one marker comment added to src/main.ts.
      const ctx = path.join(ROOT, 'ctx-upgrade');
      fs.rmSync(ctx, { recursive: true, force: true });
      fs.mkdirSync(ctx, { recursive: true });
      for (const f of CONTEXT_FILES) fs.cpSync(path.join(REPO, f), path.join(ctx, f), { recursive: true });
      const marker = `e2e-upgrade-build-${Date.now()}`;
      fs.appendFileSync(path.join(ctx, 'src', 'main.ts'), `\n// ${marker}\n`);

      const before = await a.pluginInspect();
      const volumesBefore = await a.volumeNames();
      const rootfs = await a.pluginRootfs();
      const mainJs = (): string => fs.readFileSync(path.join(rootfs, 'app', 'dist', 'main.js'), 'utf8');
      assert.ok(!mainJs().includes(marker));

      const env = { REGISTRY: registry, DVS_BUILD_CONTEXT: ctx, DVS_IMAGE: 'docker-volume-sftp:e2e-upgrade' };
      const ref = (await a.script('push', ['e2e-upgrade'], env)).trim().split('\n').pop() ?? '';
      assert.equal(ref, `${registry}/sftp:e2e-upgrade`);
      await a.script('upgrade', [ref], env);

      const after = await a.pluginInspect();
      assert.equal(after.Id, before.Id, 'the upgrade changed the plugin ID');
      assert.equal(after.Enabled, true);
      assert.ok(after.PluginReference.includes(ref), `PluginReference ${after.PluginReference}`);
      assert.ok(mainJs().includes(marker), 'the plugin rootfs is not the new build');
      const data = after.Settings.Mounts.find((m) => m.Name === 'data');
      assert.equal(data?.Source, path.join(ROOT, 'data-a'), 'data.source was not kept across the upgrade');
      assert.deepEqual(await a.volumeNames(), volumesBefore);
      await assertDataIntact();
      // and the new build makes and serves new volumes
      await a.createVolume('c4-new', sftpOptions(sshd, 'c4-new'));
      await a.runContainer(['-v', 'c4-new:/data'], 'echo new-build > /data/f');
      await serverFile(sshd, ['c4-new', 'f'], 'new-build\n');
      fs.rmSync(ctx, { recursive: true, force: true });
    });
  });
}
