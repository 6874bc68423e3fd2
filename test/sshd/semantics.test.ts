import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { delay } from '../support/daemon-process';
import { run } from '../support/run';
import { mountOnBoth, sftpOptions } from '../support/sftp-fixtures';
import { withSshdAndDaemon } from '../support/sshd-and-daemon';

/**
 * What POSIX behaviour holds on an SFTP volume mounted on two hosts (two daemons, one real
 * sshd, the plugin's default options). Each claim of docs/semantics.md is
 * one test here.
 */
describe('POSIX semantics of SFTP volumes shared by two hosts (two daemons, a real sshd)', function () {
  this.timeout(120_000);
  const fixture = withSshdAndDaemon({ prefix: 'dvs-sem', hosts: 2 });
  let onA: string;
  let onB: string;
  const server = (...parts: string[]): string => fixture.sshd.serverPath('sem', ...parts);

  before(async () => {
    ({ onA, onB } = await mountOnBoth(fixture.sshd, [fixture.host(0), fixture.host(1)], 'sem'));
  });

  /** Holds an exclusive lock of `kind` on `file` until the returned function is called. */
  async function holdLock(kind: 'flock' | 'fcntl', file: string): Promise<() => void> {
    const script =
      kind === 'flock'
        ? 'import fcntl,sys,time\nf=open(sys.argv[1],"a")\nfcntl.flock(f,fcntl.LOCK_EX)\nprint("locked",flush=True)\ntime.sleep(60)'
        : 'import fcntl,sys,time\nf=open(sys.argv[1],"a")\nfcntl.lockf(f,fcntl.LOCK_EX)\nprint("locked",flush=True)\ntime.sleep(60)';
    const child = spawn('python3', ['-c', script, file], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`lock holder exited ${code}`)));
    });
    return () => child.kill('SIGKILL');
  }

  /** 0 when a non-blocking exclusive lock of `kind` on `file` is granted, 1 when refused. */
  async function tryLock(kind: 'flock' | 'fcntl', file: string): Promise<number | null> {
    const call = kind === 'flock' ? 'fcntl.flock(f,fcntl.LOCK_EX|fcntl.LOCK_NB)' : 'fcntl.lockf(f,fcntl.LOCK_EX|fcntl.LOCK_NB)';
    const result = await run('python3', ['-c', `import fcntl,sys\nf=open(sys.argv[1],"a")\ntry:\n  ${call}\nexcept OSError:\n  sys.exit(1)`, file]);
    return result.code;
  }

  for (const kind of ['flock', 'fcntl'] as const) {
    it(`${kind} locks are local to one host: another host gets the same lock at once`, async () => {
      fs.writeFileSync(path.join(onA, `${kind}.lock`), '');
      await delay(1100);
      const release = await holdLock(kind, path.join(onA, `${kind}.lock`));
      try {
        assert.equal(await tryLock(kind, path.join(onA, `${kind}.lock`)), 1, 'the same host does not see its own lock');
        assert.equal(await tryLock(kind, path.join(onB, `${kind}.lock`)), 0, 'another host saw the lock');
      } finally {
        release();
      }
    });
  }

  it('rename over an existing file replaces it in one step (posix-rename), also as seen from the other host', async () => {
    fs.writeFileSync(path.join(onA, 'target'), 'old');
    fs.writeFileSync(path.join(onA, 'target.tmp'), 'new');
    fs.renameSync(path.join(onA, 'target.tmp'), path.join(onA, 'target'));
    assert.equal(fs.readFileSync(server('target'), 'utf8'), 'new');
    assert.equal(fs.existsSync(server('target.tmp')), false);
    // B renames over a file A created: no "file exists" either way.
    fs.writeFileSync(path.join(onB, 'target.b'), 'from b');
    await delay(1100);
    fs.renameSync(path.join(onB, 'target.b'), path.join(onB, 'target'));
    assert.equal(fs.readFileSync(server('target'), 'utf8'), 'from b');
  });

  it('hard links work (hardlink@openssh.com): two names, one file on the server', () => {
    fs.writeFileSync(path.join(onA, 'linked'), 'one file');
    fs.linkSync(path.join(onA, 'linked'), path.join(onA, 'linked.2'));
    assert.equal(fs.statSync(server('linked')).ino, fs.statSync(server('linked.2')).ino);
    assert.equal(fs.readFileSync(path.join(onA, 'linked.2'), 'utf8'), 'one file');
  });

  it('symlinks read as on a local volume, on every host: ".." links read through, an npm-style .bin link runs, readlink gives an absolute target as stored', async () => {
    fs.mkdirSync(path.join(onA, 'lib', 'tool'), { recursive: true });
    fs.mkdirSync(path.join(onA, 'bin'));
    fs.writeFileSync(path.join(onA, 'lib', 'tool', 'cli.sh'), '#!/bin/sh\necho tool ran\n', { mode: 0o755 });
    fs.symlinkSync('../lib/tool/cli.sh', path.join(onA, 'bin', 'tool'));
    fs.symlinkSync('/etc/hostname', path.join(onA, 'absolute-link'));
    assert.equal(fs.readlinkSync(server('bin', 'tool')), '../lib/tool/cli.sh');
    await delay(1100);
    for (const dir of [onA, onB]) {
      assert.equal(fs.readlinkSync(path.join(dir, 'bin', 'tool')), '../lib/tool/cli.sh');
      assert.match(fs.readFileSync(path.join(dir, 'bin', 'tool'), 'utf8'), /tool ran/);
      const ran = await run(path.join(dir, 'bin', 'tool'), []);
      assert.equal(ran.stdout, 'tool ran\n', `running bin/tool through the link: ${ran.stderr}`);
      // Stored as written; a container resolves it in its own file system, as on a local volume.
      assert.equal(fs.readlinkSync(path.join(dir, 'absolute-link')), '/etc/hostname');
    }
  });

  it('with contain_symlinks=true, links that are absolute or hold ".." read as EPERM (for servers whose links are not to be followed)', async () => {
    const daemon = fixture.host(0);
    await daemon.client.create('contained', sftpOptions(fixture.sshd, 'contained', { contain_symlinks: 'true' }));
    const mountpoint = await daemon.client.mount('contained', 'c');
    try {
      fs.mkdirSync(path.join(mountpoint, 'sub'));
      fs.writeFileSync(path.join(mountpoint, 'pointee'), 'pointed at');
      fs.symlinkSync('pointee', path.join(mountpoint, 'plain-link'));
      fs.symlinkSync('../pointee', path.join(mountpoint, 'sub', 'up-link'));
      fs.symlinkSync('/etc/hostname', path.join(mountpoint, 'absolute-link'));
      assert.equal(fs.readFileSync(path.join(mountpoint, 'plain-link'), 'utf8'), 'pointed at');
      assert.throws(() => fs.readlinkSync(path.join(mountpoint, 'sub', 'up-link')), /EPERM/);
      assert.throws(() => fs.readlinkSync(path.join(mountpoint, 'absolute-link')), /EPERM/);
      assert.equal(fs.readlinkSync(fixture.sshd.serverPath('contained', 'sub', 'up-link')), '../pointee');
    } finally {
      await daemon.client.unmount('contained', 'c');
      await daemon.client.remove('contained');
    }
  });

  it('modification times have whole-second resolution (SFTP version 3)', () => {
    const file = path.join(onA, 'stamped');
    fs.writeFileSync(file, 'x');
    fs.utimesSync(file, 1_700_000_000.75, 1_700_000_000.75);
    assert.equal(fs.statSync(file).mtimeMs, 1_700_000_000_000);
    assert.equal(fs.statSync(server('stamped')).mtimeMs, 1_700_000_000_000);
  });

  it('appends from two hosts at once: every line arrives whole (O_APPEND on the server), in no set order', async () => {
    const lines = 300;
    const appendAll = async (dir: string, tag: string): Promise<void> => {
      const fd = fs.openSync(path.join(dir, 'shared.log'), 'a');
      try {
        for (let i = 0; i < lines; i += 1) {
          fs.writeSync(fd, `${tag}-${String(i).padStart(4, '0')}-${'x'.repeat(40)}\n`);
          if (i % 50 === 0) await delay(1);
        }
      } finally {
        fs.closeSync(fd);
      }
    };
    fs.writeFileSync(path.join(onA, 'shared.log'), '');
    await delay(1100);
    await Promise.all([appendAll(onA, 'A'), appendAll(onB, 'B')]);
    const got = fs.readFileSync(server('shared.log'), 'utf8').split('\n').filter((line) => line !== '');
    const whole = got.filter((line) => /^[AB]-\d{4}-x{40}$/.test(line));
    console.log(`      ${got.length} lines on the server, ${whole.length} whole, of ${2 * lines} appended`);
    assert.equal(got.length, 2 * lines);
    assert.equal(whole.length, 2 * lines);
  });
});
