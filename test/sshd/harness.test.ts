/**
 * Proves test/support/sshd.ts against reality: a real OpenSSH sshd, ssh2-sftp-client, sshfs.
 * Needs root, /dev/fuse, openssh-server, sshfs. Run: npx mocha test/sshd/harness.test.ts
 */
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import SftpClient from 'ssh2-sftp-client';
import { eventually } from '../support/eventually';
import { run } from '../support/run';
import { TestSshd, forceUnmount, isSshfsMounted, sshFingerprint } from '../support/sshd';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The harness's old pace: a condition re-checked every 250 ms. */
const retry = <T>(what: string, timeoutMs: number, probe: () => T | Promise<T>): Promise<T> => eventually(what, probe, timeoutMs, 250);

/** A foreground sshfs (-f) we own: the mount and the process, cleaned up in after hooks. */
class SshfsMount {
  stderr = '';
  private exited: Promise<number | null>;

  private constructor(
    readonly mountpoint: string,
    readonly proc: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
    proc.stderr?.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  static async mount(args: string[], mountpoint: string, stdin?: string): Promise<SshfsMount> {
    await fsp.mkdir(mountpoint, { recursive: true });
    const proc = spawn('sshfs', ['-f', ...args], { stdio: ['pipe', 'ignore', 'pipe'] });
    const m = new SshfsMount(mountpoint, proc);
    mounts.push(m);
    proc.stdin?.on('error', () => undefined);
    proc.stdin?.end(stdin ?? '');
    const deadline = Date.now() + 15_000;
    while (!isSshfsMounted(mountpoint)) {
      if (!m.alive) throw new Error(`sshfs exited ${String(await m.exited)}: ${m.stderr}`);
      if (Date.now() > deadline) throw new Error(`sshfs did not mount within 15 s: ${m.stderr}`);
      await sleep(25);
    }
    // sshfs 3.7 mounts BEFORE it has connected (and unmounts again if the connection fails),
    // so being in mountinfo proves nothing: the first stat waits for the connection.
    const st = await run('stat', ['-c', '%i', mountpoint], { timeoutMs: 15_000 });
    if (st.code !== 0) {
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      const code = await m.exited;
      clearTimeout(t);
      throw new Error(`sshfs failed (exit ${String(code)}; stat: ${st.stderr.trim()}): ${m.stderr.trim()}`);
    }
    return m;
  }

  async unmount(): Promise<void> {
    forceUnmount(this.mountpoint);
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    if (this.alive) this.proc.kill('SIGTERM');
    await this.exited;
    clearTimeout(t);
  }
}

const mounts: SshfsMount[] = [];

async function cleanupMounts(): Promise<void> {
  for (const m of mounts.splice(0)) {
    try {
      await m.unmount();
    } catch {
      /* best effort */
    }
  }
}

/** A client whose default global listeners do not console.log every end/close. */
function newClient(): SftpClient {
  const quiet = (): void => undefined;
  return new SftpClient('harness-test', { error: quiet, end: quiet, close: quiet });
}

async function sftpConnect(sshd: TestSshd, extra: Partial<Parameters<SftpClient['connect']>[0]> = {}): Promise<SftpClient> {
  const c = newClient();
  await c.connect({ ...sshd.connectConfig(), ...extra });
  return c;
}

describe('TestSshd harness (real OpenSSH sshd)', function () {
  this.timeout(60_000);

  let sshd: TestSshd;
  let work: string;
  const clients: SftpClient[] = [];

  before(async () => {
    sshd = await TestSshd.start();
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'dvs-harness-test-'));
  });

  afterEach(async function () {
    for (const c of clients.splice(0)) await c.end().catch(() => undefined);
    if (this.currentTest?.state === 'failed') {
      console.error(`--- sshd log (${sshd.logPath}) ---\n${sshd.log().split('\n').slice(-40).join('\n')}`);
    }
  });

