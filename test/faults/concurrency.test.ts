import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { readVolumes } from '../support/state';
import { mountsUnder } from '../support/daemon-process';
import { eventually, sftpOptions, sshfsUnder } from '../support/sftp-fixtures';
import { withSshdAndDaemon } from '../support/sshd-and-daemon';

describe('concurrency (real daemon, real sshd)', function () {
  this.timeout(10 * 60_000);
  // idle SFTP mounts are released 1 s after their last Unmount: the end state is checked after
  const fixture = withSshdAndDaemon({ prefix: 'dvs-conc', env: { LOG_LEVEL: 'warn', SFTP_IDLE_UNMOUNT: '1' } });

  it('ends with exact counts and nothing leaked after 200 parallel Mount/Unmount calls across 20 volumes', async () => {
    const { sshd, daemon } = fixture;
    const names = Array.from({ length: 20 }, (_, i) => (i < 4 ? `sftp${i}` : `local${i}`));
    await Promise.all(names.map((name) => daemon.client.create(name, name.startsWith('sftp') ? sftpOptions(sshd, name) : {})));
    const calls = Array.from({ length: 200 }, (_, i) => ({ name: names[i % 20]!, id: `container-${i}` }));
    await Promise.all(calls.map(({ name, id }) => daemon.client.mount(name, id)));
    for (const name of names) assert.equal(((await daemon.client.get(name)).Status as { mounts: number }).mounts, 10, name);
    // a bind per SFTP volume (of its server's sshfs share), and one bind that shows every local volume
    const view = path.join(daemon.dirs.mountRoot, '.local');
    assert.deepEqual(mountsUnder(daemon.dirs.mountRoot).sort(), [view, ...names.slice(0, 4).map((n) => path.join(daemon.dirs.mountRoot, n))].sort());
    for (const name of names.filter((n) => n.startsWith('sftp'))) {
      fs.writeFileSync(path.join(daemon.dirs.mountRoot, name, 'f'), name);
      assert.equal(fs.readFileSync(sshd.serverPath(name, 'f'), 'utf8'), name);
    }
    await Promise.all(calls.map(({ name, id }) => daemon.client.unmount(name, id)));
    for (const name of names) assert.equal(((await daemon.client.get(name)).Status as { mounts: number }).mounts, 0, name);
    // A second wave whose Mounts race the idle releases of the first
    await Promise.all(calls.map(async ({ name, id }, i) => {
      await new Promise((resolve) => setTimeout(resolve, 900 + (i % 10) * 25));
      await daemon.client.mount(name, `${id}-again`);
      await daemon.client.unmount(name, `${id}-again`);
    }));
    await eventually('idle mounts released, no sshfs left', () => {
      assert.deepEqual(mountsUnder(daemon.dirs.mountRoot), [view]);
      assert.deepEqual(sshfsUnder(daemon.dirs.runDir), []);
    }, 5000, 100);
    const state = await readVolumes(path.join(daemon.dirs.dataDir, 'state.jsonl'));
    assert.ok([...state.values()].every((v) => Object.keys(v.mounts).length === 0));
    await Promise.all(names.map((name) => daemon.client.remove(name)));
    assert.deepEqual(fs.readdirSync(daemon.dirs.mountRoot), ['.local']);
    assert.deepEqual(fs.readdirSync(view), []);
  });

  it('settles Creates and Removes racing on one name to a consistent end', async () => {
    const { sshd, daemon } = fixture;
    for (const kind of ['local', 'sftp']) {
      const options = kind === 'sftp' ? sftpOptions(sshd, 'racer') : {};
      const replies = await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          i % 3 === 2 ? daemon.client.call('/VolumeDriver.Remove', { Name: 'racer' }) : daemon.client.call('/VolumeDriver.Create', { Name: 'racer', Opts: options }),
        ),
      );
      for (const reply of replies) assert.ok(reply.body.Err === '' || /no such volume/.test(String(reply.body.Err)), String(reply.body.Err));
      const listed = (await daemon.client.list()).some((v) => v.Name === 'racer');
      if (kind === 'local') assert.equal(fs.existsSync(path.join(daemon.dirs.dataDir, 'volumes', 'racer')), listed);
      else assert.equal(fs.existsSync(path.join(daemon.dirs.dataDir, 'sftp', 'racer')), listed);
      if (listed) await daemon.client.remove('racer');
    }
  });
});
