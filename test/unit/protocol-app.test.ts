import assert from 'node:assert/strict';
import fs from 'node:fs';
import type http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { PluginError } from '../../src/errors';
import { createLogger } from '../../src/log';
import type { VolumeOptions } from '../../src/options/schema';
import { createApp } from '../../src/protocol/app';
import { closeServer, listenOnSocket } from '../../src/protocol/socket-server';
import type { VolumeDetails, VolumeDriver, VolumeSummary } from '../../src/service/volume-driver';
import { EngineClient } from '../support/engine-client';

type Call = [operation: string, ...args: unknown[]];

/** A VolumeDriver that records every call and answers what the test scripted. */
class RecordingDriver implements VolumeDriver {
  readonly calls: Call[] = [];
  scope: 'local' | 'global' = 'local';
  generation = '0';
  failWith: Error | undefined = undefined;
  volumes: VolumeSummary[] = [];
  listBuilds = 0;

  private answer<T>(call: Call, value: T): T {
    this.calls.push(call);
    if (this.failWith !== undefined) throw this.failWith;
    return value;
  }

  /** answer() as a promise that rejects (never throws), as the real driver's async calls do. */
  private answerLater<T>(call: Call, value: T): Promise<T> {
    return new Promise((resolve) => resolve(this.answer(call, value)));
  }

  create = (name: string, options: VolumeOptions): Promise<void> => this.answerLater(['create', name, { ...options }], undefined);
  remove = (name: string): Promise<void> => this.answerLater(['remove', name], undefined);
  mount = (name: string, id: string): Promise<string> => this.answerLater(['mount', name, id], `/mnt/${name}`);
  unmount = (name: string, id: string): Promise<void> => this.answerLater(['unmount', name, id], undefined);
  path = (name: string): Promise<string> => this.answerLater(['path', name], `/mnt/${name}`);
  get = (name: string): Promise<VolumeDetails> =>
    this.answerLater(['get', name], { name, mountpoint: `/mnt/${name}`, createdAt: '2026-11-28T00:00:00.000Z', status: { backend: 'fake', mounts: 0 } });
  list = (): VolumeSummary[] => {
    this.listBuilds += 1;
    return this.answer(['list'], this.volumes);
  };
}

describe('protocol routes against a recording driver (in process)', () => {
  let dir: string;
  let driver: RecordingDriver;
  let server: http.Server;
  let client: EngineClient;
  const logged: Record<string, unknown>[] = [];

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dvs-app-'));
    driver = new RecordingDriver();
    logged.length = 0;
    const log = createLogger('debug', (line) => logged.push(JSON.parse(line) as Record<string, unknown>));
    server = await listenOnSocket(path.join(dir, 'p.sock'), createApp({ driver, log }));
    client = new EngineClient(path.join(dir, 'p.sock'));
  });
  afterEach(async () => {
    client.close();
    await closeServer(server);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('hands each call to the driver with the fields the engine sent, and wraps its answer', async () => {
    await client.create('v1', { uid: '1000' });
    assert.equal(await client.mount('v1', 'c1'), '/mnt/v1');
    assert.equal((await client.ok('/VolumeDriver.Path', { Name: 'v1' })).Mountpoint, '/mnt/v1');
    const volume = await client.get('v1');
    assert.deepEqual(volume, { Name: 'v1', Mountpoint: '/mnt/v1', CreatedAt: '2026-11-28T00:00:00.000Z', Status: { backend: 'fake', mounts: 0 } });
    await client.unmount('v1', 'c1');
    await client.remove('v1');
    assert.deepEqual(driver.calls, [
      ['create', 'v1', { uid: '1000' }],
      ['mount', 'v1', 'c1'],
      ['path', 'v1'],
      ['get', 'v1'],
      ['unmount', 'v1', 'c1'],
      ['remove', 'v1'],
    ]);
  });

  it('answers Capabilities with the driver scope', async () => {
    driver.scope = 'global';
    assert.deepEqual(await client.ok('/VolumeDriver.Capabilities'), { Capabilities: { Scope: 'global' } });
  });

  it('lists Mountpoint only where the driver gives one, and rebuilds List only when the generation moves', async () => {
    driver.volumes = [{ name: 'a1' }, { name: 'b1', mountpoint: '/mnt/b1' }];
    const expected = [{ Name: 'a1' }, { Name: 'b1', Mountpoint: '/mnt/b1' }];
    assert.deepEqual(await client.list(), expected);
    assert.deepEqual(await client.list(), expected);
    assert.equal(driver.listBuilds, 1);
    driver.volumes = [];
    driver.generation = '1';
    assert.deepEqual(await client.list(), []);
    assert.equal(driver.listBuilds, 2);
  });

  it('turns a coded error into a 200 reply with its message, and logs its code', async () => {
    driver.failWith = new PluginError('IN_USE', 'volume v1 is in use; stop its containers first');
    const reply = await client.call('/VolumeDriver.Remove', { Name: 'v1' });
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body, { Err: 'volume v1 is in use; stop its containers first' });
    const line = logged.find((entry) => entry.call === '/VolumeDriver.Remove');
    assert.equal(line?.code, 'IN_USE');
    assert.equal(line?.volume, 'v1');
  });

  it('reports anything else as INTERNAL with status 500, and says to report it', async () => {
    driver.failWith = new TypeError('x is undefined');
    const reply = await client.call('/VolumeDriver.Mount', { Name: 'v1', ID: 'c' });
    assert.equal(reply.status, 500);
    assert.match(String(reply.body.Err), /^internal error in the volume plugin: x is undefined; please report it/);
    assert.equal(logged.find((entry) => entry.call === '/VolumeDriver.Mount')?.code, 'INTERNAL');
  });

  it('never reaches the driver for a malformed request', async () => {
    for (const [endpoint, raw] of [
      ['/VolumeDriver.Mount', '{"Name":"v1"}'],
      ['/VolumeDriver.Create', '{"Name":"v1","Opts":[]}'],
      ['/VolumeDriver.Get', 'not json'],
    ] as const) {
      const reply = await client.call(endpoint, undefined, { rawBody: raw });
      assert.equal(reply.status, 400, raw);
    }
    assert.deepEqual(driver.calls, []);
  });
});
