import fs from 'fs-extra';
import path from 'node:path';
import type http from 'node:http';
import { LocalBackend } from './backends/local/local-backend';
import { BackendRegistry } from './backends/registry';
import { SftpBackend } from './backends/sftp/sftp-backend';
import type { Config } from './config';
import { CatalogueRemote } from './catalogue/catalogue-remote';
import { loadHostIdentity } from './catalogue/host-identity';
import { StoreCatalogue } from './catalogue/store-catalogue';
import type { Logger } from './log';
import { createApp } from './protocol/app';
import { closeServer, listenOnSocket } from './protocol/socket-server';
import { VolumeService } from './service/volume-service';
import { STATE_FILE_NAME, readStateFile } from './state/state-file';
import { StateJournal } from './state/state-journal';

export interface RunningDaemon {
  service: VolumeService;
  server: http.Server;
  /** Stops accepting, finishes calls in flight, saves, and releases backend resources. */
  stop(): Promise<void>;
}

/** Loads state, then listens: Docker's first Get after a restart must find every volume. */
export async function startDaemon(config: Config, log: Logger): Promise<RunningDaemon> {
  await fs.mkdirp(config.dataDir, { mode: 0o700 });
  await fs.mkdirp(config.mountRoot);
  const stateFile = path.join(config.dataDir, STATE_FILE_NAME);
  const loaded = await readStateFile(stateFile);
  const volumes = loaded.volumes;
  if (loaded.tornTailBytes > 0) log.warn('dropping an unfinished last change from the state file', { bytes: loaded.tornTailBytes });
  const journal = await StateJournal.open(stateFile, () => volumes.values(), loaded);
  await fs.mkdirp(path.join(config.dataDir, 'keys'), { mode: 0o700 });
  const sftp = new SftpBackend(config.dataDir, config.sftpDefaults, log, config.sftpIdleUnmountSeconds);
  const backends = new BackendRegistry([new LocalBackend(config.dataDir, config.mountRoot, log), sftp]);
  const catalogue = await openCatalogue(config, sftp, log);
  const service = new VolumeService({
    volumes,
    catalogue,
    journal,
    backends,
    mountRoot: config.mountRoot,
    hasDefaultStore: config.sftpDefaults.host !== undefined,
    log,
  });

  const scope = catalogue === undefined ? 'local' : 'global';
  const server = await listenOnSocket(config.socketPath, createApp({ service, log, scope: () => scope }));
  log.info('listening', { socket: config.socketPath, volumes: volumes.size, scope });
  const recovery = service.recover();
  if (catalogue !== undefined) {
    catalogue.onRemovedElsewhere = (name) => void service.forgetRemovedElsewhere(name).catch(() => undefined);
    catalogue.start();
  }

  return {
    service,
    server,
    async stop() {
      catalogue?.stop();
      await closeServer(server);
      await recovery;
      await service.drain();
      await service.releaseIdleMounts();
      await journal.close();
      await Promise.all(backends.all().map((backend) => backend.close?.()));
      await fs.rm(config.socketPath, { force: true });
    },
  };
}

/**
 * With a default store (SFTP_HOST), the store keeps the catalogue of its volumes, so every
 * host of the store sees them. Its local copy is loaded before the socket listens.
 */
async function openCatalogue(config: Config, sftp: SftpBackend, log: Logger): Promise<StoreCatalogue | undefined> {
  const defaults = config.sftpDefaults;
  if (defaults.host === undefined) return undefined;
  const host = await loadHostIdentity(config.dataDir);
  const remote = new CatalogueRemote(sftp.connections, () => sftp.defaultStoreTarget(), defaults.basePath ?? '.', host);
  const catalogue = new StoreCatalogue({
    remote,
    host,
    covers: (kind, options) =>
      kind === 'sftp' && (options.host === undefined || options.host === defaults.host) && (options.port === undefined || options.port === (defaults.port ?? '22')),
    cacheFile: path.join(config.dataDir, 'catalogue-cache.json'),
    leaseTtlSeconds: config.leaseTtlSeconds,
    refreshSeconds: config.catalogueRefreshSeconds,
    log,
  });
  await catalogue.load();
  log.info('store catalogue', { host: host.name, hostId: host.id });
  return catalogue;
}
