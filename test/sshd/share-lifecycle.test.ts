import assert from 'node:assert/strict';
import fs from 'node:fs';
import { delay } from '../support/daemon-process';
import { eventually, sftpOptions, sshfsServing, sshfsUnder } from '../support/sftp-fixtures';
import { withSshdAndDaemon } from '../support/sshd-and-daemon';

/** One share started by a Create's warm-up, in the daemon's run directory. */
async function warmShare(runDir: string): Promise<number> {
  return eventually('the share the Create started', () => {
    const [pid, ...more] = sshfsUnder(runDir);
    assert.ok(pid !== undefined && more.length === 0, `sshfs under the run dir: ${sshfsUnder(runDir).join(', ')}`);
    return pid;
  }, 10_000, 20);
}

describe("a share's life: a Create's warm-up ends with its Remove and with the daemon; a dead sshfs is noticed", function () {
  this.timeout(120_000);
  // A hold of 30 s: whatever ends a share in these tests, it is not the hold running out.
  const fixture = withSshdAndDaemon({ prefix: 'dvs-share-life', env: { SFTP_IDLE_UNMOUNT: '30' }, perTest: true });

  it('a Remove stops the share its Create started for a Mount that will not come', async () => {
    const { sshd, daemon } = fixture;
    await daemon.client.create('short-lived', sftpOptions(sshd, 'short-lived'));
    await warmShare(daemon.dirs.runDir);
    await daemon.client.remove('short-lived');
    await eventually('no sshfs after the Remove', () => assert.deepEqual(sshfsUnder(daemon.dirs.runDir), []), 3000, 50);
  });

  it('no sshfs outlives its daemon: Create, Remove and SIGTERM at once, while the share is still starting', async () => {
    const { sshd, daemon } = fixture;
    await daemon.client.create('at-once', sftpOptions(sshd, 'at-once'));
    await daemon.client.remove('at-once');
    const exit = await daemon.stop('SIGTERM');
    assert.equal(exit.code, 0, `the daemon did not stop cleanly: ${daemon.output.slice(-2000)}`);
    await delay(1000);
    assert.deepEqual(sshfsUnder(daemon.dirs.runDir), [], 'an sshfs outlived the daemon');
  });

  it('a dead sshfs is noticed within a second: logged, Status says disconnected since when and why, and the next Mount starts a new share', async () => {
    const { sshd, daemon } = fixture;
    await daemon.client.create('victim', sftpOptions(sshd, 'victim'));
    const mountpoint = await daemon.client.mount('victim', 'c');
    const [sshfs] = sshfsServing(mountpoint);
    assert.ok(sshfs !== undefined);
    const killedAt = Date.now();
    process.kill(sshfs, 'SIGKILL');
    const status = await eventually(
      'Status says disconnected',
      async () => {
        const found = (await daemon.client.get('victim')).Status as Record<string, unknown>;
        assert.equal(found.connected, false);
        assert.equal(typeof found.disconnectedAt, 'string');
        return found;
      },
      3000,
      20,
    );
    const noticedInMs = Date.now() - killedAt;
    console.log(`      noticed ${noticedInMs} ms after the kill`);
    assert.ok(noticedInMs <= 1500, `noticed after ${noticedInMs} ms`);
    assert.match(String(status.lastError), /sshfs stopped: .*restart the containers that use this volume/);
    await daemon.waitForLog((entry) => entry.msg === 'sshfs share died; its volumes are disconnected until mounted again');

    await daemon.client.create('after', sftpOptions(sshd, 'after'));
    const afterAt = await daemon.client.mount('after', 'c');
    const [fresh] = sshfsServing(afterAt);
    assert.ok(fresh !== undefined && fresh !== sshfs, 'the next Mount got no new share');
    await daemon.client.unmount('after', 'c');
    await daemon.client.unmount('victim', 'c');
  });

  it('a share opens all its connections when it starts, and Status says how stale the mount may be', async () => {
    const { sshd, daemon } = fixture;
    await daemon.client.create('eager', sftpOptions(sshd, 'eager', { connections: '3' }));
    await daemon.client.create('other-cache', sftpOptions(sshd, 'other-cache', { connections: '2', cache_timeout: '2' }));
    for (const [name, connections] of [
      ['eager', 3],
      ['other-cache', 2],
    ] as const) {
      const [sshfs] = sshfsServing(await daemon.client.mount(name, 'c'));
      assert.ok(sshfs !== undefined);
      // Nothing walked the mount: sshfs alone holds one connection (one ssh) until it is busy.
      await eventually(`${connections} connections of ${name}'s share`, () => assert.equal(sshChildren(sshfs), connections), 3000, 20);
    }
    assert.equal(((await daemon.client.get('eager')).Status as Record<string, unknown>).staleForAtMostSeconds, 1);
    assert.equal(((await daemon.client.get('other-cache')).Status as Record<string, unknown>).staleForAtMostSeconds, 2);
    for (const name of ['eager', 'other-cache']) await daemon.client.unmount(name, 'c');
  });
});

/** The ssh processes an sshfs runs, one per SSH connection: sshfs double-forks them, so they are found by the ssh_config (-F) they are given. */
function sshChildren(sshfs: number): number {
  const argv = (pid: string): string[] => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      return [];
    }
  };
  const own = argv(String(sshfs));
  const config = own[own.indexOf('-F') + 1];
  assert.ok(own.includes('-F') && config !== undefined, `sshfs runs without -F: ${own.join(' ')}`);
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^[0-9]+$/.test(entry))
    .map(argv)
    .filter((args) => args[0]?.split('/').pop() === 'ssh' && (args.includes(`-F${config}`) || args.includes(config))).length;
}
