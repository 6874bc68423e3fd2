import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { loadStateFile } from '../../src/state/state-file';
import { cleanup, DaemonProcess, makeDirs, mountsUnder } from '../support/daemon-process';

describe('volume service with the local backend (real daemon, real bind mounts)', function () {
  let daemon: DaemonProcess;
  beforeEach(async () => {
    daemon = await DaemonProcess.start(makeDirs('dvs-local'));
  });
  afterEach(async () => {
    await daemon.stop();
    cleanup(daemon.dirs.base);
  });
  const dataOf = (name: string) => path.join(daemon.dirs.dataDir, 'volumes', name);

  describe('create', () => {
    it('is idempotent with the same options and refuses different ones', async () => {
      await daemon.client.create('same', { uid: '1000' });
      await daemon.client.create('same', { uid: '1000' });
      const err = await daemon.client.err('/VolumeDriver.Create', { Name: 'same', Opts: { uid: '1001' } });
      assert.match(err, /volume same already exists with other options \(uid=1000\)/);
      assert.equal((await daemon.client.list()).length, 1);
    });

    it('applies uid, gid and mode to the volume root', async () => {
      await daemon.client.create('owned', { uid: '1234', gid: '2345', mode: '0750' });
      const stat = fs.statSync(dataOf('owned'));
      assert.equal(stat.uid, 1234);
      assert.equal(stat.gid, 2345);
      assert.equal(stat.mode & 0o7777, 0o750);
    });

    it('refuses an unknown option, naming it and the accepted ones, leaving nothing behind', async () => {
      const err = await daemon.client.err('/VolumeDriver.Create', { Name: 'badopt', Opts: { size: '10G' } });
      assert.equal(err, 'unknown option "size" for a local volume; accepted options: backend, gid, mode, uid');
      assert.equal(fs.existsSync(dataOf('badopt')), false);
      assert.deepEqual(await daemon.client.list(), []);
    });

    it('refuses bad names before touching the file system', async () => {
      for (const name of ['..', '../escape', 'a/b', '.hidden', 'x']) {
        assert.match(await daemon.client.err('/VolumeDriver.Create', { Name: name }), /invalid volume name/);
      }
      const volumesDir = path.join(daemon.dirs.dataDir, 'volumes');
      assert.deepEqual(fs.existsSync(volumesDir) ? fs.readdirSync(volumesDir) : [], []);
      assert.equal(fs.existsSync(path.join(daemon.dirs.base, 'escape')), false);
    });
  });

  describe('mount', () => {
    it('bind-mounts the data directory at the mountpoint and releases it on the last unmount', async () => {
      await daemon.client.create('bound');
      const mountpoint = await daemon.client.mount('bound', 'c1');
      assert.equal(mountpoint, path.join(daemon.dirs.mountRoot, 'bound'));
      assert.deepEqual(mountsUnder(mountpoint), [mountpoint]);
      fs.writeFileSync(path.join(mountpoint, 'hello.txt'), 'hi');
      assert.equal(fs.readFileSync(path.join(dataOf('bound'), 'hello.txt'), 'utf8'), 'hi');

      assert.equal(await daemon.client.mount('bound', 'c1'), mountpoint); // same ID twice: docker cp, retries
      await daemon.client.mount('bound', 'c2');
      assert.equal(((await daemon.client.get('bound')).Status as { mounts: number }).mounts, 3);
      await daemon.client.unmount('bound', 'c1');
      await daemon.client.unmount('bound', 'c2');
      assert.deepEqual(mountsUnder(mountpoint), [mountpoint], 'released while c1 still holds one mount');
      await daemon.client.unmount('bound', 'c1');
      assert.deepEqual(mountsUnder(mountpoint), []);
      assert.equal(fs.readFileSync(path.join(dataOf('bound'), 'hello.txt'), 'utf8'), 'hi');
    });

    it('refuses Unmount of an ID that holds no mount and never counts below zero', async () => {
      await daemon.client.create('counted');
      assert.match(await daemon.client.err('/VolumeDriver.Unmount', { Name: 'counted', ID: 'ghost' }), /has no mount with ID ghost/);
      await daemon.client.mount('counted', 'real');
      assert.match(await daemon.client.err('/VolumeDriver.Unmount', { Name: 'counted', ID: 'ghost' }), /has no mount with ID ghost/);
      await daemon.client.unmount('counted', 'real');
      assert.match(await daemon.client.err('/VolumeDriver.Unmount', { Name: 'counted', ID: 'real' }), /has no mount with ID real/);
      assert.equal(((await daemon.client.get('counted')).Status as { mounts: number }).mounts, 0);
    });

    it('ends at zero with nothing leaked after hundreds of parallel Mount/Unmount calls', async () => {
      await daemon.client.create('busy');
      const ids = Array.from({ length: 300 }, (_, i) => `container-${i}`);
      const mountpoints = await Promise.all(ids.map((id) => daemon.client.mount('busy', id)));
      assert.ok(mountpoints.every((m) => m === path.join(daemon.dirs.mountRoot, 'busy')));
      assert.equal(((await daemon.client.get('busy')).Status as { mounts: number }).mounts, 300);
      assert.equal(mountsUnder(daemon.dirs.mountRoot).length, 1);
      await Promise.all(ids.map((id) => daemon.client.unmount('busy', id)));
      assert.equal(((await daemon.client.get('busy')).Status as { mounts: number }).mounts, 0);
      assert.deepEqual(mountsUnder(daemon.dirs.mountRoot), []);
      const state = await loadStateFile(path.join(daemon.dirs.dataDir, 'state.jsonl'));
      assert.deepEqual({ ...state.get('busy')?.mounts }, {});
    });

    it('serves other volumes while one is busy', async () => {
      await Promise.all(Array.from({ length: 20 }, (_, i) => daemon.client.create(`par${i}`)));
      await Promise.all(Array.from({ length: 20 }, (_, i) => daemon.client.mount(`par${i}`, 'x')));
      assert.equal(mountsUnder(daemon.dirs.mountRoot).length, 20);
      await Promise.all(Array.from({ length: 20 }, (_, i) => daemon.client.unmount(`par${i}`, 'x')));
      assert.equal(mountsUnder(daemon.dirs.mountRoot).length, 0);
    });
  });

  describe('remove', () => {
    it('is refused while mounted, naming how many mounts hold it, and keeps the data', async () => {
      await daemon.client.create('held');
      const mountpoint = await daemon.client.mount('held', 'a');
      await daemon.client.mount('held', 'b');
      fs.writeFileSync(path.join(mountpoint, 'keep'), 'x');
      const err = await daemon.client.err('/VolumeDriver.Remove', { Name: 'held' });
      assert.match(err, /volume held is in use: 2 mounts \(2 mount IDs\) hold it/);
      assert.ok(fs.existsSync(path.join(dataOf('held'), 'keep')));
    });

    it('is refused when something is still mounted there outside the plugin, and keeps the data', async () => {
      await daemon.client.create('sneaky');
      fs.writeFileSync(path.join(dataOf('sneaky'), 'keep'), 'x');
      const target = path.join(daemon.dirs.mountRoot, 'sneaky');
      fs.mkdirSync(target, { recursive: true });
      execFileSync('mount', ['--bind', dataOf('sneaky'), target]);
      assert.match(await daemon.client.err('/VolumeDriver.Remove', { Name: 'sneaky' }), /still mounted at/);
      assert.ok(fs.existsSync(path.join(dataOf('sneaky'), 'keep')));
    });

    it('deletes the data of an unmounted volume', async () => {
      await daemon.client.create('gone');
      fs.writeFileSync(path.join(dataOf('gone'), 'f'), 'x');
      await daemon.client.remove('gone');
      assert.equal(fs.existsSync(dataOf('gone')), false);
      assert.match(await daemon.client.err('/VolumeDriver.Remove', { Name: 'gone' }), /no such volume/);
    });

    it('lets Create and Remove race on one name without losing count', async () => {
      const calls = Array.from({ length: 50 }, (_, i) =>
        i % 2 === 0 ? daemon.client.call('/VolumeDriver.Create', { Name: 'racy', Opts: {} }) : daemon.client.call('/VolumeDriver.Remove', { Name: 'racy' }),
      );
      await Promise.all(calls);
      const listed = (await daemon.client.list()).some((v) => v.Name === 'racy');
      assert.equal(fs.existsSync(dataOf('racy')), listed);
    });
  });
});
