import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { TestSshd } from '../../support/sshd';
import { PLUGIN, type Engine } from '../support/engine';
import { serverFile, sftpOptions } from '../support/helpers';
import { readmeShellBlock } from '../support/readme';
import { timedDescribe } from '../support/timings';
import type { World } from '../support/world';

/** The plugin's default data directory (config.json's "data" mount source). */
const DATA = '/var/lib/docker-volume-sftp';

export function bareHost(world: World): void {
  timedDescribe(world.timings, "case 12: a bare Debian 13 host (docker.io 26.1): the README's registry lines as written, then volumes and --mount volume-subpath", function () {
    let e: Engine | undefined;
    let sshd: TestSshd;
    let ref: string;

    before(async function () {
      this.timeout(1_200_000);
      [ref, sshd] = await Promise.all([world.baseRef(), world.sshd()]);
      // A fresh trixie root: nothing prepared, whatever the tier's flavour.
      e = await world.newEngine('bare', { debian: 'trixie' });
      await e.script('base-image', ['busybox']);
    });

    after(async function () {
      this.timeout(180_000);
      if (e !== undefined) await world.disposeEngine(e);
    });

    it("the README's install-from-registry lines, run as written in the host's shell, install and enable the plugin; local and SFTP volumes work", async function () {
      this.timeout(300_000);
      const host = e as Engine;
      assert.equal(fs.existsSync(host.hostPath(DATA)), false, `${DATA} exists on the bare host`);
      assert.equal((await host.dockerOk(['plugin', 'ls', '-q'])).trim(), '', 'the engine is not fresh');
      const block = readmeShellBlock('registry-install');
      assert.match(block, /docker plugin install .*REF/);
      const lines = block.replaceAll('REF', ref);
      const ran = await host.inRoot(['sh', '-ec', lines], { timeoutMs: 300_000 });
      assert.equal(ran.code, 0, `the README's lines failed on the bare host:\n${lines}\n${ran.stdout}\n${ran.stderr}`);

      const p = await host.pluginInspect();
      assert.equal(p.Enabled, true);
      assert.equal(p.Name, `${PLUGIN}:latest`);
      assert.equal(p.Settings.Mounts.find((m) => m.Name === 'data')?.Source, DATA);
      const version = (await host.inRoot(['docker', 'version', '--format', '{{.Server.Version}}'])).stdout.trim();
      assert.match(version, /^26\./, `Debian 13's engine: ${version}`);

      await world.writeCredentials(host.hostPath(DATA));
      await host.createVolume('c12-sftp', sftpOptions(sshd, 'c12-sftp'));
      await host.createVolume('c12-local');
      await host.runContainer(['-v', 'c12-sftp:/data', '-v', 'c12-local:/local'], 'echo on-a-bare-host > /data/f && cp /data/f /local/f');
      await serverFile(sshd, ['c12-sftp', 'f'], 'on-a-bare-host\n');
      assert.equal(fs.readFileSync(path.join(host.hostPath(DATA), 'volumes', 'c12-local', 'f'), 'utf8'), 'on-a-bare-host\n');
    });

    it('--mount type=volume,...,volume-subpath= (Engine 26+) mounts a directory of a local and of an SFTP volume', async function () {
      this.timeout(180_000);
      const host = e as Engine;
      await host.runContainer(['-v', 'c12-sftp:/data', '-v', 'c12-local:/local'], 'mkdir -p /data/sub /local/sub && echo sftp-sub > /data/sub/g && echo local-sub > /local/sub/g');
      const out = await host.runContainer(
        ['--mount', 'type=volume,src=c12-sftp,dst=/s,volume-subpath=sub', '--mount', 'type=volume,src=c12-local,dst=/l,volume-subpath=sub'],
        'cat /s/g /l/g && ls /s && ls /l && echo via-subpath > /s/h',
      );
      assert.equal(out, 'sftp-sub\nlocal-sub\ng\ng\n');
      await serverFile(sshd, ['c12-sftp', 'sub', 'h'], 'via-subpath\n');
      await host.dockerOk(['volume', 'rm', 'c12-sftp', 'c12-local']);
    });
  });
}
