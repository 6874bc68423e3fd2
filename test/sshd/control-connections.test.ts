import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ControlConnections, type ControlTarget } from '../../src/backends/sftp/control/control-connections';
import { TestSshd } from '../support/sshd';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The control path's connections to one server and login (src/backends/sftp/control/
 * control-connections.ts) against a real OpenSSH sshd: reused while calls do not queue,
 * more of them (up to a bound) when they do, so a burst is not one long queue.
 */
describe('control connections: one per login until calls queue, then up to the pool size (real sshd)', function () {
  this.timeout(60_000);
  let sshd: TestSshd;
  let dir: string;
  let target: ControlTarget;

  before(async () => {
    sshd = await TestSshd.start();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dvs-control-'));
    target = {
      host: sshd.host,
      port: sshd.port,
      user: sshd.user,
      identityFile: await sshd.writeClientKeyInto(dir),
      passwordFile: undefined,
      trust: { fingerprint: sshd.hostKeyFingerprint, label: 'test' },
      connectTimeoutSeconds: 10,
    };
  });

  after(async () => {
    await sshd?.dispose();
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs calls that do not overlap on one connection', async () => {
    const control = new ControlConnections(undefined, 4);
    try {
      const most = await sshd.mostConnectionsDuring(async () => {
        for (let index = 0; index < 10; index += 1) await control.with(target, ({ client }) => client.stat('.'));
      });
      assert.equal(most, 1, 'one SSH connection at the server');
      assert.equal(control.slots().length, 1, JSON.stringify(control.slots()));
    } finally {
      await control.closeAll();
    }
  });

  it('opens another connection only when calls queue, at most the pool size (four, as the store catalogue), and every call ends', async () => {
    const control = new ControlConnections(undefined, 4);
    try {
      // Each call holds its connection 100 ms, as a few requests through a slow line do.
      const slow = (): Promise<unknown> =>
        control.with(target, async ({ client }) => {
          await client.stat('.');
          await sleep(100);
        });
      const started = Date.now();
      const most = await sshd.mostConnectionsDuring(() => Promise.all(Array.from({ length: 40 }, slow)));
      const took = Date.now() - started;
      assert.ok(most >= 2 && most <= 4, `SSH connections at the server during 40 calls at once: ${most}`);
      // One connection alone would take 40 x 100 ms.
      assert.ok(took < 2500, `40 calls of 100 ms took ${took} ms`);
    } finally {
      await control.closeAll();
    }
  });

  it('keeps to one connection by default (volumes\' Create and Remove), however many calls queue', async () => {
    const control = new ControlConnections();
    try {
      const most = await sshd.mostConnectionsDuring(() => Promise.all(Array.from({ length: 10 }, () => control.with(target, ({ client }) => client.stat('.')))));
      assert.equal(most, 1);
    } finally {
      await control.closeAll();
    }
  });
});
