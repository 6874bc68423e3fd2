import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { cleanup, DaemonProcess, makeDirs } from '../support/daemon-process';

describe('protocol, as the engine speaks it (real daemon process)', function () {
  let daemon: DaemonProcess;
  before(async () => {
    daemon = await DaemonProcess.start(makeDirs('dvs-proto'));
  });
  after(async () => {
    await daemon.stop();
    cleanup(daemon.dirs.base);
  });

  it('answers Activate and Capabilities with empty bodies', async () => {
    assert.deepEqual(await daemon.client.ok('/Plugin.Activate'), { Implements: ['VolumeDriver'] });
    assert.deepEqual(await daemon.client.ok('/VolumeDriver.Capabilities'), { Capabilities: { Scope: 'local' } });
  });

  it('replies with the plugin content type', async () => {
    const reply = await daemon.client.call('/VolumeDriver.List', {});
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body, { Volumes: [], Err: '' });
  });

  it('serves every call for one volume', async () => {
    const c = daemon.client;
    await c.create('proto1');
    assert.deepEqual(await c.list(), [{ Name: 'proto1' }]);
    const volume = await c.get('proto1');
    assert.equal(volume.Name, 'proto1');
    assert.ok(!Number.isNaN(Date.parse(volume.CreatedAt as string)));
    assert.match(volume.CreatedAt as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
    assert.deepEqual(volume.Status, { backend: 'local', mounts: 0, options: 'none', path: `${daemon.dirs.dataDir}/volumes/proto1` });
    assert.equal((await c.ok('/VolumeDriver.Path', { Name: 'proto1' })).Mountpoint, `${daemon.dirs.mountRoot}/.local/proto1`);
    assert.equal(await c.mount('proto1', 'id-1'), `${daemon.dirs.mountRoot}/.local/proto1`);
    assert.equal(((await c.get('proto1')).Status as Record<string, unknown>).mounts, 1);
    assert.deepEqual(await c.list(), [{ Name: 'proto1', Mountpoint: `${daemon.dirs.mountRoot}/.local/proto1` }]);
    await c.unmount('proto1', 'id-1');
    await c.remove('proto1');
    assert.deepEqual(await c.list(), []);
  });

  const bad: [string, string, string | Buffer, RegExp, number][] = [
    ['malformed JSON', '/VolumeDriver.Create', '{"Name": "x', /not valid JSON/, 400],
    ['a JSON array', '/VolumeDriver.Get', '[1,2]', /must be a JSON object/, 400],
    ['a JSON string', '/VolumeDriver.Get', '"Name"', /must be a JSON object/, 400],
    ['a missing Name', '/VolumeDriver.Get', '{}', /request has no Name/, 400],
    ['a numeric Name', '/VolumeDriver.Remove', '{"Name": 5}', /Name must be a string/, 400],
    ['a missing ID', '/VolumeDriver.Mount', '{"Name":"ab"}', /request has no ID/, 400],
    ['an object ID', '/VolumeDriver.Unmount', '{"Name":"ab","ID":{}}', /ID must be a string/, 400],
    ['Opts as a string', '/VolumeDriver.Create', '{"Name":"ab","Opts":"uid=1"}', /Opts must be an object/, 400],
    ['a numeric option value', '/VolumeDriver.Create', '{"Name":"ab","Opts":{"uid":1}}', /option uid must be a string/, 400],
    ['invalid UTF-8', '/VolumeDriver.Get', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), /not valid JSON/, 400],
    ['an unknown path', '/VolumeDriver.Explode', '{}', /unknown endpoint POST \/VolumeDriver.Explode/, 404],
    ['a bad name', '/VolumeDriver.Create', '{"Name":"../../etc"}', /invalid volume name/, 200],
    ['an unknown volume', '/VolumeDriver.Get', '{"Name":"nothere"}', /no such volume: nothere/, 200],
  ];
  for (const [what, endpoint, rawBody, message, status] of bad) {
    it(`replies with Err to ${what}`, async () => {
      const reply = await daemon.client.call(endpoint, undefined, { rawBody });
      assert.equal(reply.status, status);
      assert.match(String(reply.body.Err), message);
    });
  }

  it('refuses other methods', async () => {
    const reply = await daemon.client.call('/VolumeDriver.List', undefined, { method: 'GET' });
    assert.match(String(reply.body.Err), /takes POST, not GET/);
  });

  it('refuses an oversized body and keeps serving', async () => {
    const huge = `{"Name":"${'a'.repeat(2 * 1024 * 1024)}"}`;
    const reply = await daemon.client.call('/VolumeDriver.Create', undefined, { rawBody: huge });
    assert.equal(reply.status, 413);
    assert.match(String(reply.body.Err), /larger than the limit/);
    await daemon.client.ok('/Plugin.Activate');
  });

  it('survives a client that hangs up mid-body', async () => {
    await new Promise<void>((resolve) => {
      const socket = net.connect(daemon.dirs.socket, () => {
        socket.write('POST /VolumeDriver.Create HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"Name":');
        socket.destroy();
        resolve();
      });
    });
    await daemon.client.ok('/Plugin.Activate');
  });

  it('writes one JSON log line per call, with call, volume, duration and error', async () => {
    await daemon.client.err('/VolumeDriver.Get', { Name: 'logged-vol' });
    const line = await daemon.waitForLog((entry) => entry.volume === 'logged-vol');
    assert.equal(line.call, '/VolumeDriver.Get');
    assert.equal(typeof line.durationMs, 'number');
    assert.match(String(line.error), /no such volume/);
  });

  it('creates its socket with mode 0660', () => {
    const stat = fs.statSync(daemon.dirs.socket);
    assert.ok(stat.isSocket());
    assert.equal(stat.mode & 0o777, 0o660);
  });
});
