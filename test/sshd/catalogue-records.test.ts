import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { snapshotText } from '../../src/state/state-file';
import { delay, type DaemonProcess } from '../support/daemon-process';
import { eventually, KEY_NAME, sftpOptions } from '../support/sftp-fixtures';
import { withSshdAndDaemon } from '../support/sshd-and-daemon';

/**
 * Records on the store are input from whoever can write there (another host, any holder of
 * the store login, a container on a volume whose path is the catalogue): forged records,
 * written straight into the real sshd's store directory, are never listed, mounted or acted
 * on by a host, and each is named in one warning.
 */
describe('records on the store are input: forged ones are ignored (two daemons, a real sshd)', function () {
  this.timeout(120_000);
  // Hosts host-a and host-b of the store at 'store'; the catalogue is read in full every second.
  const fixture = withSshdAndDaemon({ prefix: 'dvs-rec', hosts: 2, store: 'store', env: { SFTP_CATALOGUE_REFRESH: '1' } });
  const HOST = { id: '0f6b1a52-3c8d-4e2f-9a71-5b2d8c4e6f10', name: 'host-z' };
  const names = async (host: DaemonProcess): Promise<string[]> => (await host.client.list()).map((v) => v.Name).sort();
  const volumesDir = (): string => fixture.sshd.serverPath('store', '.docker-volume-sftp', 'volumes');
  const forge = (file: string, record: Record<string, unknown>): void => {
    const where = path.join(volumesDir(), file);
    fs.writeFileSync(where, `${JSON.stringify({ createdAt: '2026-12-03T10:00:00.000Z', createdBy: HOST, ...record })}\n`);
    fs.chownSync(where, fixture.sshd.uid, fixture.sshd.gid);
  };
  const warnings = (host: DaemonProcess, file: string): Record<string, unknown>[] =>
    host.logLines().filter((entry) => entry.msg === 'store record ignored' && entry.file === `${fixture.sshd.serverPath('store')}/.docker-volume-sftp/volumes/${file}`);

  it('lists, mounts and acts on none of them, and warns once per file version naming each', async () => {
    const [sshd, hostA, hostB] = [fixture.sshd, fixture.host(0), fixture.host(1)];
    // Another server: a listener that counts connections.
    let connections = 0;
    const listener = net.createServer((socket) => ((connections += 1), socket.destroy()));
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const otherPort = (listener.address() as net.AddressInfo).port;
    try {
      await hostA.client.create('legit');
      const victim = await sshd.mkdirAsUser('victim');
      fs.writeFileSync(path.join(victim, 'keep'), 'data');
      const forged: [string, Record<string, unknown>][] = [
        // Another server, offered the hosts' private key file as a password.
        ['evil.json', { name: 'evil', options: { host: '127.0.0.1', port: String(otherPort), user: sshd.user, password_file: KEY_NAME, connections: '1', hostkey: `SHA256:${'Q'.repeat(43)}` } }],
        // remove=delete of a path elsewhere on the store's server.
        ['wipe.json', { name: 'wipe', options: { remove: 'delete', path: victim } }],
        // The catalogue itself as a volume.
        ['inside.json', { name: 'inside', options: { path: '.docker-volume-sftp', remove: 'delete' } }],
        // Control characters in the host name.
        ['ctl.json', { name: 'ctl', options: {}, createdBy: { id: HOST.id, name: 'host\u001b[31m\nb' } }],
        // Names from file names: ".." and a control character.
        ['...json', { name: '..', options: {} }],
        ['bell\u0007name.json', { name: 'bell\u0007name', options: {} }],
      ];
      for (const [file, record] of forged) forge(file, record);
      // A create moves the change marker: B reads the whole catalogue.
      await hostA.client.create('after');
      for (const host of [hostA, hostB]) await eventually('the hosts list the real volumes', async () => assert.deepEqual(await names(host), ['after', 'legit']));

      // Looked up by name (the engine asks every driver): not found, not mounted, not removed.
      for (const name of ['evil', 'wipe', 'inside', 'ctl']) {
        assert.match(await hostB.client.err('/VolumeDriver.Get', { Name: name }), /no such volume/, name);
        assert.match(await hostB.client.err('/VolumeDriver.Mount', { Name: name, ID: 'b' }), /no such volume/, name);
        assert.match(await hostB.client.err('/VolumeDriver.Remove', { Name: name }), /no such volume/, name);
      }
      assert.match(await hostB.client.err('/VolumeDriver.Get', { Name: '..' }), /invalid volume name/);
      assert.equal(connections, 0, 'a host connected to the server a forged record named');
      assert.equal(fs.readFileSync(path.join(victim, 'keep'), 'utf8'), 'data');
      assert.ok(fs.existsSync(path.join(volumesDir(), 'legit.json')), 'the catalogue was touched');
      // A create of a forged name on B meets the forged record: refused, and the record is not adopted.
      assert.match(await hostB.client.err('/VolumeDriver.Create', { Name: 'evil', Opts: {} }), /holds a record for volume evil .* that this host refuses/);
      assert.deepEqual(await names(hostB), ['after', 'legit']);

      // One warning per file, naming it, though the catalogue was read every second meanwhile.
      await delay(2500);
      const reasons: [string, RegExp][] = [
        ['evil.json', /names another server \(127\.0\.0\.1:\d+\), not this store/],
        ['wipe.json', /outside the plugin's base path/],
        ['inside.json', /inside \.docker-volume-sftp/],
        ['ctl.json', /createdBy is not a host identity/],
        ['...json', /file name does not give a volume name/],
        ['bell\u0007name.json', /file name does not give a volume name/],
      ];
      for (const host of [hostA, hostB]) {
        for (const [file, reason] of reasons) {
          const found = warnings(host, file);
          assert.equal(found.length, 1, `${file}: ${found.length} warnings on ${JSON.stringify(host.env.HOST_NAME)}`);
          assert.match(String(found[0]?.reason), reason, file);
        }
      }
      // A new version of a file is warned about again, once.
      forge('evil.json', { name: 'evil', options: { host: 'evil.example' } });
      await eventually('the new version is warned about', () => assert.equal(warnings(hostB, 'evil.json').length, 2), 5000);
      assert.match(String(warnings(hostB, 'evil.json')[1]?.reason), /names another server \(evil\.example:/);
    } finally {
      listener.close();
    }
  });

  it('mounts a volume on a server of its own whose path= ends in a slash, also after a restart', async () => {
    const sshd = fixture.sshd;
    // No default store and no base path: the path is used as given.
    const daemon = await fixture.addDaemon({ env: { SFTP_HOST: '', SFTP_BASE_PATH: '' } });
    await sshd.mkdirAsUser('own-slash');
    await daemon.client.create('own-slash', sftpOptions(sshd, 'own-slash', { path: `${sshd.serverPath('own-slash')}/` }));
    for (const id of ['first', 'after-restart']) {
      const mountpoint = await daemon.client.mount('own-slash', id);
      fs.writeFileSync(path.join(mountpoint, id), id);
      assert.equal(fs.readFileSync(sshd.serverPath('own-slash', id), 'utf8'), id);
      await daemon.client.unmount('own-slash', id);
      if (id === 'first') await daemon.restart();
    }
  });

  it('does not mount a volume this host knew with a path in the catalogue; removes it here without touching the store', async () => {
    const daemon = await fixture.addDaemon({ name: 'host-c' });
    await daemon.stop();
    // As an earlier version accepted it: the catalogue's directory as a volume, remove=delete.
    const known = { name: 'old-inside', backend: 'sftp', options: { path: '.docker-volume-sftp', remove: 'delete' }, createdAt: '2026-12-01T10:00:00.000Z', mounts: {} };
    fs.writeFileSync(path.join(daemon.dirs.dataDir, 'state.jsonl'), snapshotText([known]));
    await daemon.start();
    assert.match(await daemon.client.err('/VolumeDriver.Mount', { Name: 'old-inside', ID: 'c' }), /inside \.docker-volume-sftp, the store catalogue's directory/);
    await daemon.client.remove('old-inside');
    assert.ok(fs.existsSync(path.join(volumesDir(), 'legit.json')), 'the catalogue was deleted');
    assert.ok(!(await names(daemon)).includes('old-inside'));
  });

  it("refuses a Create whose path is the base path or the catalogue's directory", async () => {
    const hostA = fixture.host(0);
    for (const given of ['.', '.docker-volume-sftp', '.docker-volume-sftp/volumes', fixture.sshd.serverPath('store')]) {
      assert.match(await hostA.client.err('/VolumeDriver.Create', { Name: 'bad', Opts: { path: given } }), /base path .*itself|inside \.docker-volume-sftp/, given);
    }
    assert.ok(!(await names(hostA)).includes('bad'));
  });
});

describe('a store in the login directory, without SFTP_BASE_PATH (two daemons, a real sshd)', function () {
  this.timeout(120_000);
  // The server's own directory, so that its sftp sessions can start in a login directory of the test's own.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dvs-rec-sshd-'));
  const fixture = withSshdAndDaemon({
    prefix: 'dvs-rec-login',
    hosts: 2,
    store: 'store',
    env: { SFTP_BASE_PATH: '' },
    sshd: { dir, extraConfig: [`Subsystem sftp internal-sftp -d ${path.join(dir, 'root', 'store')}`] },
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const names = async (host: DaemonProcess): Promise<string[]> => (await host.client.list()).map((v) => v.Name).sort();

  it('mounts volumes whose path= ends in a slash: created here, after a restart, and from the record on another host', async () => {
    const [sshd, hostA, hostB] = [fixture.sshd, fixture.host(0), fixture.host(1)];
    await hostA.client.create('slashed', { path: 'slashed/' });
    await hostA.client.create('abs-slashed', { path: `${sshd.serverPath('store', 'abs-slashed')}/` });
    // The catalogue is in the login directory.
    assert.ok(fs.existsSync(sshd.serverPath('store', '.docker-volume-sftp', 'volumes', 'slashed.json')));
    for (const name of ['slashed', 'abs-slashed']) {
      const onA = await hostA.client.mount(name, 'a');
      fs.writeFileSync(path.join(onA, 'from-a'), name);
      await hostA.client.unmount(name, 'a');
    }
    await hostA.restart();
    await eventually('B lists the volumes', async () => assert.deepEqual(await names(hostB), ['abs-slashed', 'slashed']));
    for (const [host, id] of [[hostA, 'a'], [hostB, 'b']] as const) {
      for (const name of ['slashed', 'abs-slashed']) {
        const mountpoint = await host.client.mount(name, id);
        assert.equal(fs.readFileSync(path.join(mountpoint, 'from-a'), 'utf8'), name);
        await host.client.unmount(name, id);
      }
    }
  });

  it('makes and deletes a relative path starting with "." where it says (remove=delete), nothing beside it', async () => {
    const [sshd, hostA] = [fixture.sshd, fixture.host(0)];
    // ssh2-sftp-client read ".hidden" as "<login>/idden": the directory a wrong delete would take.
    const beside = await sshd.mkdirAsUser('store/idden');
    fs.writeFileSync(path.join(beside, 'keep'), 'data');
    await hostA.client.create('dot', { path: '.hidden', remove: 'delete' });
    const mountpoint = await hostA.client.mount('dot', 'a');
    fs.writeFileSync(path.join(mountpoint, 'f'), 'x');
    assert.equal(fs.readFileSync(sshd.serverPath('store', '.hidden', 'f'), 'utf8'), 'x');
    await hostA.client.unmount('dot', 'a');
    await hostA.client.remove('dot');
    assert.equal(fs.existsSync(sshd.serverPath('store', '.hidden')), false);
    assert.equal(fs.readFileSync(path.join(beside, 'keep'), 'utf8'), 'data');
  });

  it("refuses a path that is the login directory (it holds the catalogue), the server's root or the catalogue, also in records", async () => {
    const [sshd, hostA, hostB] = [fixture.sshd, fixture.host(0), fixture.host(1)];
    const refusals: [string, RegExp][] = [
      ['.', /the login directory itself/],
      ['./', /the login directory itself/],
      ['/', /the server's root directory/],
      ['.docker-volume-sftp', /inside \.docker-volume-sftp/],
      [sshd.serverPath('store', '.docker-volume-sftp'), /inside \.docker-volume-sftp/],
    ];
    for (const [given, reason] of refusals) {
      assert.match(await hostA.client.err('/VolumeDriver.Create', { Name: 'bad', Opts: { path: given, remove: 'delete' } }), reason, given);
    }
    // A record that makes the login directory a volume: never listed, mounted or removed.
    const record = sshd.serverPath('store', '.docker-volume-sftp', 'volumes', 'home.json');
    fs.writeFileSync(record, JSON.stringify({ name: 'home', options: { path: '.', remove: 'delete' }, createdAt: '2026-12-03T10:00:00.000Z', createdBy: { id: '0f6b1a52-3c8d-4e2f-9a71-5b2d8c4e6f10', name: 'host-z' } }));
    await hostA.client.create('marker');
    await eventually('B lists the real volume', async () => assert.ok((await names(hostB)).includes('marker')));
    assert.ok(!(await names(hostB)).includes('home'));
    assert.match(await hostB.client.err('/VolumeDriver.Mount', { Name: 'home', ID: 'b' }), /no such volume/);
    assert.match(await hostB.client.err('/VolumeDriver.Remove', { Name: 'home' }), /no such volume/);
    assert.ok(fs.existsSync(sshd.serverPath('store', '.docker-volume-sftp', 'volumes', 'marker.json')), 'the catalogue was touched');
    const warned = await hostB.waitForLog((entry) => entry.msg === 'store record ignored' && String(entry.file).endsWith('/home.json'));
    assert.match(String(warned.reason), /the login directory itself/);
  });
});
