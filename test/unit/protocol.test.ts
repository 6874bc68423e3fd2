import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { cleanup, DaemonProcess, makeDirs } from '../support/daemon-process';

const CONTENT_TYPE = 'application/vnd.docker.plugins.v1.2+json';
/** The plugin protocol's media type; express adds the charset of the JSON text it sends. */
const PLUGIN_MEDIA_TYPE = /^application\/vnd\.docker\.plugins\.v1\.2\+json(; ?charset=utf-8)?$/i;

/** Writes `request` as is on the socket and reads the reply until the daemon closes the connection. */
function exchange(socketPath: string, request: string): Promise<{ status: number; headers: Map<string, string>; body: string; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath, () => socket.write(request));
    let text = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const [head = '', body = ''] = text.split(/\r\n\r\n(.*)/s);
      const [statusLine = '', ...headerLines] = head.split('\r\n');
      const headers = new Map(headerLines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body, text });
    });
  });
}

describe('protocol, as the engine speaks it (real daemon process)', function () {
  let daemon: DaemonProcess;
  before(async () => {
    daemon = await DaemonProcess.start(makeDirs('dvs-proto'));
  });
  after(async () => {
    await daemon.stop();
    cleanup(daemon.dirs.base);
  });

  // The engine's Go client POSTs Activate with no body at all: `Content-Length: 0` and not a
  // byte after the headers. A request with no Content-Length (nor Transfer-Encoding) has no
  // body either. Written byte by byte here, so no client library adds a body.
  for (const [form, lengthHeader] of [['Content-Length: 0', 'Content-Length: 0\r\n'], ['no Content-Length', '']]) {
    it(`answers Activate and Capabilities to requests with no body (${form})`, async () => {
      for (const [endpoint, expected] of [
        ['/Plugin.Activate', { Implements: ['VolumeDriver'] }],
        ['/VolumeDriver.Capabilities', { Capabilities: { Scope: 'local' } }],
      ] as const) {
        const request = `POST ${endpoint} HTTP/1.1\r\nHost: plugin\r\nAccept: ${CONTENT_TYPE}\r\n${lengthHeader}Connection: close\r\n\r\n`;
        const reply = await exchange(daemon.dirs.socket, request);
        assert.equal(reply.status, 200, reply.text);
        assert.match(reply.headers.get('content-type') ?? '', PLUGIN_MEDIA_TYPE);
        assert.deepEqual(JSON.parse(reply.body), expected);
      }
    });
  }

  it('replies with the plugin content type, to calls that succeed and to calls that fail', async () => {
    const replies = [
      await daemon.client.call('/VolumeDriver.List', {}),
      await daemon.client.call('/VolumeDriver.Get', { Name: 'absent' }),
      await daemon.client.call('/VolumeDriver.Get', undefined, { rawBody: '{"Name": ' }),
      await daemon.client.call('/VolumeDriver.Explode', {}),
    ];
    assert.deepEqual(replies.map((reply) => reply.status), [200, 200, 400, 404]);
    assert.deepEqual(replies[0]?.body, { Volumes: [], Err: '' });
    for (const reply of replies) assert.match(reply.headers['content-type'] ?? '(none)', PLUGIN_MEDIA_TYPE, reply.raw);
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
