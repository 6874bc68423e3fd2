import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { delay } from '../support/daemon-process';
import { eventually, processesOf, sftpOptions, sshfsServing, sshfsUnder } from '../support/sftp-fixtures';
import { withSshdAndDaemon } from '../support/sshd-and-daemon';

/** The default `connections`: the most SSH connections one sshfs share opens. */
const POOL = 4;

const argvOf = (pid: number): string[] => {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
};

/** The ssh processes an sshfs runs (reparented: sshfs forks twice): they get its ssh_config (-F). */
function sshOf(sshfsPid: number): number[] {
  const argv = argvOf(sshfsPid);
  const config = argv[argv.indexOf('-F') + 1];
  return processesOf('ssh').filter((pid) => config !== undefined && argvOf(pid).includes(`-F${config}`));
}

/** Writes to every mountpoint at once, a few MB each, so sshfs opens every connection it may. */
async function busyWrites(mountpoints: string[]): Promise<void> {
  const chunk = Buffer.alloc(256 * 1024, 7);
  await Promise.all(
    mountpoints.map(async (mountpoint, i) => {
      const file = await fs.promises.open(path.join(mountpoint, `busy-${i}`), 'w');
      try {
        for (let n = 0; n < 8; n += 1) await file.write(chunk);
        await file.sync();
      } finally {
        await file.close();
      }
    }),
  );
}

describe('SSH connections shared by the volumes of a server (a real sshd, real sshfs)', function () {
  this.timeout(300_000);
  const fixture = withSshdAndDaemon({ prefix: 'dvs-sharing-conns', env: { SFTP_IDLE_UNMOUNT: '0' } });

  it(`holds at most ${POOL} SSH connections to the server for its data, whether 4 or 40 volumes are busy`, async () => {
    const { sshd, daemon } = fixture;
    const counts: Record<number, number> = {};
    for (const volumes of [4, 40]) {
      const names = Array.from({ length: volumes }, (_, i) => `pool-${volumes}-${i}`);
      for (const name of names) await daemon.client.create(name, sftpOptions(sshd, name));
      const mountpoints = await Promise.all(names.map((name) => daemon.client.mount(name, 'c')));
      const most = await sshd.mostConnectionsDuring(() => busyWrites(mountpoints));
      const serving = new Set(mountpoints.flatMap((mountpoint) => sshfsServing(mountpoint)));
      assert.equal(serving.size, 1, `${volumes} volumes of one server are served by ${serving.size} sshfs processes`);
      counts[volumes] = most;
      for (const name of names) await daemon.client.unmount(name, 'c');
      for (const name of names) await daemon.client.remove(name);
    }
    console.log(`      most SSH connections to the server: ${counts[4]} with 4 busy volumes, ${counts[40]} with 40`);
    // The data connections plus the control connection (Create, Remove, usage) and its reconnects.
    assert.ok((counts[40] ?? Infinity) <= POOL + 2, `40 volumes held ${counts[40]} connections`);
    assert.ok((counts[40] ?? Infinity) <= (counts[4] ?? 0) + 1, `more volumes, more connections: ${JSON.stringify(counts)}`);
  });

  it('keeps the same mounts when the SSH connections of the share die mid-write: nothing confirmed is lost', async () => {
    const { sshd, daemon } = fixture;
    await daemon.client.create('appender', sftpOptions(sshd, 'appender'));
    await daemon.client.create('neighbour', sftpOptions(sshd, 'neighbour'));
    const mountpoint = await daemon.client.mount('appender', 'c');
    const neighbour = await daemon.client.mount('neighbour', 'c');
    const [sshfsPid] = sshfsServing(mountpoint);
    assert.ok(sshfsPid !== undefined);
    const log = path.join(mountpoint, 'journal.log');

    // An appender as a database would be: write a line, fsync, count it confirmed; on an
    // error, open the file again and go on.
    const confirmed: number[] = [];
    let errors = 0;
    let killedAt = -1;
    // Plain descriptors: a FileHandle whose close failed would be closed again by the GC.
    const openLog = (): number | undefined => {
      try {
        return fs.openSync(log, 'a');
      } catch {
        return undefined;
      }
    };
    let fd = openLog();
    for (let line = 0; line < 300; line += 1) {
      if (line === 100) {
        const ssh = sshOf(sshfsPid);
        assert.ok(ssh.length > 0, 'the share has no ssh process to kill');
        for (const pid of ssh) process.kill(pid, 'SIGKILL');
        killedAt = confirmed.length;
      }
      try {
        if (fd === undefined) throw new Error('not open');
        fs.writeSync(fd, `line ${line}\n`);
        fs.fsyncSync(fd);
        confirmed.push(line);
      } catch {
        errors += 1;
        if (fd !== undefined) {
          try {
            fs.closeSync(fd);
          } catch {
            // the descriptor is gone either way
          }
        }
        await delay(50);
        fd = openLog();
      }
    }
    if (fd !== undefined) fs.closeSync(fd);
    console.log(`      ${confirmed.length} of 300 appends confirmed, ${errors} failed after the ssh processes were killed at line ${killedAt}`);

    assert.deepEqual(sshfsServing(mountpoint), [sshfsPid], 'the volume is no longer served by the same sshfs');
    const onServer = new Set(fs.readFileSync(sshd.serverPath('appender', 'journal.log'), 'utf8').split('\n'));
    const lost = confirmed.filter((line) => !onServer.has(`line ${line}`));
    assert.deepEqual(lost, [], 'confirmed appends missing on the server');
    assert.ok(confirmed.includes(299), 'appends did not carry on after the connections died');
    // The other volume of the share carries on too, through the same mount.
    await eventually('the neighbour volume answers', () => fs.writeFileSync(path.join(neighbour, 'after'), 'yes'));
    assert.equal(fs.readFileSync(sshd.serverPath('neighbour', 'after'), 'utf8'), 'yes');
    assert.equal(((await daemon.client.get('appender')).Status as Record<string, unknown>).connected, true);
    await daemon.client.unmount('appender', 'c');
    await daemon.client.unmount('neighbour', 'c');
  });

  it("runs sshfs on the plugin's cache clock (quarter seconds) and its ssh processes on the real one", async () => {
    const { sshd, daemon } = fixture;
    await daemon.client.create('clocked', sftpOptions(sshd, 'clocked'));
    const mountpoint = await daemon.client.mount('clocked', 'c');
    fs.readdirSync(mountpoint); // sshfs's connection is up, so its ssh runs
    const [sshfsPid] = sshfsServing(mountpoint);
    assert.ok(sshfsPid !== undefined);
    const maps = (pid: number): string => fs.readFileSync(`/proc/${pid}/maps`, 'utf8');
    assert.match(maps(sshfsPid), /sshfs-clock\.so/, 'sshfs runs without the clock library');
    assert.match(maps(sshfsPid), /sshfs-open-files\.so/, 'sshfs runs without the open-files library');
    // cache_timeout=1 (the default): sshfs 1 tick (up to 0.5 s), the kernel 0.5 s.
    assert.match(argvOf(sshfsPid).join(' '), /dcache_timeout=1,attr_timeout=0\.5,entry_timeout=0\.5/);
    const ssh = sshOf(sshfsPid);
    assert.ok(ssh.length > 0);
    for (const pid of ssh) {
      assert.doesNotMatch(maps(pid), /sshfs-(clock|open-files)\.so/, 'ssh loaded a library meant for sshfs');
      assert.doesNotMatch(fs.readFileSync(`/proc/${pid}/environ`, 'utf8'), /LD_PRELOAD|SSHFS_CLOCK/, 'ssh inherited the preload');
    }
    await daemon.client.unmount('clocked', 'c');
  });

  it('refuses a volume whose path is a symbolic link on the server, leaving nothing mounted', async () => {
    const { sshd, daemon } = fixture;
    // A real directory at Create, swapped for a link on the server afterwards.
    await daemon.client.create('linked', sftpOptions(sshd, 'linked'));
    fs.rmdirSync(sshd.serverPath('linked'));
    fs.symlinkSync('/etc', sshd.serverPath('linked'));
    const err = await daemon.client.err('/VolumeDriver.Mount', { Name: 'linked', ID: 'c' });
    assert.match(err, /symbolic link/);
    assert.equal(fs.existsSync(path.join(daemon.dirs.mountRoot, 'linked', 'passwd')), false, 'the host /etc was bound as the volume');
    await daemon.client.remove('linked');
  });

  it('refuses a volume whose path passes through a symbolic link to elsewhere on the server', async () => {
    const { sshd, daemon } = fixture;
    fs.mkdirSync(sshd.serverPath('real', 'inner'), { recursive: true });
    fs.writeFileSync(sshd.serverPath('real', 'inner', 'secret'), 'not this volume');
    await daemon.client.create('through', sftpOptions(sshd, 'through'));
    fs.mkdirSync(sshd.serverPath('through', 'x'));
    await daemon.client.create('through-x', { ...sftpOptions(sshd, 'through/x') });
    fs.rmSync(sshd.serverPath('through'), { recursive: true });
    fs.symlinkSync('real', sshd.serverPath('through'));
    fs.renameSync(sshd.serverPath('real', 'inner'), sshd.serverPath('real', 'x'));
    const err = await daemon.client.err('/VolumeDriver.Mount', { Name: 'through-x', ID: 'c' });
    assert.match(err, /symbolic link/);
    assert.equal(fs.existsSync(path.join(daemon.dirs.mountRoot, 'through-x', 'secret')), false);
  });
});

