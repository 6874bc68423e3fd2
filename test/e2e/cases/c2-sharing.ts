import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EngineClient } from '../../support/engine-client';
import type { TestSshd } from '../../support/sshd';
import { BUSYBOX, PLUGIN, type Engine } from '../support/engine';
import { eventually, mountCount, serverFile, sftpOptions, SLEEPER, waitRunning } from '../support/helpers';
import { timedDescribe } from '../support/timings';
import { World } from '../support/world';

export function sharingAndInUse(world: World): void {
  timedDescribe(world.timings, 'case 2: one volume in two containers, docker cp, anonymous volumes, in-use volumes', function () {
    let a: Engine;
    let sshd: TestSshd;
    const VOL = 'c2-shared';
    const SLEEPER_NAME = 'c2-sleeper';
    const SEED_IMAGE = 'dvs-e2e-seed:latest';

    before(async function () {
      this.timeout(1_200_000);
      [a, sshd] = await Promise.all([world.engineA(), world.sshd()]);
      await a.createVolume(VOL, sftpOptions(sshd, VOL));
    });

    after(async function () {
      this.timeout(120_000);
      if (a === undefined) return;
      await a.removeContainer(SLEEPER_NAME, 'c2-local-sleeper', 'c2-anon', 'c2-seedmaker');
      await a.docker(['volume', 'rm', VOL, 'c2-local', 'c2-copyup-local', 'c2-copyup-sftp', 'c2-nocopy']);
    });

    it('two containers mount one SFTP volume at once: a sleeper sees what a writer wrote', async function () {
      this.timeout(120_000);
      await a.startContainer(SLEEPER_NAME, ['-v', `${VOL}:/data`], SLEEPER);
      await waitRunning(a, SLEEPER_NAME);
      assert.equal(await mountCount(a, VOL), 1);
      await a.runContainer(['-v', `${VOL}:/data`], 'echo from-writer > /data/w && cat /data/w');
      const seen = await eventually('the sleeper reads the writer file', async () => {
        const out = await a.exec(SLEEPER_NAME, 'cat /data/w');
        assert.equal(out, 'from-writer\n');
        return out;
      }, 5000, 100);
      assert.equal(seen, 'from-writer\n');
      assert.equal(await mountCount(a, VOL), 1, 'the writer released its mount, the sleeper keeps its own');
      await serverFile(sshd, [VOL, 'w'], 'from-writer\n');
    });

    /** docker cp a root-owned host file into `container`:/data and back out. */
    async function dockerCpRoundTrip(container: string): Promise<void> {
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dvs-e2e-cp-'));
      try {
        const src = path.join(tmp, 'copied.txt');
        fs.writeFileSync(src, 'copied-in\n');
        await a.dockerOk(['cp', src, `${container}:/data/copied.txt`]);
        assert.equal(await a.exec(container, 'cat /data/copied.txt'), 'copied-in\n');
        const out = path.join(tmp, 'out.txt');
        await a.dockerOk(['cp', `${container}:/data/copied.txt`, out]);
        assert.equal(fs.readFileSync(out, 'utf8'), 'copied-in\n');
      } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
      }
    }

    it('docker cp into the local volume of a running container, and out of it', async function () {
      this.timeout(120_000);
      await a.createVolume('c2-local');
      await a.startContainer('c2-local-sleeper', ['-v', 'c2-local:/data'], SLEEPER);
      await waitRunning(a, 'c2-local-sleeper');
      await dockerCpRoundTrip('c2-local-sleeper');
      assert.equal(fs.readFileSync(path.join(World.hostDataDir(a), 'volumes', 'c2-local', 'copied.txt'), 'utf8'), 'copied-in\n');
      assert.equal(await mountCount(a, 'c2-local'), 1, 'docker cp leaked or lost a mount');
    });

    it('docker cp into the SFTP volume of a running container, and out of it', async function () {
      this.timeout(120_000);
      const before = await mountCount(a, VOL);
      await dockerCpRoundTrip(SLEEPER_NAME);
      await serverFile(sshd, [VOL, 'copied.txt'], 'copied-in\n');
      assert.equal(await mountCount(a, VOL), before, 'docker cp leaked or lost a mount');
    });

    it('the first mount of an empty volume gets the image data at the mount path (engine copy-up with chown), local and SFTP', async function () {
      this.timeout(120_000);
      // an image with root-owned data at /seed (a file, a subdirectory, a relative symlink)
      await a.dockerOk(['run', '--name', 'c2-seedmaker', '--network', 'none', BUSYBOX, 'sh', '-c',
        'mkdir -p /seed/sub && echo seed > /seed/file && echo deep > /seed/sub/deep && ln -s file /seed/link']);
      await a.dockerOk(['commit', 'c2-seedmaker', SEED_IMAGE]);
      await a.removeContainer('c2-seedmaker');
      await a.createVolume('c2-copyup-local');
      await a.createVolume('c2-copyup-sftp', sftpOptions(sshd, 'c2-copyup-sftp'));
      for (const vol of ['c2-copyup-local', 'c2-copyup-sftp']) {
        const out = await a.dockerOk(['run', '--rm', '--network', 'none', '-v', `${vol}:/seed`, SEED_IMAGE, 'cat', '/seed/file', '/seed/sub/deep', '/seed/link']);
        assert.equal(out, 'seed\ndeep\nseed\n', `copy-up into ${vol}`);
      }
      await serverFile(sshd, ['c2-copyup-sftp', 'sub', 'deep'], 'deep\n');
    });

    it('with :nocopy an SFTP volume mounts over an image path (no copy-up, no chown)', async function () {
      this.timeout(120_000);
      await a.createVolume('c2-nocopy', sftpOptions(sshd, 'c2-nocopy'));
      // (the engine still bind-mounts hostname, hosts and resolv.conf into /etc)
      const out = await a.runContainer(['-v', 'c2-nocopy:/etc:nocopy'], 'test ! -e /etc/passwd && echo none && echo ok > /etc/f');
      assert.equal(out, 'none\n');
      assert.ok(!fs.existsSync(sshd.serverPath('c2-nocopy', 'passwd')), 'image data was copied despite :nocopy');
      await serverFile(sshd, ['c2-nocopy', 'f'], 'ok\n');
    });

    it('a volume in use cannot be removed: docker volume rm fails, the plugin itself refuses too, data stays', async function () {
      this.timeout(120_000);
      assert.ok(await a.isRunning(SLEEPER_NAME));
      const rm = await a.docker(['volume', 'rm', VOL]);
      assert.notEqual(rm.code, 0, 'docker volume rm of a mounted volume succeeded');
      // The engine checks its own references before it asks the driver (moby
      // daemon/volume/service/store.go Remove), so this message is the engine's.
      assert.match(rm.stderr, /in use/);
      assert.ok((await a.volumeNames()).includes(VOL), 'the volume vanished from docker volume ls');

      // Asked directly, as the engine would, the plugin refuses with its own message.
      const client = new EngineClient(await a.pluginSocket());
      try {
        const reply = await client.call('/VolumeDriver.Remove', { Name: VOL });
        const err = typeof reply.body.Err === 'string' ? reply.body.Err : '';
        assert.match(err, new RegExp(`volume ${VOL} is in use: 1 mount`), `plugin Remove replied ${reply.raw}`);
      } finally {
        client.close();
      }
      assert.equal(await a.exec(SLEEPER_NAME, 'cat /data/w'), 'from-writer\n');
      await serverFile(sshd, [VOL, 'w'], 'from-writer\n');
      assert.equal(await mountCount(a, VOL), 1);
    });

    it('docker rm -v removes an anonymous volume made with --volume-driver sftp', async function () {
      this.timeout(120_000);
      await a.dockerOk(['create', '--name', 'c2-anon', '--network', 'none', '--volume-driver', PLUGIN, '-v', '/data', BUSYBOX, 'sh', '-c', 'echo anon > /data/a && cat /data/a']);
      const mounts = JSON.parse(await a.dockerOk(['inspect', '-f', '{{json .Mounts}}', 'c2-anon'])) as { Name: string; Driver: string; Destination: string }[];
      const m = mounts.find((x) => x.Destination === '/data');
      assert.ok(m, `no /data mount: ${JSON.stringify(mounts)}`);
      assert.match(m.Driver, /^sftp(:latest)?$/);
      assert.match(m.Name, /^[0-9a-f]{64}$/);
      assert.equal(await a.dockerOk(['start', '-a', 'c2-anon']), 'anon\n');
      assert.ok((await a.volumeNames()).includes(m.Name), 'the anonymous volume is not listed');
      const hostDir = path.join(World.hostDataDir(a), 'volumes', m.Name);
      assert.equal(fs.readFileSync(path.join(hostDir, 'a'), 'utf8'), 'anon\n');

      await a.dockerOk(['rm', '-v', 'c2-anon']);
      await eventually('the anonymous volume is gone', async () => {
        assert.ok(!(await a.volumeNames()).includes(m.Name), 'still listed');
      }, 10_000, 200);
      assert.ok(!fs.existsSync(hostDir), `${hostDir} survives docker rm -v`);
    });
  });
}