  after(async () => {
    await cleanupMounts();
    await sshd?.dispose();
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });

  it('listens on 127.0.0.1 with a fingerprint exactly as ssh-keygen -l prints it', async () => {
    assert.equal(sshd.host, '127.0.0.1');
    assert.ok(sshd.port > 1024);
    assert.ok(sshd.running);
    const out = await run('ssh-keygen', ['-l', '-f', `${sshd.hostKeyPath}.pub`]);
    assert.equal(out.stdout.split(/\s+/)[1], sshd.hostKeyFingerprint);
    assert.match(sshd.hostKeyFingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
    assert.match(sshd.hostKeyLine, /^ssh-ed25519 AAAA[A-Za-z0-9+/=]+$/);
    assert.equal(sshd.knownHostsLine, `[127.0.0.1]:${sshd.port} ${sshd.hostKeyLine}`);
    assert.ok(path.isAbsolute(sshd.root));
    const st = await fsp.stat(sshd.root);
    assert.equal(st.uid, sshd.uid);
    assert.equal((await fsp.stat(sshd.clientKeyPath)).mode & 0o777, 0o600);
  });

  it('accepts the client key (ssh2-sftp-client) and writes as the test user', async () => {
    const c = await sftpConnect(sshd);
    clients.push(c);
    await c.mkdir(`${sshd.root}/keydir`);
    await c.put(Buffer.from('via key\n'), `${sshd.root}/keydir/f.txt`);
    const got = await c.get(`${sshd.root}/keydir/f.txt`);
    assert.ok(Buffer.isBuffer(got), 'get() without a destination gives a Buffer');
    assert.equal(got.toString('utf8'), 'via key\n');
    const st = await fsp.stat(sshd.serverPath('keydir', 'f.txt'));
    assert.equal(st.uid, sshd.uid);
  });

  it('accepts the password and rejects a wrong one', async () => {
    const c = newClient();
    clients.push(c);
    const { privateKey: _omit, ...noKey } = sshd.connectConfig();
    await c.connect({ ...noKey, password: sshd.password });
    assert.ok(Array.isArray(await c.list(sshd.root)));

    const bad = newClient();
    clients.push(bad);
    await assert.rejects(bad.connect({ ...noKey, password: 'wrong' }), /authentication methods failed/);
  });

  it("hostVerifier sees a key whose SHA256 fingerprint equals hostKeyFingerprint", async () => {
    let seen: string | undefined;
    const c = await sftpConnect(sshd, {
      hostVerifier: (key: Buffer): boolean => {
        seen = sshFingerprint(key);
        return true;
      },
    });
    clients.push(c);
    assert.equal(seen, sshd.hostKeyFingerprint);

    const rejecting = newClient();
    clients.push(rejecting);
    await assert.rejects(rejecting.connect({ ...sshd.connectConfig(), hostVerifier: () => false }), /verification failed/i);
  });

  it('stop() ends the session processes too, and restart() serves again', async () => {
    const c = await sftpConnect(sshd);
    clients.push(c);
    let closed = false;
    c.on('close', () => (closed = true));
    const sessions = sshd.sessionPids();
    assert.ok(sessions.length >= 2, `expected per-connection sshd processes, got ${sessions.join(',')}`);
    await sshd.stop();
    assert.equal(sshd.running, false);
    for (const p of sessions) assert.equal(fs.existsSync(`/proc/${p}`) && !/\) Z /.test(fs.readFileSync(`/proc/${p}/stat`, 'utf8')), false);
    await retry('client notices the close', 5000, () => assert.ok(closed));
    await sshd.restart();
    const c2 = await sftpConnect(sshd);
    clients.push(c2);
    assert.ok(await c2.exists(sshd.root));
  });

