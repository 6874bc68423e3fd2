/**
 * End-to-end tier: real private Docker Engines (scripts/engine), the real plugin built from
 * the Dockerfile (scripts/install, once) and installed from a local registry on the other
 * engines (scripts/registry, scripts/push, docker plugin install), a real OpenSSH sshd
 * (TestSshd), and busybox test containers. Run as root: `npm run test:e2e`.
 *
 * Everything lives in DVS_E2E_ROOT (default /run/dvs-e2e) and is stopped and deleted in the
 * root `after` hook and, failing that, on process exit. Engine logs are kept in
 * DVS_E2E_LOG_DIR (default /tmp/dvs-e2e-logs). DVS_E2E_VERBOSE=1 prints every command.
 * Select cases with mocha's --grep, e.g. `npm run test:e2e -- --grep 'case 5'`.
 *
 * DVS_E2E_ENGINE=debian13 (`npm run test:e2e:debian13`) runs the core cases on Debian 13's
 * docker.io (26.1) chrooted in debootstrapped trixie roots instead of this machine's engine,
 * plus case 12 (a bare Debian 13 host, the README's registry lines, volume-subpath).
 * DVS_E2E_ENGINE=arm64 (`npm run test:e2e:arm64`) runs case 13 alone: the arm64 plugin,
 * built and run under qemu-user emulation.
 */
import { volumeLifecycle } from './cases/c1-volumes';
import { sharingAndInUse } from './cases/c2-sharing';
import { engineRestart } from './cases/c3-engine-restart';
import { pluginLifecycle } from './cases/c4-plugin-lifecycle';
import { twoHosts } from './cases/c5-two-hosts';
import { composeAndSwarm } from './cases/c6-compose-swarm';
import { serverRestart } from './cases/c7-server-restart';
import { nonRootUser } from './cases/c8-non-root';
import { registryInstall } from './cases/c9-registry-install';
import { storeCatalogue } from './cases/c10-store-catalogue';
import { swarmAcrossHosts } from './cases/c11-swarm';
import { bareHost } from './cases/c12-bare-host';
import { arm64Plugin } from './cases/c13-arm64';
import { World } from './support/world';

describe(`e2e: docker-volume-sftp in real Docker engines (${World.flavour})`, function () {
  const world = new World();

  before(function () {
    if (typeof process.getuid === 'function' && process.getuid() !== 0) throw new Error('the e2e tier needs root (dockerd, mounts, sshd)');
  });

  after(async function () {
    this.timeout(600_000);
    try {
      await world.timings.measure('teardown: engines, registry, sshd', () => world.dispose());
    } finally {
      console.log(world.timings.report());
    }
  });

  if (World.flavour === 'arm64') {
    arm64Plugin(world);
    return;
  }
  if (World.flavour === 'debian13') {
    // The core cases: install, local and SFTP volumes, engine restart, plugin disable/enable
    // and upgrade, compose v2 and a swarm service, install from a registry; then a bare host.
    volumeLifecycle(world);
    engineRestart(world);
    pluginLifecycle(world);
    composeAndSwarm(world);
    registryInstall(world);
    bareHost(world);
    return;
  }
  volumeLifecycle(world);
  sharingAndInUse(world);
  engineRestart(world);
  pluginLifecycle(world);
  twoHosts(world);
  composeAndSwarm(world);
  serverRestart(world);
  nonRootUser(world);
  registryInstall(world);
  storeCatalogue(world);
  swarmAcrossHosts(world);
});
