import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { delay } from '../support/daemon-process';
import { eventually } from '../support/eventually';
import { withSshdAndDaemon } from '../support/sshd-and-daemon';

const errOf = (body: Record<string, unknown>): string => (typeof body.Err === 'string' ? body.Err : '');

/**
 * Leases that hold (issue 19 #3, docs/catalogue-protocol.md "Leases"): daemons as hosts of
 * one store on a real sshd, host A behind a latency proxy.
 */
describe('store catalogue leases under load and when renewal is impossible (daemons, a real sshd)', function () {
  this.timeout(10 * 60_000);
  const fixture = withSshdAndDaemon({ prefix: 'dvs-lease', hosts: 0, store: 'store', latencyMs: 100, perTest: true, env: { LOG_LEVEL: 'warn' } });

  it('mounts 40 store volumes at once through a 100 ms RTT line, each within connect_timeout + 5 s, and keeps them for 90 s: B removes none of the 40', async () => {
    const proxyPort = String(fixture.proxies[0]?.port);
    const a = await fixture.addDaemon({ name: 'host-a', env: { SFTP_PORT: proxyPort, SFTP_IDLE_UNMOUNT: '0' } });
    const b = await fixture.addDaemon({ name: 'host-b' });
    const names = Array.from({ length: 40 }, (_, index) => `busy${index}`);
    for (const name of names) await a.client.create(name);
    // All at once, as `docker compose up` starts them: on one control connection their store
    // writes queued for ~30 s, past connect_timeout + 5 s (15 s), which bounds each Mount.
    const took = await Promise.all(
      names.map(async (name) => {
        const started = Date.now();
        const err = errOf((await a.client.call('/VolumeDriver.Mount', { Name: name, ID: `c-${name}` })).body);
        return { name, err, ms: Date.now() - started };
      }),
    );
    const slowest = Math.max(...took.map((mount) => mount.ms));
    console.log(`      40 first Mounts at once through 100 ms: the slowest took ${slowest} ms`);
    assert.deepEqual(took.filter((mount) => mount.err !== ''), [], 'every Mount succeeded');
    assert.ok(slowest < 15_000, `every Mount ended within connect_timeout + 5 s (slowest ${slowest} ms)`);
    await delay(90_000);
    const refused: string[] = [];
    for (const name of names) {
      const err = errOf((await b.client.call('/VolumeDriver.Remove', { Name: name })).body);
      if (/is mounted on host-a/.test(err)) refused.push(name);
    }
    console.log(`      B's Remove refused for ${refused.length} of 40 after 90 s`);
    assert.equal(refused.length, 40, `B removed ${names.filter((name) => !refused.includes(name)).join(', ')} while A had them mounted`);
    for (const name of names) assert.ok(fs.existsSync(fixture.sshd.serverPath('store', '.docker-volume-sftp', 'volumes', `${name}.json`)), `record of ${name}`);
  });

  it('says in Status that renewal fails, refuses first Mounts, and B cannot remove the volume before the TTL has passed', async () => {
    const ttl = 6;
    const env = { SFTP_LEASE_TTL: String(ttl) };
    const a = await fixture.addDaemon({ name: 'host-a', env });
    const b = await fixture.addDaemon({ name: 'host-b', env });
    await a.client.create('held');
    await a.client.create('later');
    await a.client.mount('held', 'c1');
    // A's heartbeat goes through a temp file of its own: a directory in its place makes renewal impossible on the server.
    const read = (file: string): string => fs.readFileSync(path.join(a.dirs.dataDir, file), 'utf8').trim();
    const heartbeat = fixture.sshd.serverPath('store', '.docker-volume-sftp', 'hosts', `${read('host-id')}.json`);
    // The temp file itself is there while a renewal is being written: that one ends first.
    await eventually('a renewal being written to end', () => fs.mkdirSync(`${heartbeat}.${read('host-instance')}.tmp`), 10_000);
    // The TTL counts from A's last renewal (the heartbeat's mtime), up to one renewal interval
    // (TTL/3) before renewal became impossible: B may remove that much sooner after `blocked`.
    const blocked = Date.now();
    const lastRenewal = fs.statSync(heartbeat).mtimeMs;
    let refusals = 0;
    let removedAt: number | undefined;
    while (removedAt === undefined && Date.now() - blocked < 60_000) {
      const err = errOf((await b.client.call('/VolumeDriver.Remove', { Name: 'held' })).body);
      if (err === '') removedAt = Date.now();
      else {
        assert.match(err, /volume held is mounted on host-a/);
        refusals += 1;
      }
      await delay(500);
    }
    assert.ok(removedAt !== undefined, 'B never removed the volume of a host that cannot renew');
    assert.ok(removedAt - lastRenewal >= ttl * 1000, `B removed it ${Math.round(removedAt - lastRenewal)} ms after A's last renewal (TTL ${ttl} s)`);
    assert.ok(refusals > 0, 'B refused while the lease was young');
    const status = (await a.client.get('held')).Status as Record<string, unknown>;
    assert.match(String(status.storeProblem), /could not renew its heartbeat on the store for \d+ s/);
    assert.match(await a.client.err('/VolumeDriver.Mount', { Name: 'later', ID: 'c2' }), /first Mounts are refused until it can/);
    await a.waitForLog((entry) => entry.msg === 'store lease not renewed');
  });
});
