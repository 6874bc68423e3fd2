import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { TestSshd } from '../../support/sshd';
import { processesOf } from '../../support/sftp-fixtures';
import { BUSYBOX, PLUGIN, type Engine } from '../support/engine';
import { assertCreatedAt, serverFile, sftpOptions } from '../support/helpers';
import { runOk } from '../support/proc';
import { timedDescribe } from '../support/timings';
import { PASSWORD_FILE, World } from '../support/world';

/** Bytes a directory tree takes on disk, as `du` counts them (allocated blocks, hard links once). */
function diskUsage(dir: string, seen = new Set<string>()): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    const st = fs.lstatSync(p);
    const key = `${st.dev}:${st.ino}`;
    if (seen.has(key)) continue;
    seen.add(key);
    total += st.blocks * 512;
    if (entry.isDirectory()) total += diskUsage(p, seen);
  }
  return total;
}

/** A /proc file of a process, '' once it is gone. */
function readProcFile(pid: number, name: string): string {
  try {
    return fs.readFileSync(`/proc/${pid}/${name}`, 'utf8');
  } catch {
    return '';
  }
}

export function volumeLifecycle(world: World): void {
  timedDescribe(world.timings, 'case 1: volume create, inspect, ls, rm; data from one container to the next', function () {
    let a: Engine;
    let sshd: TestSshd;

    before(async function () {
      this.timeout(1_200_000);
      [a, sshd] = await Promise.all([world.engineA(), world.sshd()]);
    });

    it('the plugin runs Node.js 24 LTS: node --version in its rootfs, which stays within the 225 MiB it had with Node 20', async function () {
      this.timeout(60_000);
      const rootfs = await a.pluginRootfs();
      const version = (await runOk('chroot', [rootfs, 'node', '--version'])).trim();
      assert.match(version, /^v24\./, `node --version in the plugin: ${version}`);
      const mib = diskUsage(rootfs) / 1024 / 1024;
      assert.ok(mib <= 225, `the plugin rootfs takes ${mib.toFixed(1)} MiB (at most 225)`);
    });

    it('local volume: create, inspect (RFC 3339 CreatedAt, Status), ls, write then read in a second container, rm', async function () {
      this.timeout(120_000);
      await a.createVolume('c1-local');
      const v = await a.volumeInspect('c1-local');
      assert.equal(v.Name, 'c1-local');
      assert.match(v.Driver, /^sftp(:latest)?$/);
      assertCreatedAt(v);
      assert.equal(v.Status?.backend, 'local');
      assert.equal(v.Status?.mounts, 0);
      assert.ok((await a.volumeNames()).includes('c1-local'), 'docker volume ls lists c1-local');

      await a.runContainer(['-v', 'c1-local:/data'], 'echo hello-local > /data/msg');
      assert.equal(await a.runContainer(['-v', 'c1-local:/data'], 'cat /data/msg'), 'hello-local\n');
      // local data lives in the plugin's data mount on the host
      const hostDir = path.join(World.hostDataDir(a), 'volumes', 'c1-local');
      assert.equal(fs.readFileSync(path.join(hostDir, 'msg'), 'utf8'), 'hello-local\n');

      await a.dockerOk(['volume', 'rm', 'c1-local']);
      assert.ok(!(await a.volumeNames()).includes('c1-local'), 'c1-local still listed after rm');
      assert.notEqual((await a.docker(['volume', 'inspect', 'c1-local'])).code, 0, 'inspect of a removed volume succeeds');
      assert.ok(!fs.existsSync(hostDir), `${hostDir} survives docker volume rm`);
    });

    it('SFTP volume with key and pinned host key: create, inspect, ls, write then read, data on the server, rm keeps remote data', async function () {
      this.timeout(120_000);
      await a.createVolume('c1-sftp', sftpOptions(sshd, 'c1-sftp'));
      const v = await a.volumeInspect('c1-sftp');
      assert.match(v.Driver, /^sftp(:latest)?$/);
      assertCreatedAt(v);
      assert.equal(v.Status?.backend, 'sftp');
      assert.equal(v.Status?.mounts, 0);
      assert.equal(typeof v.Status?.remote, 'string');
      assert.ok(
        String(v.Status?.remote).includes(`${sshd.user}@${sshd.host}:${sshd.port}`) && String(v.Status?.remote).endsWith('c1-sftp'),
        `Status.remote: ${String(v.Status?.remote)}`,
      );
      const ls = await a.dockerOk(['volume', 'ls', '--format', '{{.Driver}} {{.Name}}']);
      assert.match(ls, /^sftp(:latest)? c1-sftp$/m);

      await a.runContainer(['-v', 'c1-sftp:/data'], 'echo hello-sftp > /data/msg');
      assert.equal(await a.runContainer(['-v', 'c1-sftp:/data'], 'cat /data/msg'), 'hello-sftp\n');
      await serverFile(sshd, ['c1-sftp', 'msg'], 'hello-sftp\n');
      // The plugin raised the FUSE mount's read-ahead (through its own sysfs: /sys is read-only in a plugin).
      const readAhead = await a.runContainer(['-v', 'c1-sftp:/data'], "d=$(awk '$5 == \"/data\" {print $3}' /proc/self/mountinfo); cat /sys/class/bdi/$d/read_ahead_kb");
      assert.equal(readAhead.trim(), '1024', 'read-ahead of the SFTP mount');
      // The plugin's sshfs (its share, kept SFTP_IDLE_UNMOUNT seconds) runs on the cache clock the image ships.
      const shares = processesOf('sshfs').filter((pid) => readProcFile(pid, 'cmdline').includes('/run/docker-volume-sftp/sftp-shares/'));
      assert.ok(shares.length > 0, 'no sshfs share of the plugin found on the host');
      for (const pid of shares) {
        assert.match(readProcFile(pid, 'maps'), /\/app\/dist\/sshfs-clock\.so/, 'the plugin runs sshfs without its clock library');
        assert.match(readProcFile(pid, 'maps'), /\/app\/dist\/sshfs-open-files\.so/, 'the plugin runs sshfs without its open-files library');
      }

      await a.dockerOk(['volume', 'rm', 'c1-sftp']);
      assert.ok(!(await a.volumeNames()).includes('c1-sftp'));
      // default remove=retain: the remote data outlives the volume
      assert.equal(fs.readFileSync(sshd.serverPath('c1-sftp', 'msg'), 'utf8'), 'hello-sftp\n');
    });

    it('no secret anywhere: the password and private key appear in no inspect or ls output, nor in the engine log', async function () {
      this.timeout(120_000);
      // password login: no identity option, the password in a file of the keys directory
      await a.createVolume('c1-pw', withoutIdentity(sftpOptions(sshd, 'c1-pw', { password_file: PASSWORD_FILE })));
      await a.createVolume('c1-key', sftpOptions(sshd, 'c1-key'));
      // the password volume really logs in with the password
      await a.runContainer(['-v', 'c1-pw:/data'], 'echo via-password > /data/f');
      await serverFile(sshd, ['c1-pw', 'f'], 'via-password\n');
      await a.runContainer(['-v', 'c1-key:/data'], 'echo via-key > /data/f');

      const outputs = [
        await a.dockerOk(['volume', 'inspect', 'c1-pw', 'c1-key']),
        await a.dockerOk(['volume', 'ls', '--format', '{{json .}}']),
        await a.dockerOk(['plugin', 'inspect', PLUGIN]),
        await a.dockerOk(['inspect', BUSYBOX]),
      ];
      const pw = await a.volumeInspect('c1-pw');
      assert.equal(pw.Options?.password_file, PASSWORD_FILE);
      assert.equal(pw.Status?.backend, 'sftp');
      const secrets = [sshd.password, ...keyBodyLines(sshd.clientKey().toString('utf8'))];
      assert.ok(secrets.length > 2, 'the private key has body lines to look for');
      const log = a.log();
      for (const secret of secrets) {
        for (const out of outputs) assert.ok(!out.includes(secret), `a secret (${secret.slice(0, 6)}...) appears in CLI output`);
        assert.ok(!log.includes(secret), `a secret (${secret.slice(0, 6)}...) appears in the engine log`);
      }
      await a.dockerOk(['volume', 'rm', 'c1-pw', 'c1-key']);
    });
  });
}

function withoutIdentity(o: Record<string, string>): Record<string, string> {
  const { identity: _drop, ...rest } = o;
  return rest;
}

/** The base64 lines of a PEM/OpenSSH private key (each one a piece of the secret). */
function keyBodyLines(pem: string): string[] {
  return pem
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length >= 16 && !l.startsWith('-----'));
}
