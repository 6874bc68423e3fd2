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
  const backends = new BackendRegistry([new LocalBackend(config.dataDir, log), new SftpBackend(config.dataDir, config.sftpDefaults, log)]);
  const service = new VolumeService({
    volumes,
    journal,
    backends,
    mountRoot: config.mountRoot,
    hasDefaultStore: config.sftpDefaults.host !== undefined,
    log,
  });

  const server = await listenOnSocket(config.socketPath, createApp({ service, log }));
  log.info('listening', { socket: config.socketPath, volumes: volumes.size });
  const recovery = service.recover();

  return {
    service,
    server,
    async stop() {
      await closeServer(server);
      await recovery;
      await service.drain();
      await journal.close();
      await Promise.all(backends.all().map((backend) => backend.close?.()));
      await fs.rm(config.socketPath, { force: true });
    },
  };
}
