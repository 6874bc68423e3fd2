import assert from 'node:assert/strict';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { cleanup, DaemonProcess, delay, makeDirs, mountsUnder } from '../support/daemon-process';

describe('restarts, crashes and process life (real daemon process)', function () {
  this.timeout(120_000);
  let daemon: DaemonProcess;
  beforeEach(() => {
    daemon = new DaemonProcess(makeDirs('dvs-restart'));
  });
  afterEach(async () => {
    await daemon.stop();
    cleanup(daemon.dirs.base);
  });
  const stateFile = () => path.join(daemon.dirs.dataDir, 'state.jsonl');

  it('keeps volumes, options, CreatedAt and mount IDs across a restart', async () => {
    await daemon.start();
    await daemon.client.create('kept', { mode: '0700' });
    await daemon.client.mount('kept', 'id-a');
    await daemon.client.mount('kept', 'id-a');
    const before = await daemon.client.get('kept');
    await daemon.restart();
    assert.deepEqual(await daemon.client.get('kept'), before);
    await daemon.client.create('kept', { mode: '0700' });
    await daemon.client.unmount('kept', 'id-a');
    await daemon.client.unmount('kept', 'id-a');
    assert.match(await daemon.client.err('/VolumeDriver.Unmount', { Name: 'kept', ID: 'id-a' }), /no mount with ID/);
  });

  it('stops on SIGTERM and SIGINT with exit 0 after finishing calls in flight', async () => {
    await daemon.start();
    const inFlight = Array.from({ length: 40 }, (_, i) => daemon.client.create(`term${i}`));
    await delay(5);
    daemon.child?.kill('SIGTERM');
    const settled = await Promise.allSettled(inFlight);
    assert.deepEqual(await daemon.exit, { code: 0, signal: null });
    const acknowledged = settled.flatMap((result, i) => (result.status === 'fulfilled' ? [`term${i}`] : []));
    assert.ok(acknowledged.length > 0, 'no call was accepted before SIGTERM');
    assert.equal(fs.existsSync(daemon.dirs.socket), false, 'socket left behind');
    await daemon.start();
    const listed = new Set((await daemon.client.list()).map((v) => v.Name));
    for (const name of acknowledged) assert.ok(listed.has(name), `${name} was acknowledged but lost`);

    await daemon.stop('SIGINT');
    assert.deepEqual(await daemon.exit, { code: 0, signal: null });
  });

  it('keeps every acknowledged volume and mount ID when killed with -9 in a burst, ten times over', async () => {
    const acknowledgedVolumes = new Set<string>();
    const acknowledgedMounts = new Map<string, number>();
    for (let round = 0; round < 10; round += 1) {
      await daemon.start();
      const calls: Promise<unknown>[] = [];
      for (let i = 0; i < 30; i += 1) {
        const name = `r${round}v${i}`;
        calls.push(
          daemon.client.create(name).then(async () => {
            acknowledgedVolumes.add(name);
            await daemon.client.mount(name, `id${i}`);
            acknowledgedMounts.set(name, 1);
          }),
        );
      }
      const settled = Promise.allSettled(calls);
      await delay(5 + round * 7);
      await daemon.kill9();
      await settled;
    }
    await daemon.start();
    const listed = new Set((await daemon.client.list()).map((v) => v.Name));
    assert.ok(acknowledgedVolumes.size > 0, 'the burst never got a reply in');
    for (const name of acknowledgedVolumes) assert.ok(listed.has(name), `${name} acknowledged then lost`);
    for (const [name, count] of acknowledgedMounts) {
      const mounts = ((await daemon.client.get(name)).Status as { mounts: number }).mounts;
      assert.ok(mounts >= count, `${name} had an acknowledged mount, now ${mounts}`);
    }
    // Volumes whose IDs are held show their data at their mountpoint again (one shared bind);
    // nothing else is mounted.
    await delay(200);
    const view = path.join(daemon.dirs.mountRoot, '.local');
    if (acknowledgedMounts.size > 0) assert.deepEqual(mountsUnder(daemon.dirs.mountRoot), [view]);
    for (const name of listed) {
      const held = ((await daemon.client.get(name)).Status as { mounts: number }).mounts > 0;
      if (!held) continue;
      const mountpoint = (await daemon.client.ok('/VolumeDriver.Path', { Name: name })).Mountpoint as string;
      assert.equal(fs.statSync(mountpoint).ino, fs.statSync(path.join(daemon.dirs.dataDir, 'volumes', name)).ino, `${name}: held but not shown`);
    }
  });

  it('refuses to start on a corrupt state file, says why, and never overwrites it', async () => {
    fs.mkdirSync(daemon.dirs.dataDir, { recursive: true });
    const corrupt = '{"format":"docker-volume-sftp-state","version":1}\n{"put":{"name":\n{"delete":"aa"}\n';
    fs.writeFileSync(stateFile(), corrupt);
    daemon.spawn();
    const exit = await daemon.exit;
    assert.equal(exit.code, 1);
    assert.match(daemon.output, /state file .*state.jsonl is not valid: line 2 is not JSON/);
    assert.match(daemon.output, /It has not been changed/);
    assert.equal(fs.readFileSync(stateFile(), 'utf8'), corrupt);
    assert.equal(fs.existsSync(daemon.dirs.socket), false, 'listened despite bad state');
  });

  it('refuses to start on a state file of an unknown version', async () => {
    fs.mkdirSync(daemon.dirs.dataDir, { recursive: true });
    fs.writeFileSync(stateFile(), '{"format":"docker-volume-sftp-state","version":99}\n');
    daemon.spawn();
    assert.equal((await daemon.exit).code, 1);
    assert.match(daemon.output, /has version 99, but this plugin reads only version 1/);
    assert.equal(fs.readFileSync(stateFile(), 'utf8'), '{"format":"docker-volume-sftp-state","version":99}\n');
  });

  it('removes a stale socket at start, but not one a live process answers on', async () => {
    fs.mkdirSync(daemon.dirs.base, { recursive: true });
    const stale = net.createServer().listen(daemon.dirs.socket);
    await new Promise((resolve) => stale.once('listening', resolve));
    const other = new DaemonProcess(daemon.dirs);
    other.spawn();
    assert.equal((await other.exit).code, 1);
    assert.match(other.output, /another process is already listening/);
    // Node unlinks its socket on close; a socket bound by a process that then exits stays behind.
    await new Promise<void>((resolve) => stale.close(() => resolve()));
    spawnSync('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', daemon.dirs.socket]);
    assert.ok(fs.statSync(daemon.dirs.socket).isSocket(), 'test set-up: no stale socket');
    await daemon.start();
    await daemon.client.ok('/Plugin.Activate');
  });

  it('stops at start with a message naming a bad variable', async () => {
    const bad = new DaemonProcess(daemon.dirs, { LOG_LEVEL: 'chatty' });
    bad.spawn();
    assert.equal((await bad.exit).code, 2);
    assert.match(bad.output, /LOG_LEVEL must be one of/);
  });
});
