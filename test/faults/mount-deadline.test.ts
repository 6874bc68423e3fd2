import assert from 'node:assert/strict';
import net from 'node:net';
import { delay, type DaemonProcess } from '../support/daemon-process';
import { sftpOptions, sshfsUnder } from '../support/sftp-fixtures';
import { withSshdAndDaemon } from '../support/sshd-and-daemon';

/** The connect_timeout of these volumes; a Mount must end within it + 5 s (docs/semantics.md). */
const CONNECT_TIMEOUT_S = 5;
const MOUNT_BOUND_MS = (CONNECT_TIMEOUT_S + 5) * 1000;

interface MountOutcome {
  name: string;
  /** The Err of the reply, or '' when the Mount succeeded. */
  err: string;
  /** From sending the Mount to its reply. */
  ms: number;
}

async function timedMount(daemon: DaemonProcess, name: string, id: string): Promise<MountOutcome> {
  const sent = Date.now();
  const reply = await daemon.client.call('/VolumeDriver.Mount', { Name: name, ID: id });
  const err = typeof reply.body.Err === 'string' ? reply.body.Err : '';
  return { name, err, ms: Date.now() - sent };
}

/** Each failed, within the bound from its own sending. */
function assertAllFailedInTime(outcomes: readonly MountOutcome[]): void {
  for (const { name, err, ms } of outcomes) {
    assert.notEqual(err, '', `the Mount of ${name} succeeded against a server that does not answer`);
    assert.ok(ms < MOUNT_BOUND_MS, `the Mount of ${name} took ${ms} ms, past connect_timeout + 5 s (${MOUNT_BOUND_MS} ms): ${err}`);
  }
}

describe('Mounts against a server that does not answer end before the engine gives up', function () {
  this.timeout(5 * 60_000);
  // No warm-up after Create: each test decides which share is live.
  const fixture = withSshdAndDaemon({ prefix: 'dvs-deadline', env: { LOG_LEVEL: 'warn', SFTP_IDLE_UNMOUNT: '0' }, perTest: true });
  const options = (name: string): Record<string, string> => sftpOptions(fixture.sshd, name, { connect_timeout: String(CONNECT_TIMEOUT_S) });

  it('fails the Mounts of 12 volumes (and two more of one of them) against a silent server each within connect_timeout + 5 s of its sending: they share one start and its error', async () => {
    const { sshd, daemon } = fixture;
    const names = Array.from({ length: 12 }, (_, i) => `silent-${i}`);
    for (const name of names) await daemon.client.create(name, options(name));
    await sshd.kill();
    const silent = await acceptAndSayNothing(sshd.port);
    try {
      // Two more containers of silent-0: they queue behind its first Mount, on the volume's lock.
      const calls = [...names.map((name) => [name, 'container']), ['silent-0', 'second'], ['silent-0', 'third']] as const;
      const outcomes = await Promise.all(calls.map(([name, id]) => timedMount(daemon, name, id)));
      assertAllFailedInTime(outcomes);
      assert.equal(silent.accepted, 1, `the 14 Mounts opened ${silent.accepted} connections: each started the share again`);
      assert.equal(new Set(outcomes.map((outcome) => outcome.err)).size, 1, `the Mounts queued behind the failed start did not get its error: ${outcomes.map((o) => o.err).join(' | ')}`);
      // A Mount sent after that failure tries again.
      const later = await timedMount(daemon, 'silent-0', 'later');
      assertAllFailedInTime([later]);
      assert.equal(silent.accepted, 2, `a Mount sent after the failure did not try the server again: ${later.err}`);
      for (const name of names) assert.equal(((await daemon.client.get(name)).Status as { mounts: number }).mounts, 0);
      console.log(`      14 Mounts (12 volumes) of a silent server: slowest ${Math.max(...outcomes.map((o) => o.ms))} ms, 1 connection for all; a later Mount ${later.ms} ms; error: ${outcomes[0]?.err}`);
    } finally {
      silent.close();
    }
    await sshd.restart();
    await daemon.client.mount('silent-0', 'after');
    await daemon.client.unmount('silent-0', 'after');
    assert.deepEqual(sshfsUnder(daemon.dirs.runDir), [], 'sshfs left running');
  });

  // ssh's ConnectTimeout ends at the server's banner: a server that sends one and then
  // nothing leaves sshfs waiting, and the Mount must end it on time.
  it('fails the Mounts of a server that sends its SSH banner and then nothing within connect_timeout + 5 s', async () => {
    const { sshd, daemon } = fixture;
    const names = Array.from({ length: 3 }, (_, i) => `mute-${i}`);
    for (const name of names) await daemon.client.create(name, options(name));
    await sshd.kill();
    const mute = await acceptAndSayNothing(sshd.port, 'SSH-2.0-OpenSSH_9.2p1\r\n');
    try {
      const outcomes = await Promise.all(names.map((name) => timedMount(daemon, name, 'container')));
      assertAllFailedInTime(outcomes);
      assert.equal(mute.accepted, 1, `the Mounts opened ${mute.accepted} connections: each started the share again`);
      console.log(`      banner, then silence: the Mounts failed in ${outcomes.map((o) => o.ms).join(', ')} ms: ${outcomes[0]?.err}`);
    } finally {
      mute.close();
    }
    assert.deepEqual(sshfsUnder(daemon.dirs.runDir), [], 'sshfs left running');
  });

  it('answers a local Create, Get and List within 1 s while four Mounts hang on a stopped server', async () => {
    const { sshd, daemon } = fixture;
    const names = Array.from({ length: 5 }, (_, i) => `hung-${i}`);
    for (const name of names) await daemon.client.create(name, options(name));
    await daemon.client.mount('hung-0', 'running'); // the share is live when the server stops
    sshd.pause();
    try {
      const pending = names.slice(1).map((name) => timedMount(daemon, name, 'container'));
      await delay(1000); // the four are under way, each waiting on the server
      const timings: Record<string, number> = {};
      const timed = async (what: string, call: () => Promise<unknown>): Promise<void> => {
        const started = Date.now();
        await call();
        timings[what] = Date.now() - started;
      };
      await timed('Create', () => daemon.client.create('local-while-hung', {}));
      await timed('Get', () => daemon.client.get('local-while-hung'));
      await timed('List', () => daemon.client.list());
      for (const [what, ms] of Object.entries(timings)) assert.ok(ms < 1000, `a local ${what} took ${ms} ms while four Mounts hung on a stopped server`);
      const outcomes = await Promise.all(pending);
      assertAllFailedInTime(outcomes);
      console.log(
        `      stopped server: local Create ${timings.Create} ms, Get ${timings.Get} ms, List ${timings.List} ms; the four Mounts failed in ${outcomes.map((o) => o.ms).join(', ')} ms: ${outcomes[0]?.err}`,
      );
    } finally {
      sshd.resume();
    }
    await daemon.client.unmount('hung-0', 'running');
  });
});

/** A listener on `port` that accepts TCP connections and never says a word on them (but `greeting`). */
async function acceptAndSayNothing(port: number, greeting?: string): Promise<{ accepted: number; close(): void }> {
  const server = net.createServer();
  const sockets = new Set<net.Socket>();
  const silent = {
    accepted: 0,
    close: (): void => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
  server.on('connection', (socket) => {
    silent.accepted += 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    if (greeting !== undefined) socket.write(greeting);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return silent;
}
