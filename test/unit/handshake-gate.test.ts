import assert from 'node:assert/strict';
import { HandshakeGate, isRefusedHandshake } from '../../src/backends/sftp/control/handshake-gate';

describe('a refused handshake (tried again) and a failed connection (not)', () => {
  // The texts as sshfs and ssh2 report them (sshfs's last lines: ssh's, then its own).
  const refused = [
    'sshfs could not mount the volume: kex_exchange_identification: read: Connection reset by peer Connection reset by 127.0.0.1 port 2222 read: Connection reset by peer',
    'sshfs could not mount the volume: kex_exchange_identification: Connection closed by remote host Connection closed by 127.0.0.1 port 2222 read: Connection reset by peer',
    'ssh_exchange_identification: read: Connection reset by peer',
    'Connection timed out during banner exchange',
    'Connection lost before handshake',
  ];
  const failed = [
    'sshfs could not mount the volume: ssh: connect to host 127.0.0.1 port 2222: Connection refused read: Connection reset by peer',
    'sshfs could not mount the volume: Host key verification failed. read: Connection reset by peer',
    'sshfs could not mount the volume: dvstest@127.0.0.1: Permission denied (publickey). read: Connection reset by peer',
    'connect ECONNREFUSED 127.0.0.1:2222',
  ];
  for (const message of refused) it(`tries again: ${message}`, () => assert.equal(isRefusedHandshake(message), true));
  for (const message of failed) it(`fails at once: ${message}`, () => assert.equal(isRefusedHandshake(message), false));
});

describe('the handshake gate', () => {
  const failing = (times: number): { work: () => Promise<string>; calls: () => number } => {
    let calls = 0;
    return {
      work: () => (++calls <= times ? Promise.reject(new Error(`refused ${calls}`)) : Promise.resolve('served')),
      calls: () => calls,
    };
  };
  const giveUp = (error: unknown, attempts: number, outOfTime: boolean): Error => new Error(`${(error as Error).message} after ${attempts}${outOfTime ? ', out of time' : ''}`);

  it('keeps at most its limit of handshakes in flight per server', async () => {
    const gate = new HandshakeGate(2);
    let inFlight = 0;
    let most = 0;
    const work = async (): Promise<void> => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight -= 1;
    };
    await Promise.all([...Array.from({ length: 6 }, () => gate.run('a:22', work)), gate.run('b:22', work)]);
    assert.equal(most, 3); // two of a, one of b
  });

  it('tries again while the policy asks and the deadline allows', async () => {
    const attempt = failing(2);
    const result = await new HandshakeGate().runRetrying('a:22', Date.now() + 5000, attempt.work, { retry: () => 1, giveUp });
    assert.equal(result, 'served');
    assert.equal(attempt.calls(), 3);
  });

  it('gives up at once when the policy says so, and when the next wait would pass the deadline', async () => {
    const refusedOnce = failing(5);
    await assert.rejects(new HandshakeGate().runRetrying('a:22', Date.now() + 5000, refusedOnce.work, { retry: (_, n) => (n < 2 ? 1 : undefined), giveUp }), /refused 2 after 2$/);
    const slow = failing(5);
    await assert.rejects(new HandshakeGate().runRetrying('a:22', Date.now() + 50, slow.work, { retry: () => 1000, giveUp }), /refused 1 after 1, out of time$/);
    assert.equal(slow.calls(), 1);
  });
});
