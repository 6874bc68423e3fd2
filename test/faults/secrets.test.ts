import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { KEY_NAME, PASSWORD_FILE, sftpOptions } from '../support/sftp-fixtures';
import { withSshdAndDaemon } from '../support/sshd-and-daemon';

/** Every file under `dir`, except the keys directory the administrator filled and mounts (the server's files). */
function pluginFiles(dir: string, keysDir: string): string[] {
  const found: string[] = [];
  const device = fs.statSync(dir).dev;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (full === keysDir) continue;
    if (entry.isDirectory() && fs.statSync(full).dev === device) found.push(...pluginFiles(full, keysDir));
    else if (entry.isFile()) found.push(full);
  }
  return found;
}

describe('secrets stay in their files', function () {
  this.timeout(120_000);
  const fixture = withSshdAndDaemon({ prefix: 'dvs-secrets', env: { LOG_LEVEL: 'debug' } });

  it('after key and password volumes are used, no secret is in state, logs, files, replies, argv or environment', async () => {
    const { sshd, daemon } = fixture;
    const dirs = daemon.dirs;
    const keysDir = path.join(dirs.dataDir, 'keys');
    const { identity: _key, ...passwordOptions } = sftpOptions(sshd, 'with-password', { password_file: PASSWORD_FILE });
    await daemon.client.create('with-password', passwordOptions);
    await daemon.client.create('with-key', sftpOptions(sshd, 'with-key'));
    await daemon.client.err('/VolumeDriver.Create', { Name: 'bad', Opts: { ...passwordOptions, port: '1' } });
    await daemon.client.err('/VolumeDriver.Create', { Name: 'bad', Opts: { ...passwordOptions, password: sshd.password } });
    const mounted = [await daemon.client.mount('with-password', 'c'), await daemon.client.mount('with-key', 'c')];
    for (const mountpoint of mounted) fs.writeFileSync(path.join(mountpoint, 'f'), 'x');

    const keyText = fs.readFileSync(path.join(keysDir, KEY_NAME), 'utf8');
    // The body of the private key: any line of it is a secret.
    const keyLines = keyText.split('\n').filter((line) => line.length > 40 && !line.startsWith('-----'));
    const secrets = [sshd.password, ...keyLines];
    assert.ok(keyLines.length > 0);

    const places: [string, string][] = [
      ['Get', JSON.stringify([await daemon.client.get('with-password'), await daemon.client.get('with-key')])],
      ['List', JSON.stringify(await daemon.client.list())],
      ['logs', daemon.output],
      ...[...pluginFiles(dirs.dataDir, keysDir), ...pluginFiles(dirs.runDir, keysDir)].map((file): [string, string] => [file, fs.readFileSync(file, 'latin1')]),
    ];
    for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      for (const file of ['cmdline', 'environ']) {
        try {
          places.push([`/proc/${pid}/${file}`, fs.readFileSync(`/proc/${pid}/${file}`, 'latin1')]);
        } catch {
          // exited
        }
      }
    }
    assert.ok(places.length > 20);
    for (const [where, text] of places) {
      for (const secret of secrets) assert.ok(!text.includes(secret), `a secret was found in ${where}`);
    }
    for (const mountpoint of ['with-password', 'with-key']) await daemon.client.unmount(mountpoint, 'c');
  });
});
