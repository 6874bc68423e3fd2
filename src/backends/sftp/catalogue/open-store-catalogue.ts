import path from 'node:path';
import type { Logger } from '../../../log';
import { ControlConnections, type ControlTarget } from '../control/control-connections';
import type { HandshakeGate } from '../control/handshake-gate';
import type { AdministratorTrust } from '../control/host-trust';
import type { DefaultStore } from '../default-store';
import { controlTargetOf, resolveSettings, type SftpSettings } from '../sftp-settings';
import { CatalogueRemote, sftpSession } from './catalogue-remote';
import { loadHostIdentity } from './host-identity';
import { checkStoreRecord, RecordGate } from './record-checks';
import { StoreCatalogue } from './store-catalogue';

export interface StoreCatalogueConfig {
  dataDir: string;
  keysDir: string;
  /** How this host is named to the other hosts of the store. */
  hostName: string;
  leaseTtlSeconds: number;
  refreshSeconds: number;
  log: Logger;
}

/**
 * The catalogue's connections to the store at most (plus the heartbeat's). A queue on one
 * grows with the round trip: the marks of 40 first Mounts at once through 100 ms took about
 * 30 s on one connection, past a Mount's deadline (connect_timeout + 5 s).
 */
export const STORE_CONNECTIONS = 4;

/**
 * The default store's catalogue, its local copy loaded (so the daemon can answer Get before
 * it listens); undefined when the plugin has no default store. The store's login is worked
 * out once; its host key is trusted as the administrator says (the file is re-read only
 * when it changes).
 */
export async function openStoreCatalogue(
  store: DefaultStore,
  handshakes: HandshakeGate,
  trust: AdministratorTrust,
  config: StoreCatalogueConfig,
): Promise<StoreCatalogue | undefined> {
  if (store.host === undefined) return undefined;
  // Worked out at the first store operation: a daemon with an incomplete store still starts, and says why at each use.
  let settings: SftpSettings | undefined;
  const target = async (): Promise<ControlTarget> => {
    settings ??= resolveSettings({ name: 'catalogue', options: {}, mountpoint: '' }, store, config.keysDir);
    return controlTargetOf(settings, await trust.of(settings.hostkey));
  };
  const { host, instance, previousInstance } = await loadHostIdentity(config.dataDir, config.hostName);
  const records = new ControlConnections(handshakes, STORE_CONNECTIONS);
  const heartbeats = new ControlConnections(handshakes);
  const gate = new RecordGate((entry) => checkStoreRecord(entry, store, config.keysDir), config.log);
  const catalogue = new StoreCatalogue({
    remote: new CatalogueRemote(
      sftpSession(records, target, config.log),
      store.defaults.basePath ?? '.',
      host,
      instance,
      previousInstance,
      // The heartbeat's own connection (one more SSH login per host): never queued behind Mounts.
      sftpSession(heartbeats, target, config.log),
      gate,
    ),
    closeConnections: async () => {
      await Promise.all([records.closeAll(), heartbeats.closeAll()]);
    },
    host,
    admitsKept: (entry) => gate.admitsKept(entry),
    covers: (options) => store.holds(options),
    cacheFile: path.join(config.dataDir, 'catalogue-cache.json'),
    leaseTtlSeconds: config.leaseTtlSeconds,
    refreshSeconds: config.refreshSeconds,
    log: config.log,
  });
  await catalogue.load();
  config.log.info('store catalogue', { host: host.name, hostId: host.id });
  return catalogue;
}
