import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { TestSshd } from '../../support/sshd';
import { PLUGIN, type Engine } from '../support/engine';
import { serverFile, sftpOptions } from '../support/helpers';
import { runOk } from '../support/proc';
import { timedDescribe } from '../support/timings';
import { World } from '../support/world';

/** ELF e_machine of a file: 0xb7 is AArch64, 0x3e x86-64. */
function elfMachine(file: string): number {
  const fd = fs.openSync(file, 'r');
  try {
    const header = Buffer.alloc(20);
    fs.readSync(fd, header, 0, 20, 0);
    assert.equal(header.subarray(0, 4).toString('latin1'), '\x7fELF', `${file} is not an ELF file`);
    return header.readUInt16LE(18);
  } finally {
    fs.closeSync(fd);
  }
}

const AARCH64 = 0xb7;

export function arm64Plugin(world: World): void {
  timedDescribe(world.timings, 'case 13: the arm64 plugin (built under emulation, pushed as its own tag) installs, enables and serves volumes under qemu', function () {
    let e: Engine | undefined;
    let sshd: TestSshd;
    let ref: string;

    before(async function () {
      // Building under emulation: apt, npm ci and tsc run through qemu-user.
      this.timeout(2_400_000);
      const registry = await world.registry();
      sshd = await world.sshd();
      e = await world.newEngine('arm');
      await e.script('base-image', ['busybox']);
      ref = await world.timings.measure('setup: scripts/push, PLUGIN_ARCH=arm64 (build under emulation)', async () => {
        const out = await (e as Engine).script('push', [], { REGISTRY: registry, PLUGIN_ARCH: 'arm64' }, 2_400_000);
        return out.trim().split('\n').pop() ?? '';
      });
      assert.match(ref, new RegExp(`^${registry}/sftp:.*-arm64$`), `scripts/push printed ${ref}`);
    });

    after(async function () {
      this.timeout(180_000);
      if (e !== undefined) await world.disposeEngine(e);
    });

    it('docker plugin install REF-arm64: the rootfs is AArch64 (node, sshfs, the preloaded libraries), node --version says v24 under qemu', async function () {
      this.timeout(600_000);
      const host = e as Engine;
      await world.installFromRegistry(host, ref);
      const p = await host.pluginInspect();
      assert.equal(p.Enabled, true);
      const rootfs = await host.pluginRootfs();
      for (const file of ['usr/local/bin/node', 'usr/bin/sshfs', 'app/dist/sshfs-clock.so', 'app/dist/sshfs-open-files.so']) {
        assert.equal(elfMachine(path.join(rootfs, file)), AARCH64, `${file} in the plugin is not an AArch64 program`);
      }
      assert.match((await runOk('chroot', [rootfs, 'node', '--version'])).trim(), /^v24\./);
    });

    it('the emulated plugin serves a local and an SFTP volume', async function () {
      this.timeout(600_000);
      const host = e as Engine;
      await host.createVolume('c13-sftp', sftpOptions(sshd, 'c13-sftp'));
      await host.createVolume('c13-local');
      await host.runContainer(['-v', 'c13-sftp:/data', '-v', 'c13-local:/local'], 'echo from-arm64 > /data/f && cp /data/f /local/f', 600_000);
      await serverFile(sshd, ['c13-sftp', 'f'], 'from-arm64\n', 30_000);
      assert.equal(fs.readFileSync(path.join(World.hostDataDir(host), 'volumes', 'c13-local', 'f'), 'utf8'), 'from-arm64\n');
      assert.equal((await host.volumeInspect('c13-sftp')).Status?.backend, 'sftp');
      assert.match((await host.volumeInspect('c13-local')).Driver, new RegExp(`^${PLUGIN}(:latest)?$`));
      await host.dockerOk(['volume', 'rm', 'c13-sftp', 'c13-local'], { timeoutMs: 300_000 });
    });
  });
}