  it('kill() drops live connections; restart() keeps port and host key', async () => {
    const port = sshd.port;
    const c = await sftpConnect(sshd);
    clients.push(c);
    let closed = false;
    c.on('close', () => (closed = true));
    await sshd.kill();
    assert.equal(sshd.running, false);
    assert.deepEqual(sshd.sessionPids(), []);
    await retry('client notices the drop', 5000, () => assert.ok(closed));
    await assert.rejects(c.list(sshd.root));

    await sshd.restart();
    assert.equal(sshd.port, port);
    let seen: string | undefined;
    const c2 = await sftpConnect(sshd, {
      hostVerifier: (key: Buffer): boolean => {
        seen = sshFingerprint(key);
        return seen === sshd.hostKeyFingerprint;
      },
    });
    clients.push(c2);
    assert.equal(seen, sshd.hostKeyFingerprint);
    assert.ok(await c2.exists(`${sshd.root}/keydir/f.txt`));
  });

  it('several instances run at once, each with its own port, host key and root', async () => {
    const other = await TestSshd.start();
    try {
      assert.notEqual(other.port, sshd.port);
      assert.notEqual(other.hostKeyFingerprint, sshd.hostKeyFingerprint);
      assert.notEqual(other.root, sshd.root);
      const a = await sftpConnect(sshd);
      const b = await sftpConnect(other);
      clients.push(a, b);
      await b.put(Buffer.from('b'), `${other.root}/only-b`);
      assert.equal(await a.exists(`${sshd.root}/only-b`), false);
      // a client pinned to one server refuses the other
      const wrong = newClient();
      clients.push(wrong);
      await assert.rejects(
        wrong.connect({ ...other.connectConfig(), hostVerifier: (k: Buffer) => sshFingerprint(k) === sshd.hostKeyFingerprint }),
      );
    } finally {
      await other.dispose();
    }
    assert.equal(fs.existsSync(other.dir), false);
    assert.ok(sshd.running);
  });

