import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { delay, type DaemonProcess } from '../support/daemon-process';
import { eventually } from '../support/sftp-fixtures';
import { withSshdAndDaemon } from '../support/sshd-and-daemon';
import { TestSshd } from '../support/sshd';

const LEASE_TTL = 3;

describe('one catalogue for every host of a store (two daemons, a real sshd)', function () {
  this.timeout(120_000);
  // Hosts host-a and host-b of the store at 'store'.
  const fixture = withSshdAndDaemon({ prefix: 'dvs-cat', hosts: 2, store: 'store', env: { SFTP_LEASE_TTL: String(LEASE_TTL) }, perTest: true });
  const names = async (host: DaemonProcess): Promise<string[]> => (await host.client.list()).map((v) => v.Name).sort();

  it('creates once and runs on any host: B lists, inspects and mounts a volume only A created', async () => {
    const [sshd, hostA, hostB] = [fixture.sshd, fixture.host(0), fixture.host(1)];
    assert.deepEqual(await hostA.client.ok('/VolumeDriver.Capabilities'), { Capabilities: { Scope: 'global' } });
    await hostA.client.create('shared');
    const onA = await hostA.client.mount('shared', 'a');
    fs.writeFileSync(path.join(onA, 'from-a'), 'hello');
    await eventually('B lists the volume', async () => assert.deepEqual(await names(hostB), ['shared']));
    const volume = await hostB.client.get('shared');
    assert.equal((volume.Status as Record<string, unknown>).createdBy, 'host-a');
    assert.match(String((volume.Status as Record<string, unknown>).catalogue), /read from the store [\d.]+ s ago/);
    const onB = await hostB.client.mount('shared', 'b');
    assert.equal(fs.readFileSync(path.join(onB, 'from-a'), 'utf8'), 'hello');
    assert.equal((await hostB.client.get('shared')).CreatedAt, volume.CreatedAt);
    await hostA.client.unmount('shared', 'a');
    await hostB.client.unmount('shared', 'b');
    // The record is a file beside the data on the server.
    const record = JSON.parse(fs.readFileSync(sshd.serverPath('store', '.docker-volume-sftp', 'volumes', 'shared.json'), 'utf8')) as { createdBy: { name: string } };
    assert.equal(record.createdBy.name, 'host-a');
  });

  it('settles a simultaneous create of one name to one definition', async () => {
    const [sshd, hostA, hostB] = [fixture.sshd, fixture.host(0), fixture.host(1)];
    await Promise.all([hostA.client.create('race'), hostB.client.create('race')]);
    const [a, b] = [await hostA.client.get('race'), await hostB.client.get('race')];
    assert.equal(a.CreatedAt, b.CreatedAt);
    const creators = new Set([(a.Status as Record<string, unknown>).createdBy, (b.Status as Record<string, unknown>).createdBy]);
    assert.equal(creators.size, 1, 'two definitions of one name');

    // Other options: the store's definition wins on both hosts, and the overruled Create says so.
    const replies = await Promise.all([
      hostA.client.call('/VolumeDriver.Create', { Name: 'clash', Opts: { readonly: 'true' } }),
      hostB.client.call('/VolumeDriver.Create', { Name: 'clash', Opts: { cache_timeout: '5' } }),
    ]);
    assert.deepEqual(replies.map((reply) => reply.body.Err), ['', ''], JSON.stringify(replies.map((r) => r.body)));
    const statuses = [(await hostA.client.get('clash')).Status, (await hostB.client.get('clash')).Status] as Record<string, unknown>[];
    assert.equal(statuses[0]?.options, statuses[1]?.options, 'two definitions of one name');
    const overruled = statuses.filter((status) => status.ignoredOptions !== undefined);
    assert.equal(overruled.length, 1, JSON.stringify(statuses));
    assert.match(String(overruled[0]?.ignoredOptions), /^(readonly=true|cache_timeout=5) \(the store's definition is used\)$/);
    await (statuses[0]?.ignoredOptions === undefined ? hostB : hostA).waitForLog((entry) => entry.msg === 'create options differ from the store catalogue; its definition is used' && entry.volume === 'clash');

    // The loser of such a race must leave the winner's directory on the server alone.
    const names = Array.from({ length: 10 }, (_, i) => `clash${i}`);
    await Promise.all(
      names.map(async (name) => {
        const replies = await Promise.all([
          hostA.client.call('/VolumeDriver.Create', { Name: name, Opts: { readonly: 'false' } }),
          hostB.client.call('/VolumeDriver.Create', { Name: name, Opts: { cache_timeout: '2' } }),
        ]);
        assert.deepEqual(replies.map((reply) => reply.body.Err), ['', ''], name);
      }),
    );
    for (const name of names) {
      assert.ok(fs.statSync(sshd.serverPath('store', name)).isDirectory(), `${name}: the winner's directory was deleted`);
      for (const [host, id] of [[hostA, 'a'], [hostB, 'b']] as const) {
        const mountpoint = await host.client.mount(name, id);
        fs.writeFileSync(path.join(mountpoint, `from-${id}`), id);
        await host.client.unmount(name, id);
      }
      assert.deepEqual(fs.readdirSync(sshd.serverPath('store', name)).sort(), ['from-a', 'from-b']);
    }
  });

  it('refuses Remove while another host has the volume mounted, naming it', async () => {
    const [sshd, hostA, hostB] = [fixture.sshd, fixture.host(0), fixture.host(1)];
    await hostA.client.create('busy');
    await eventually('B sees it', async () => assert.ok((await names(hostB)).includes('busy')));
    await hostB.client.mount('busy', 'b');
    const err = await hostA.client.err('/VolumeDriver.Remove', { Name: 'busy' });
    assert.match(err, /volume busy is mounted on host-b \(host ID [0-9a-f]{8}, lease renewed \d+ s ago\)/);
    assert.ok(fs.existsSync(sshd.serverPath('store', '.docker-volume-sftp', 'volumes', 'busy.json')));
    await hostB.client.unmount('busy', 'b');
    // B drops its lease in the background of its Unmount: A's Remove succeeds once it is gone.
    await eventually('Remove on A after B unmounted', async () => assert.equal((await hostA.client.call('/VolumeDriver.Remove', { Name: 'busy' })).body.Err, ''));
    await eventually('B forgets it', async () => assert.deepEqual(await names(hostB), []));
    assert.ok(fs.existsSync(sshd.serverPath('store', 'busy')), 'remote data deleted without remove=delete');
  });

  it('stops counting a host that died holding a lease once the lease expires', async () => {
    const [sshd, hostA, hostB] = [fixture.sshd, fixture.host(0), fixture.host(1)];
    await hostA.client.create('orphaned');
    await eventually('B sees it', async () => assert.ok((await names(hostB)).includes('orphaned')));
    await hostB.client.mount('orphaned', 'b');
    await hostB.kill9();
    assert.match(await hostA.client.err('/VolumeDriver.Remove', { Name: 'orphaned' }), /mounted on host-b/);
    // A dead host counts until the TTL and a margin (2 s at least) have passed since its last heartbeat.
    await delay((LEASE_TTL + 3) * 1000);
    await hostA.client.remove('orphaned');
    assert.equal(fs.existsSync(sshd.serverPath('store', '.docker-volume-sftp', 'volumes', 'orphaned.json')), false);
  });

  it('answers Get and List from the local copy while the server is down, saying how old it is', async () => {
    const [sshd, hostA, hostB] = [fixture.sshd, fixture.host(0), fixture.host(1)];
    await hostA.client.create('cached');
    await eventually('B sees it', async () => assert.ok((await names(hostB)).includes('cached')));
    await sshd.kill();
    await delay(2500);
    const started = Date.now();
    assert.deepEqual(await names(hostB), ['cached']);
    const status = (await hostB.client.get('cached')).Status as Record<string, unknown>;
    assert.ok(Date.now() - started < 200, 'Get and List waited for the server');
    const age = Number(/read from the store ([\d.]+) s ago/.exec(String(status.catalogue))?.[1]);
    assert.ok(age >= 2, `catalogue age ${age} s while the server has been down 2.5 s`);
    // A restart while the server is still down starts from the saved copy.
    await hostB.restart();
    assert.deepEqual(await names(hostB), ['cached']);
    assert.match(await hostB.client.err('/VolumeDriver.Remove', { Name: 'cached' }), /cannot withdraw volume cached from the store: .*nothing was removed, try again when the store answers/);
  });

  it('keeps volumes with explicit options of another server local to their host', async () => {
    const [hostA, hostB] = [fixture.host(0), fixture.host(1)];
    await hostA.client.create('mine', { backend: 'local' });
    await delay(1500);
    assert.deepEqual(await names(hostB), []);
  });

  it('takes a volume on the default host but another port for a server of its own: no default login, not in the catalogue', async () => {
    const [sshd, hostA, hostB] = [fixture.sshd, fixture.host(0), fixture.host(1)];
    const other = await TestSshd.start();
    try {
      await other.writeClientKeyInto(path.join(hostA.dirs.dataDir, 'keys'), 'id_other');
      // The plugin's user and key belong to the default store, not to this server.
      const noUser = await hostA.client.err('/VolumeDriver.Create', { Name: 'elsewhere', Opts: { port: String(other.port) } });
      assert.match(noUser, /needs a user: add -o user=NAME$/);
      await other.mkdirAsUser('vol');
      const opts = { port: String(other.port), user: other.user, identity: 'id_other', hostkey: other.hostKeyFingerprint, path: other.serverPath('vol') };
      await hostA.client.create('elsewhere', opts);
      const mountpoint = await hostA.client.mount('elsewhere', 'a');
      fs.writeFileSync(path.join(mountpoint, 'f'), 'other server');
      assert.equal(fs.readFileSync(other.serverPath('vol', 'f'), 'utf8'), 'other server');
      await hostA.client.unmount('elsewhere', 'a');
      await delay(1500);
      assert.deepEqual(await names(hostB), []);
      assert.equal(fs.existsSync(sshd.serverPath('store', '.docker-volume-sftp', 'volumes', 'elsewhere.json')), false);
    } finally {
      await other.dispose();
    }
  });
});
