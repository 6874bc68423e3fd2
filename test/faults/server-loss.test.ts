import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { delay, mountsUnder, type DaemonProcess } from '../support/daemon-process';
import { eventually, sftpOptions, sshfsUnder } from '../support/sftp-fixtures';
import { withSshdAndDaemon } from '../support/sshd-and-daemon';
import { Writer } from './writer';

/** Get, List and Path must answer at once whatever the server does. */
async function readsAreInstant(daemon: DaemonProcess, name: string): Promise<number> {
  const started = process.hrtime.bigint();
  await daemon.client.get(name);
  await daemon.client.list();
  await daemon.client.ok('/VolumeDriver.Path', { Name: name });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  assert.ok(ms < 250, `Get+List+Path took ${ms} ms while the server was down`);
  return ms;
}

describe('SFTP server loss while a container writes', function () {
  this.timeout(15 * 60_000);
  // what is checked here is the last Unmount against a lost server, so no idle time
  const fixture = withSshdAndDaemon({ prefix: 'dvs-loss', env: { LOG_LEVEL: 'warn', SFTP_IDLE_UNMOUNT: '0' }, perTest: true });

  for (const outageSeconds of [5, 60]) {
    it(`loses nothing confirmed by fsync over a ${outageSeconds} s outage, and the same mount carries on`, async () => {
      const { sshd, daemon } = fixture;
      await daemon.client.create('loss', sftpOptions(sshd, 'loss'));
      const mountpoint = await daemon.client.mount('loss', 'container');
      const writer = new Writer(path.join(mountpoint, 'journal.txt'));
      try {
        await eventually('writes before the outage', () => assert.ok(writer.confirmed().length >= 5), 10_000);
        await sshd.kill();
        const downAt = Date.now();
        let slowest = 0;
        while (Date.now() - downAt < outageSeconds * 1000) {
          slowest = Math.max(slowest, await readsAreInstant(daemon, 'loss'));
          await delay(500);
        }
        await sshd.restart();
        const before = writer.confirmed().length;
        await eventually('writes after the outage', () => assert.ok(writer.confirmed().length >= before + 5), 60_000, 100);
        await writer.stop();
        const onServer = fs.readFileSync(sshd.serverPath('loss', 'journal.txt'), 'utf8').split('\n').filter(Boolean);
        for (const record of writer.confirmed()) assert.ok(onServer.includes(`record ${record}`), `record ${record} was confirmed by fsync but is not on the server`);
        console.log(
          `      ${outageSeconds} s outage: ${writer.confirmed().length} records confirmed and kept, ${writer.errors().length} write errors during the outage (${[...new Set(writer.errors().map((e) => e.split(' ')[2]))].join(', ') || 'none'}); slowest Get+List+Path ${slowest.toFixed(1)} ms`,
        );
      } finally {
        await writer.stop();
      }
      await daemon.client.unmount('loss', 'container');
      assert.deepEqual(mountsUnder(mountpoint), []);
    });
  }

  it('fails writes, answers reads at once and unmounts cleanly when the server is gone for good', async () => {
    const { sshd, daemon } = fixture;
    await daemon.client.create('lost', sftpOptions(sshd, 'lost'));
    const mountpoint = await daemon.client.mount('lost', 'container');
    const writer = new Writer(path.join(mountpoint, 'journal.txt'));
    await eventually('writes', () => assert.ok(writer.confirmed().length >= 3), 10_000);
    await sshd.kill();
    await eventually('the writer sees errors', () => assert.ok(writer.errors().length >= 1), 60_000, 200);
    await readsAreInstant(daemon, 'lost');
    const started = Date.now();
    await writer.stop();
    await daemon.client.unmount('lost', 'container');
    assert.ok(Date.now() - started < 60_000, 'Unmount hung on a dead server');
    assert.deepEqual(mountsUnder(mountpoint), []);
    assert.deepEqual(sshfsUnder(daemon.dirs.runDir), [], 'sshfs left running');
    console.log(`      gone for good: writes failed with ${[...new Set(writer.errors().map((e) => e.split(' ')[2]))].join(', ')}; Unmount took ${Date.now() - started} ms`);
  });

  it('fails Create and Mount against a dead server within their timeouts, well inside Docker\'s', async () => {
    const { sshd, daemon } = fixture;
    await daemon.client.create('later', sftpOptions(sshd, 'later'));
    await sshd.kill();
    let started = Date.now();
    assert.match(await daemon.client.err('/VolumeDriver.Create', { Name: 'dead', Opts: sftpOptions(sshd, 'dead') }), /connection refused/);
    const createMs = Date.now() - started;
    started = Date.now();
    assert.match(await daemon.client.err('/VolumeDriver.Mount', { Name: 'later', ID: 'x' }), /sshfs could not mount the volume: .*Connection refused/);
    const mountMs = Date.now() - started;
    assert.ok(createMs < 30_000, `Create took ${createMs} ms`);
    // Nothing listens: that is not sshd refusing a burst (MaxStartups), so not worth the
    // whole connect_timeout (10 s) of tries.
    assert.ok(mountMs < 3000, `Mount took ${mountMs} ms against a server that refuses connections`);
    assert.equal(((await daemon.client.get('later')).Status as { mounts: number }).mounts, 0);
    console.log(`      dead server: Create failed in ${createMs} ms, Mount in ${mountMs} ms`);
  });

  // sshfs mounts before it connects and unmounts when the connection fails: a Mount must
  // not take that brief mount, or the empty directory left under it, for a served volume.
  it('fails a Mount whose connections the server drops after accepting them, with the reason', async () => {
    const { sshd, daemon } = fixture;
    await daemon.client.create('dropped', sftpOptions(sshd, 'dropped', { connect_timeout: '4' }));
    await sshd.kill();
    const dropper = await dropAfterAccepting(sshd.port);
    try {
      for (const holdMs of [0, 5, 20, 50, 100]) {
        dropper.holdMs = holdMs;
        const error = await daemon.client.err('/VolumeDriver.Mount', { Name: 'dropped', ID: `hold-${holdMs}` });
        assert.match(error, /sshfs could not mount the volume: .*(closed|reset)/i, `with connections dropped after ${holdMs} ms`);
        assert.equal(((await daemon.client.get('dropped')).Status as { mounts: number }).mounts, 0);
      }
      assert.ok(dropper.accepted >= 10, `only ${dropper.accepted} connections reached the server`);
      assert.deepEqual(sshfsUnder(daemon.dirs.runDir), [], 'sshfs left running');
      console.log(`      dropped connections: ${dropper.accepted} accepted and dropped over 5 Mounts, every Mount failed with the reason`);
    } finally {
      dropper.server.close();
    }
  });
});

/** A server on `port` that accepts TCP connections and closes each after `holdMs`, saying nothing. */
async function dropAfterAccepting(port: number): Promise<{ server: net.Server; holdMs: number; accepted: number }> {
  const dropper = { server: net.createServer(), holdMs: 0, accepted: 0 };
  dropper.server.on('connection', (socket) => {
    dropper.accepted += 1;
    socket.on('error', () => undefined);
    setTimeout(() => socket.destroy(), dropper.holdMs);
  });
  await new Promise<void>((resolve, reject) => {
    dropper.server.once('error', reject);
    dropper.server.listen(port, '127.0.0.1', resolve);
  });
  return dropper;
}