  it('sshd dies with the test process even if that is SIGKILLed', async () => {
    const script = path.join(work, 'orphan.ts');
    const harness = path.resolve(__dirname, '../support/sshd');
    await fsp.writeFile(
      script,
      `import { TestSshd } from ${JSON.stringify(harness)};\n` +
        `TestSshd.start().then((s) => { console.log(JSON.stringify({ pid: s.pid, dir: s.dir })); setInterval(() => {}, 1000); });\n`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const info = await new Promise<{ pid: number; dir: string }>((resolve, reject) => {
      let buf = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        const line = buf.split('\n').find((l) => l.startsWith('{'));
        if (line) resolve(JSON.parse(line) as { pid: number; dir: string });
      });
      child.on('exit', (code) => reject(new Error(`child exited ${String(code)}`)));
    });
    assert.ok(fs.existsSync(`/proc/${info.pid}`));
    child.kill('SIGKILL');
    await retry('orphaned sshd to die', 5000, () => {
      const gone = !fs.existsSync(`/proc/${info.pid}`) || / Z /.test(fs.readFileSync(`/proc/${info.pid}/stat`, 'utf8'));
      assert.ok(gone, `sshd ${info.pid} still alive`);
    });
    await fsp.rm(info.dir, { recursive: true, force: true });
  });

  describe('sshfs', () => {
    let keyPath: string;
    let knownHosts: string;

    before(async () => {
      if (!sshd.running) await sshd.restart();
      keyPath = await sshd.writeClientKeyInto(work);
      knownHosts = await sshd.writeKnownHostsInto(work);
    });

    after(cleanupMounts);

    const baseOpts = (): string =>
      `reconnect,ServerAliveInterval=2,ServerAliveCountMax=3,ConnectTimeout=5,` +
      `UserKnownHostsFile=${knownHosts},StrictHostKeyChecking=yes`;

    async function writeThrough(mnt: string, name: string, content: string): Promise<void> {
      const src = path.join(work, `src-${name}`);
      await fsp.writeFile(src, content);
      const r = await run('cp', [src, path.join(mnt, name)], { timeoutMs: 15_000 });
      if (r.code !== 0) throw new Error(`cp into mount failed (${String(r.code)}): ${r.stderr.trim()}`);
    }

    async function readThrough(mnt: string, name: string): Promise<string> {
      const r = await run('cat', [path.join(mnt, name)], { timeoutMs: 15_000 });
      if (r.code !== 0) throw new Error(`cat from mount failed (${String(r.code)}): ${r.stderr.trim()}`);
      return r.stdout;
    }

    it('mounts with the client key; writes appear on the server; I/O resumes on the SAME mount after kill()+restart()', async () => {
      const remote = await sshd.mkdirAsUser('vol-key');
      const mnt = path.join(work, 'mnt-key');
      const m = await SshfsMount.mount(
        [sshd.target(remote), mnt, '-p', String(sshd.port), '-o', `${baseOpts()},IdentityFile=${keyPath},IdentitiesOnly=yes,BatchMode=yes`],
        mnt,
      );
      await writeThrough(mnt, 'before.txt', 'before\n');
      assert.equal(await fsp.readFile(path.join(remote, 'before.txt'), 'utf8'), 'before\n');
      assert.equal((await fsp.stat(path.join(remote, 'before.txt'))).uid, sshd.uid);

      await sshd.kill();
      // server down: sshfs fails fast with EIO (connection refused on its reconnect attempt)
      const down = await run('cat', [path.join(mnt, 'before.txt')], { timeoutMs: 15_000 });
      assert.notEqual(down.code, 0);
      assert.match(down.stderr, /Input\/output error/);
      assert.ok(isSshfsMounted(mnt), 'mount must survive the outage');

      await sshd.restart();
      await retry('write through the same mount after restart', 20_000, () => writeThrough(mnt, 'after.txt', 'after\n'));
      assert.equal(await fsp.readFile(path.join(remote, 'after.txt'), 'utf8'), 'after\n');
      assert.equal(await readThrough(mnt, 'before.txt'), 'before\n');
      assert.ok(m.alive, 'the same sshfs process served it');
      await m.unmount();
      assert.equal(isSshfsMounted(mnt), false);
    });

    it('mounts with the password via password_stdin, which sshfs re-sends on reconnect', async () => {
      const remote = await sshd.mkdirAsUser('vol-pw');
      const mnt = path.join(work, 'mnt-pw');
      const m = await SshfsMount.mount(
        [
          sshd.target(remote), mnt, '-p', String(sshd.port),
          '-o', `${baseOpts()},password_stdin,PubkeyAuthentication=no,PreferredAuthentications=password`,
        ],
        mnt,
        `${sshd.password}\n`,
      );
      await writeThrough(mnt, 'pw.txt', 'pw\n');
      assert.equal(await fsp.readFile(path.join(remote, 'pw.txt'), 'utf8'), 'pw\n');
      await sshd.kill();
      await sshd.restart();
      await retry('read through the same mount after restart', 20_000, async () => assert.equal(await readThrough(mnt, 'pw.txt'), 'pw\n'));
      assert.ok(m.alive);
    });

    it('a wrong host key is refused with ssh\'s message on stderr (foreground sshfs)', async () => {
      const other = await TestSshd.start();
      try {
        const mnt = path.join(work, 'mnt-badkey');
        // known_hosts pins sshd's key, but we connect to `other` on its port under the same name
        const kh = path.join(work, 'kh-mismatch');
        await fsp.writeFile(kh, `[127.0.0.1]:${other.port} ${sshd.hostKeyLine}\n`);
        await assert.rejects(
          SshfsMount.mount(
            [other.target(other.root), mnt, '-p', String(other.port), '-o',
              `UserKnownHostsFile=${kh},StrictHostKeyChecking=yes,IdentityFile=${keyPath},IdentitiesOnly=yes,BatchMode=yes`],
            mnt,
          ),
          /Host key verification failed/,
        );
        assert.equal(isSshfsMounted(mnt), false);
      } finally {
        await other.dispose();
      }
    });
  });
});
