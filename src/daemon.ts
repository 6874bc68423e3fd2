import fs from 'fs-extra';
import path from 'node:path';
import type http from 'node:http';
import { LocalBackend } from './backends/local/local-backend';
import { BackendRegistry } from './backends/registry';
import { SftpBackend } from './backends/sftp/sftp-backend';
import type { Config } from './config';
import type { Logger } from './log';
import { createApp } from './protocol/app';
import { closeServer, listenOnSocket } from './protocol/socket-server';
import { VolumeService } from './service/volume-service';
import { VolumeTable } from './service/volume-table';
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
  const sftp = await SftpBackend.open({
    dataDir: config.dataDir,
    runDir: config.runDir,
    env: config.sftpEnv,
    idleUnmountSeconds: config.sftpIdleUnmountSeconds,
    hostName: config.hostName,
    leaseTtlSeconds: config.leaseTtlSeconds,
    catalogueRefreshSeconds: config.catalogueRefreshSeconds,
    log,
  });
  const backends = new BackendRegistry([new LocalBackend(config.dataDir, config.mountRoot, log), sftp]);
  const stateFile = path.join(config.dataDir, STATE_FILE_NAME);
  const loaded = await readStateFile(stateFile, backends.kinds());
  if (loaded.tornTailBytes > 0) log.warn('dropping an unfinished last change from the state file', { bytes: loaded.tornTailBytes });
  const journal = StateJournal.open(stateFile, () => loaded.volumes.values(), loaded);
  const service = new VolumeService({ table: new VolumeTable(loaded.volumes, journal), registry: backends, mountRoot: config.mountRoot, log });

  const server = await listenOnSocket(config.socketPath, createApp({ driver: service, log }));
  log.info('listening', { socket: config.socketPath, volumes: loaded.volumes.size, scope: service.scope });
  const recovery = service.recover();
  service.sharing.start();

  return {
    service,
    server,
    async stop() {
      service.sharing.stop();
      await closeServer(server);
      await recovery;
      await service.drain();
      await service.releaseIdleMounts();
      await journal.close();
      await Promise.all(backends.all().map((backend) => backend.close?.() ?? Promise.resolve()));
      await fs.rm(config.socketPath, { force: true });
    },
  };
}
