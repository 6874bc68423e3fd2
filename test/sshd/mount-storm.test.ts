import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { keyNameOf } from '../support/sftp-fixtures';
import { withSshdAndDaemon } from '../support/sshd-and-daemon';

const PER_SERVER = 100;
/** Users' servers are not on loopback: at 100 ms a handshake takes long enough for a storm to pile up. */
const RTT_MS = 20;

/**
 * A mount storm against stock sshd settings (MaxStartups 10:30:100 drops new unauthenticated
 * connections at random once 10 are in flight): what an engine restart with many
 * restart=always containers, or a Swarm node taking tasks, does to a server.
 */
describe('a storm of 200 simultaneous Mounts over two servers with stock MaxStartups', function () {
  this.timeout(600_000);
  // Before the fixture's after hook, which removes the servers' logs.
  after(() => {
    for (const sshd of storm.servers) {
      const dropped = (sshd.log().match(/drop connection|beginning MaxStartups throttling/g) ?? []).length;
      console.log(`      sshd ${sshd.port}: ${dropped} log lines of MaxStartups throttling or dropped connections`);
    }
  });
  const storm = withSshdAndDaemon({ prefix: 'dvs-storm', env: { SFTP_IDLE_UNMOUNT: '0' }, servers: 2, sshd: { extraConfig: ['MaxStartups 10:30:100'] }, latencyMs: RTT_MS });

  it('mounts every volume, and every one takes a write', async () => {
    const { servers, proxies, daemon } = storm;
    const volumes = servers.flatMap((sshd, s) =>
      Array.from({ length: PER_SERVER }, (_, i) => ({
        sshd,
        name: `storm-${s}-${i}`,
        options: {
          host: sshd.host,
          port: String(proxies[s]?.port),
          user: sshd.user,
          identity: keyNameOf(s),
          hostkey: sshd.hostKeyFingerprint,
          path: sshd.serverPath(`storm-${i}`),
        },
      })),
    );
    for (const v of volumes) await daemon.client.create(v.name, v.options);

    const started = Date.now();
    const replies = await Promise.all(volumes.map((v) => daemon.client.call('/VolumeDriver.Mount', { Name: v.name, ID: 'storm' })));
    const seconds = (Date.now() - started) / 1000;
    const failed = replies.map((reply, i) => [volumes[i]?.name, reply.body.Err]).filter(([, err]) => err !== '');
    console.log(`      ${replies.length} Mounts in ${seconds.toFixed(1)} s; ${failed.length} failed${failed.length > 0 ? `: ${JSON.stringify(failed.slice(0, 3))}` : ''}`);
    assert.deepEqual(failed, []);

    await Promise.all(
      volumes.map(async (v, i) => {
        const mountpoint = String(replies[i]?.body.Mountpoint);
        await fs.promises.writeFile(path.join(mountpoint, 'written'), v.name);
      }),
    );
    // Shared sshfs per server: its connections (`connections`=4) and the control connection.
    const held = servers.map((sshd) => sshd.connectionCount());
    console.log(`      SSH connections held by each server after the writes: ${held.join(', ')}`);
    for (const count of held) assert.ok(count <= 2 * 4, `a server holds ${count} connections for ${PER_SERVER} volumes of one host`);
    for (const v of volumes) assert.equal(fs.readFileSync(v.sshd.serverPath(v.options.path.split('/').pop() ?? '', 'written'), 'utf8'), v.name);
    for (const v of volumes) await daemon.client.unmount(v.name, 'storm');
  });
});