describe('a Create starts its server\'s share for the Mount that follows (a real sshd, real sshfs)', function () {
  this.timeout(120_000);
  const fixture = withSshdAndDaemon({ prefix: 'dvs-sharing-warm', env: { SFTP_IDLE_UNMOUNT: '3' } });

  it('has the share running before the first Mount, serves that Mount from it, and lets it go SFTP_IDLE_UNMOUNT seconds after the Create', async () => {
    const { sshd, daemon } = fixture;
    await daemon.client.create('warmed', sftpOptions(sshd, 'warmed'));
    const [warmPid] = await eventually('the share started by the Create', () => {
      const running = sshfsUnder(daemon.dirs.runDir);
      assert.equal(running.length, 1, 'no sshfs share after the Create');
      return running;
    });
    const mountpoint = await daemon.client.mount('warmed', 'c');
    assert.deepEqual(sshfsServing(mountpoint), [warmPid], 'the Mount did not use the share the Create started');
    await daemon.client.unmount('warmed', 'c');

    await daemon.client.create('unused', sftpOptions(sshd, 'unused'));
    await eventually('a share for the new volume', () => assert.equal(sshfsUnder(daemon.dirs.runDir).length, 1));
    await eventually('the share released once its hold and the idle time have passed', () => assert.deepEqual(sshfsUnder(daemon.dirs.runDir), []), 15_000, 200);
  });
});

