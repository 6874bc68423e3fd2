import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { readMounts } from '../../src/system/mountinfo';
import { cleanup, DaemonProcess, delay, makeDirs, mountsUnder } from '../support/daemon-process';
import { eventually, KEY_NAME, PASSWORD_FILE, processesOf, sftpOptions, sshfsServing } from '../support/sftp-fixtures';
import { withSshdAndDaemon } from '../support/sshd-and-daemon';
import type { TestSshd } from '../support/sshd';

/** SFTP_IDLE_UNMOUNT=0: the last Unmount stops sshfs before it returns. */
const RELEASE_AT_ONCE = { SFTP_IDLE_UNMOUNT: '0' };

describe('SFTP volumes against a real sshd and real sshfs mounts', function () {
  this.timeout(120_000);
  // One server; every test starts the daemons it needs, stopped after it.
  const fixture = withSshdAndDaemon({ prefix: 'dvs-sftp', hosts: 0 });
  let sshd: TestSshd;
  const daemons: DaemonProcess[] = [];

  const startDaemon = async (env: Record<string, string> = {}): Promise<DaemonProcess> => {
    const daemon = await fixture.addDaemon({ env });
    daemons.push(daemon);
    return daemon;
  };

  before(() => {
    sshd = fixture.sshd;
  });
  // After the fixture's, which stopped the daemons the test started: stop and clean-up here are
  // for a daemon a test only spawned.
  afterEach(async () => {
    for (const daemon of daemons.splice(0)) {
      await daemon.stop();
      const stray = daemon.output.split('\n').filter((line) => line !== '' && !line.startsWith('{') && !line.startsWith('docker-volume-sftp: '));
      assert.deepEqual(stray, [], 'the daemon wrote lines that are not JSON log lines');
      cleanup(daemon.dirs.base);
    }
    if (!sshd.running) await sshd.restart();
  });

  it('creates, mounts, writes, reads and unmounts, creating the remote directory', async () => {
    const daemon = await startDaemon(RELEASE_AT_ONCE);
    await daemon.client.create('basic', sftpOptions(sshd, 'basic'));
    assert.ok(fs.statSync(sshd.serverPath('basic')).isDirectory(), 'remote directory not created');
    const mountpoint = await daemon.client.mount('basic', 'c1');
    assert.ok(mountsUnder(mountpoint).length === 1, 'not mounted');
    const device = (await readMounts()).find((entry) => entry.mountPoint === mountpoint)?.device;
    assert.ok(device !== undefined, `${mountpoint} not in the mount table`);
    assert.equal(fs.readFileSync(`/sys/class/bdi/${device}/read_ahead_kb`, 'utf8').trim(), '1024', 'read-ahead not raised');
    fs.writeFileSync(path.join(mountpoint, 'note.txt'), 'from the container');
    assert.equal(fs.readFileSync(sshd.serverPath('basic', 'note.txt'), 'utf8'), 'from the container');
    // The engine chowns image data it copies into an empty volume, and docker cp chowns.
    fs.chownSync(path.join(mountpoint, 'note.txt'), 0, 0);
    fs.mkdirSync(path.join(mountpoint, 'copied-dir'));
    fs.chownSync(path.join(mountpoint, 'copied-dir'), 0, 0);
    fs.writeFileSync(sshd.serverPath('basic', 'server.txt'), 'from the server');
    assert.equal(fs.readFileSync(path.join(mountpoint, 'server.txt'), 'utf8'), 'from the server');

    const status = (await daemon.client.get('basic')).Status as Record<string, unknown>;
    assert.equal(status.backend, 'sftp');
    assert.equal(status.remote, `${sshd.user}@127.0.0.1:${sshd.port}${sshd.serverPath('basic')}`);
    assert.equal(status.connected, true);
    assert.equal(status.mounts, 1);
    await eventually('usage in Status', async () => {
      const s = (await daemon.client.get('basic')).Status as Record<string, unknown>;
      assert.ok(typeof s.freeBytes === 'number' && s.freeBytes > 0 && typeof s.usedBytes === 'number', JSON.stringify(s));
    });

    await daemon.client.unmount('basic', 'c1');
    assert.deepEqual(mountsUnder(daemon.dirs.mountRoot), []);
    assert.deepEqual(sshfsServing(mountpoint), [], 'sshfs left running after the last Unmount');
    assert.equal(((await daemon.client.get('basic')).Status as Record<string, unknown>).connected, false);
    await daemon.client.remove('basic');
    assert.equal(fs.readFileSync(sshd.serverPath('basic', 'note.txt'), 'utf8'), 'from the container', 'remote data deleted without remove=delete');
  });

  it('deletes remote data on Remove only for volumes created with remove=delete', async () => {
    const daemon = await startDaemon();
    await daemon.client.create('doomed', sftpOptions(sshd, 'doomed', { remove: 'delete' }));
    const mountpoint = await daemon.client.mount('doomed', 'x');
    fs.mkdirSync(path.join(mountpoint, 'sub'));
    fs.writeFileSync(path.join(mountpoint, 'sub', 'f'), 'x');
    assert.match(await daemon.client.err('/VolumeDriver.Remove', { Name: 'doomed' }), /in use/);
    assert.ok(fs.existsSync(sshd.serverPath('doomed', 'sub', 'f')));
    await daemon.client.unmount('doomed', 'x');
    await daemon.client.remove('doomed');
    assert.equal(fs.existsSync(sshd.serverPath('doomed')), false);
  });

  it('shares one volume between two daemons ("hosts") in both directions, within the cache time', async () => {
    const hostA = await startDaemon();
    const hostB = await startDaemon();
    const options = sftpOptions(sshd, 'shared');
    await hostA.client.create('shared', options);
    await hostB.client.create('shared', options);
    const onA = await hostA.client.mount('shared', 'a1');
    const onB = await hostB.client.mount('shared', 'b1');
    fs.readdirSync(onB); // B has listed the directory: its cache now holds an older view

    /**
     * How long after `change` a read on the other host could still start and see the old
     * state: the start of the last read that did (the read's own time is not staleness; on a
     * loaded machine one took up to 200 ms).
     */
    const staleFor = async (change: () => void, fresh: () => boolean): Promise<number> => {
      change();
      const changed = performance.now();
      let lastStale = changed;
      for (;;) {
        const started = performance.now();
        if (fresh()) return Math.round(lastStale - changed);
        lastStale = started;
        if (started - changed > 5000) return Infinity;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    const seen = (writer: string, reader: string, file: string): Promise<number> =>
      staleFor(
        () => fs.writeFileSync(path.join(writer, file), file),
        () => fs.readdirSync(reader).includes(file) && fs.readFileSync(path.join(reader, file), 'utf8') === file,
      );
    const aToB = await seen(onA, onB, 'from-a.txt');
    fs.readdirSync(onA);
    const bToA = await seen(onB, onA, 'from-b.txt');
    // cache_timeout, 1 s by default.
    assert.ok(aToB <= 1000 && bToA <= 1000, `still old ${aToB} ms (A to B) and ${bToA} ms (B to A) after the change`);

    // A reader that looks while the writer is half-way keeps the old size in its cache; the
    // rest must still show within a second of the close.
    const fd = fs.openSync(path.join(onA, 'growing.txt'), 'w');
    fs.writeSync(fd, 'first half;');
    fs.fsyncSync(fd);
    await eventually('the half-written file on B', () => assert.equal(fs.readFileSync(path.join(onB, 'growing.txt'), 'utf8'), 'first half;'));
    fs.writeSync(fd, 'second half');
    const grown = await staleFor(
      () => fs.closeSync(fd),
      () => fs.readFileSync(path.join(onB, 'growing.txt'), 'utf8') === 'first half;second half',
    );
    assert.ok(grown <= 1000, `the rest of an in-place write was still missing ${grown} ms after the close`);
    console.log(`      a new file still unseen up to ${aToB} ms (A to B) and ${bToA} ms (B to A); the rest of an in-place write up to ${grown} ms`);
    await hostA.client.unmount('shared', 'a1');
    await hostB.client.unmount('shared', 'b1');
  });

  it('keeps the same mounts (key and password logins) working across an sshd crash and restart', async () => {
    const daemon = await startDaemon();
    const { identity: _key, ...passwordOptions } = sftpOptions(sshd, 'sturdy-pw', { password_file: PASSWORD_FILE });
    await daemon.client.create('sturdy', sftpOptions(sshd, 'sturdy'));
    await daemon.client.create('sturdy-pw', passwordOptions);
    const mountpoints = [await daemon.client.mount('sturdy', 'x'), await daemon.client.mount('sturdy-pw', 'x')];
    for (const mountpoint of mountpoints) fs.writeFileSync(path.join(mountpoint, 'before'), '1');
    await sshd.kill();
    // Get, List and Path answer from memory while the server is gone.
    const started = Date.now();
    await daemon.client.get('sturdy');
    await daemon.client.list();
    await daemon.client.ok('/VolumeDriver.Path', { Name: 'sturdy' });
    assert.ok(Date.now() - started < 500, 'reads waited for the server');
    await delay(1500);
    await sshd.restart();
    for (const mountpoint of mountpoints) {
      await eventually(
        `I/O through the same mount ${mountpoint}`,
        () => {
          fs.writeFileSync(path.join(mountpoint, 'after'), '2');
          assert.equal(fs.readFileSync(path.join(mountpoint, 'before'), 'utf8'), '1');
        },
        30_000,
        250,
      );
    }
    assert.equal(fs.readFileSync(sshd.serverPath('sturdy', 'after'), 'utf8'), '2');
    assert.equal(fs.readFileSync(sshd.serverPath('sturdy-pw', 'after'), 'utf8'), '2');
    await daemon.client.unmount('sturdy', 'x');
    await daemon.client.unmount('sturdy-pw', 'x');
  });

  describe('host keys', () => {
    it('refuses an unknown host key, showing the fingerprint and how to pin it, leaving nothing behind', async () => {
      const daemon = await startDaemon();
      const { hostkey: _pinned, ...unpinned } = sftpOptions(sshd, 'unpinned');
      const err = await daemon.client.err('/VolumeDriver.Create', { Name: 'unpinned', Opts: unpinned });
      assert.ok(err.includes(sshd.hostKeyFingerprint), err);
      assert.match(err, /pin it with -o hostkey=SHA256:/);
      assert.equal(fs.existsSync(sshd.serverPath('unpinned')), false);
      assert.deepEqual(await daemon.client.list(), []);
    });

    it('refuses a wrong pinned key with the fingerprint the server offered', async () => {
      const daemon = await startDaemon();
      const wrong = 'SHA256:' + 'A'.repeat(43);
      const err = await daemon.client.err('/VolumeDriver.Create', { Name: 'mitm', Opts: sftpOptions(sshd, 'mitm', { hostkey: wrong }) });
      assert.match(err, /host key mismatch/);
      assert.ok(err.includes(wrong) && err.includes(sshd.hostKeyFingerprint), err);
      assert.equal(fs.existsSync(sshd.serverPath('mitm')), false);
    });

    it('trusts a known_hosts file in the keys directory instead of a pin', async () => {
      const daemon = await startDaemon();
      await sshd.writeKnownHostsInto(path.join(daemon.dirs.dataDir, 'keys'));
      const { hostkey: _pinned, ...unpinned } = sftpOptions(sshd, 'viaknown');
      await daemon.client.create('viaknown', unpinned);
      const mountpoint = await daemon.client.mount('viaknown', 'x');
      fs.writeFileSync(path.join(mountpoint, 'ok'), 'written through a known_hosts-trusted mount');
      assert.equal(fs.readFileSync(sshd.serverPath('viaknown', 'ok'), 'utf8'), 'written through a known_hosts-trusted mount');
      await daemon.client.unmount('viaknown', 'x');
    });
  });

  describe('authentication', () => {
    it('logs in with password_file, keeping the password out of argv, environment, state, logs and Get', async () => {
      const daemon = await startDaemon({ LOG_LEVEL: 'debug' });
      const { identity: _key, ...withoutKey } = sftpOptions(sshd, 'pw');
      await daemon.client.create('pw', { ...withoutKey, password_file: PASSWORD_FILE });
      const mountpoint = await daemon.client.mount('pw', 'x');
      fs.writeFileSync(path.join(mountpoint, 'f'), 'x');
      assert.equal(fs.readFileSync(sshd.serverPath('pw', 'f'), 'utf8'), 'x');

      const secret = sshd.password;
      const get = JSON.stringify(await daemon.client.get('pw'));
      const list = JSON.stringify(await daemon.client.list());
      const state = fs.readFileSync(path.join(daemon.dirs.dataDir, 'state.jsonl'), 'utf8');
      const files = fs.readdirSync(path.join(daemon.dirs.dataDir, 'sftp', 'pw')).map((f) => fs.readFileSync(path.join(daemon.dirs.dataDir, 'sftp', 'pw', f), 'utf8'));
      for (const [where, text] of [['Get', get], ['List', list], ['state', state], ['logs', daemon.output], ...files.map((t, i) => [`plugin file ${i}`, t])] as [string, string][]) {
        assert.ok(!text.includes(secret), `password found in ${where}`);
      }
      for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
        for (const file of ['cmdline', 'environ']) {
          let text = '';
          try {
            text = fs.readFileSync(`/proc/${pid}/${file}`, 'latin1');
          } catch {
            continue;
          }
          assert.ok(!text.includes(secret), `password found in /proc/${pid}/${file}: ${text.replace(/\0/g, ' ').slice(0, 200)}`);
        }
      }
      await daemon.client.unmount('pw', 'x');
      assert.match(
        await daemon.client.err('/VolumeDriver.Create', { Name: 'pw4', Opts: { ...withoutKey, password_file: PASSWORD_FILE, connections: '4' } }),
        /connections=4 needs key authentication/,
      );
    });

    it('refuses a key the server does not accept, saying what to check', async () => {
      const daemon = await startDaemon();
      const keys = path.join(daemon.dirs.dataDir, 'keys');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(keys, 'stranger')]);
      const err = await daemon.client.err('/VolumeDriver.Create', { Name: 'stranger', Opts: sftpOptions(sshd, 'stranger', { identity: 'stranger' }) });
      assert.match(err, /refused to log in user "dvstest": check the user, and that the key/);
    });

    it('refuses a key file others can read, and a missing one, naming the file', async () => {
      const daemon = await startDaemon();
      fs.chmodSync(path.join(daemon.dirs.dataDir, 'keys', KEY_NAME), 0o644);
      assert.match(await daemon.client.err('/VolumeDriver.Create', { Name: 'loose', Opts: sftpOptions(sshd, 'loose') }), /can be read by other users; run chmod 600/);
      assert.match(await daemon.client.err('/VolumeDriver.Create', { Name: 'nokey', Opts: sftpOptions(sshd, 'nokey', { identity: 'absent' }) }), /does not exist: .*keys\/absent/);
    });
  });

  describe('unreachable servers fail fast with a message that says what to do', () => {
    // A server that accepts TCP connections and never says a word: a handshake timeout.
    let silent: net.Server;
    before(async () => {
      silent = net.createServer(() => undefined);
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    });
    after(() => {
      silent.close();
    });
    const silentPort = (): string => String((silent.address() as net.AddressInfo).port);
    const cases: [string, () => Record<string, string>, RegExp][] = [
      ['DNS failure', () => ({ host: 'no-such-host.invalid' }), /cannot resolve the SFTP host "no-such-host.invalid"/],
      ['connection refused', () => ({ port: '1' }), /connection refused by 127.0.0.1:1: check that the SFTP server runs/],
      ['timeout', () => ({ port: silentPort(), connect_timeout: '2' }), /no answer from 127.0.0.1:\d+ within 2 s/],
    ];
    for (const [what, override, message] of cases) {
      it(what, async () => {
        const daemon = await startDaemon();
        const started = Date.now();
        const err = await daemon.client.err('/VolumeDriver.Create', { Name: 'far', Opts: sftpOptions(sshd, 'far', override()) });
        assert.match(err, message);
        assert.ok(Date.now() - started < 30_000, 'took too long');
        assert.deepEqual(await daemon.client.list(), []);
      });
    }

    it('permission denied on the path', async () => {
      const daemon = await startDaemon();
      const err = await daemon.client.err('/VolumeDriver.Create', { Name: 'denied', Opts: { ...sftpOptions(sshd, 'x'), path: '/root/forbidden' } });
      assert.match(err, /permission denied on the server to create \/root\/forbidden as user "dvstest"/);
    });
  });

  describe('injection attempts are refused with no side effect', () => {
    const attempts: [string, Record<string, string>, RegExp][] = [
      ['ssh_command', { ssh_command: 'touch /tmp/pwned' }, /option "ssh_command" is refused/],
      ['ProxyCommand', { ProxyCommand: 'touch /tmp/pwned' }, /option "ProxyCommand" is refused/],
      ['LocalCommand', { LocalCommand: 'id' }, /is refused/],
      ['PKCS11Provider', { PKCS11Provider: '/tmp/evil.so' }, /is refused/],
      ['sftp_server', { sftp_server: '/bin/sh' }, /is refused/],
      ['-F', { '-F': '/tmp/cfg' }, /is refused/],
      ['password', { password: 'hunter2' }, /password_file/],
      ['a comma-smuggled option', { uid: '0,ssh_command=touch /tmp/pwned' }, /commas are not allowed/],
      ['a comma in cipher', { cipher: 'aes128-ctr,ProxyCommand=x' }, /commas are not allowed/],
      ['a leading dash in user', { user: '-oProxyCommand=x' }, /must not start with "-"/],
      ['a leading dash in host', { host: '-oProxyCommand=x' }, /must not start with "-"/],
      ['shell metacharacters in host', { host: 'h;touch /tmp/pwned' }, /host name or an IP address/],
      ['shell metacharacters in user', { user: 'u$(touch /tmp/pwned)' }, /user name/],
      ['a newline in host', { host: 'h\nProxyCommand x' }, /control characters/],
      ['traversal in path', { path: '../../etc' }, /without "\.\."/],
      ['traversal in identity', { identity: '../../../etc/shadow' }, /plain file name/],
      ['an unknown option', { debug: '1' }, /unknown option "debug" for a sftp volume/],
    ];
    for (const [what, override, message] of attempts) {
      it(what, async () => {
        const daemon = await startDaemon();
        const before = processesOf('sshfs').length;
        const sshLog = sshd.log().length;
        const err = await daemon.client.err('/VolumeDriver.Create', { Name: 'evil', Opts: { ...sftpOptions(sshd, 'evil'), ...override } });
        assert.match(err, message);
        assert.ok(!err.includes('hunter2'));
        assert.equal(fs.existsSync('/tmp/pwned'), false);
        assert.equal(fs.existsSync(sshd.serverPath('evil')), false);
        assert.equal(fs.existsSync(path.join(daemon.dirs.dataDir, 'sftp', 'evil')), false);
        assert.equal(processesOf('sshfs').length, before);
        assert.ok(!sshd.log().slice(sshLog).includes('Accepted'), 'the daemon logged in to the server');
        assert.deepEqual(await daemon.client.list(), []);
      });
    }

    it('keeps path inside the plugin base path', async () => {
      const daemon = await startDaemon({ SFTP_BASE_PATH: sshd.serverPath('base') });
      const err = await daemon.client.err('/VolumeDriver.Create', { Name: 'outside', Opts: { ...sftpOptions(sshd, 'x'), path: '/etc' } });
      assert.match(err, /outside the plugin's base path/);
    });
  });

  it('creates a volume with no options at all from the plugin-level defaults', async () => {
    fs.mkdirSync(sshd.serverPath('store'), { recursive: true });
    fs.chownSync(sshd.serverPath('store'), sshd.uid, sshd.gid);
    const daemon = await startDaemon({
      SFTP_HOST: sshd.host,
      SFTP_PORT: String(sshd.port),
      SFTP_USER: sshd.user,
      SFTP_BASE_PATH: sshd.serverPath('store'),
      SFTP_IDENTITY: KEY_NAME,
      SFTP_HOSTKEY: sshd.hostKeyFingerprint,
    });
    await daemon.client.create('plain');
    const mountpoint = await daemon.client.mount('plain', 'x');
    fs.writeFileSync(path.join(mountpoint, 'f'), 'x');
    assert.equal(fs.readFileSync(sshd.serverPath('store', 'plain', 'f'), 'utf8'), 'x');
    await daemon.client.unmount('plain', 'x');
    await daemon.client.create('local-anyway', { backend: 'local' });
    assert.equal(((await daemon.client.get('local-anyway')).Status as Record<string, unknown>).backend, 'local');
  });

  it('stops at start on a bad plugin-level default, naming the variable', async () => {
    const dirs = makeDirs('dvs-sftp');
    const daemon = new DaemonProcess(dirs, { SFTP_PORT: 'twenty-two' });
    daemons.push(daemon);
    daemon.spawn();
    assert.equal((await daemon.exit).code, 1);
    assert.match(daemon.output, /SFTP_PORT="twenty-two": expected a whole number/);
  });

  it('adopts its live sshfs mounts after a kill -9, and leaves no orphan after Unmount', async () => {
    const daemon = await startDaemon(RELEASE_AT_ONCE);
    await daemon.client.create('survivor', sftpOptions(sshd, 'survivor'));
    const mountpoint = await daemon.client.mount('survivor', 'held');
    const fd = fs.openSync(path.join(mountpoint, 'open-file'), 'w');
    await daemon.kill9();
    await daemon.start();
    fs.writeSync(fd, 'still writing');
    fs.closeSync(fd);
    assert.equal(fs.readFileSync(sshd.serverPath('survivor', 'open-file'), 'utf8'), 'still writing');
    await daemon.waitForLog((entry) => entry.msg === 'adopted a running sshfs mount');
    await daemon.client.unmount('survivor', 'held');
    assert.deepEqual(mountsUnder(mountpoint), []);
    assert.deepEqual(sshfsServing(mountpoint), []);
  });

  it('keeps sshfs for SFTP_IDLE_UNMOUNT seconds after the last Unmount, reuses it for the next Mount, then releases it', async () => {
    const daemon = await startDaemon({ SFTP_IDLE_UNMOUNT: '3' });
    await daemon.client.create('idle', sftpOptions(sshd, 'idle'));
    const mountpoint = await daemon.client.mount('idle', 'c1');
    const [pid] = sshfsServing(mountpoint);
    assert.ok(pid !== undefined, 'no sshfs serves the mount');
    await daemon.client.unmount('idle', 'c1');
    const status = (await daemon.client.get('idle')).Status as Record<string, unknown>;
    assert.deepEqual([status.mounts, status.connected], [0, true]);
    assert.equal((await daemon.client.list()).find((v) => v.Name === 'idle')?.Mountpoint, undefined, 'List shows an idle volume as mounted');

    await delay(1500);
    assert.equal(await daemon.client.mount('idle', 'c2'), mountpoint);
    assert.deepEqual(sshfsServing(mountpoint), [pid], 'the next Mount did not reuse the idle sshfs');
    fs.writeFileSync(path.join(mountpoint, 'again'), 'reused');
    assert.equal(fs.readFileSync(sshd.serverPath('idle', 'again'), 'utf8'), 'reused');
    await daemon.client.unmount('idle', 'c2');
    // the Mount restarted the idle time: still there 2 s after this Unmount (4.5 s after the first)
    await delay(2000);
    assert.deepEqual(sshfsServing(mountpoint), [pid], 'released before its idle time had passed since the last Unmount');
    await eventually('idle sshfs released', () => {
      assert.deepEqual(sshfsServing(mountpoint), []);
      assert.deepEqual(mountsUnder(mountpoint), []);
    }, 5000, 100);
    assert.equal(((await daemon.client.get('idle')).Status as Record<string, unknown>).connected, false);
  });

  it('releases an idle mount at once for Remove, at a graceful stop, and after a kill -9', async () => {
    const daemon = await startDaemon({ SFTP_IDLE_UNMOUNT: '600' });
    for (const name of ['idle-rm', 'idle-stop']) {
      await daemon.client.create(name, sftpOptions(sshd, name));
      await daemon.client.mount(name, 'x');
      await daemon.client.unmount(name, 'x');
    }
    const rmMountpoint = path.join(daemon.dirs.mountRoot, 'idle-rm');
    assert.equal(sshfsServing(rmMountpoint).length, 1, 'not kept while idle');
    await daemon.client.remove('idle-rm');
    assert.deepEqual([sshfsServing(rmMountpoint), mountsUnder(rmMountpoint)], [[], []], 'Remove left the idle mount');
    assert.ok(fs.existsSync(sshd.serverPath('idle-rm')), 'remote data deleted without remove=delete');

    const stopMountpoint = path.join(daemon.dirs.mountRoot, 'idle-stop');
    await daemon.stop();
    assert.deepEqual([sshfsServing(stopMountpoint), mountsUnder(stopMountpoint)], [[], []], 'a graceful stop left the idle mount');

    await daemon.start();
    await daemon.client.mount('idle-stop', 'y');
    await daemon.client.unmount('idle-stop', 'y');
    assert.equal(sshfsServing(stopMountpoint).length, 1);
    await daemon.kill9();
    await daemon.start();
    await eventually('the orphan of an idle mount detached after a restart', () => {
      assert.deepEqual([sshfsServing(stopMountpoint), mountsUnder(stopMountpoint)], [[], []]);
    }, 10_000, 100);
  });

  it('detaches a dead mount at start and mounts again when its ID is held', async () => {
    const daemon = await startDaemon();
    await daemon.client.create('phoenix', sftpOptions(sshd, 'phoenix'));
    const mountpoint = await daemon.client.mount('phoenix', 'held');
    await daemon.kill9();
    for (const pid of sshfsServing(mountpoint)) process.kill(pid, 'SIGKILL');
    await daemon.start();
    await eventually('remounted', () => {
      fs.writeFileSync(path.join(mountpoint, 'again'), 'x');
      assert.equal(fs.readFileSync(sshd.serverPath('phoenix', 'again'), 'utf8'), 'x');
    }, 10_000, 100);
    await daemon.client.unmount('phoenix', 'held');
  });
});
