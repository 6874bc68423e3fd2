import fs from 'node:fs';
import path from 'node:path';
import type { Backend } from '../../src/backends/backend';
import { BackendRegistry } from '../../src/backends/registry';
import type { Logger } from '../../src/log';
import { VolumeService, type VolumeServiceDeps } from '../../src/service/volume-service';
import { VolumeTable } from '../../src/service/volume-table';
import { readStateFile, STATE_FILE_NAME } from '../../src/state/state-file';
import { StateJournal } from '../../src/state/state-journal';
import type { VolumeRecord } from '../../src/state/volume-record';

export interface ServiceOnDisk {
  service: VolumeService;
  table: VolumeTable;
  dataDir: string;
  /** The volumes the state file holds now, read as a start would read them. */
  saved(): Promise<Map<string, VolumeRecord>>;
  /** Puts a file where the data directory was: every later write of the journal fails. */
  breakDataDir(): void;
}

/** Deps a test may set: the engine's Mount deadline and the clock it is measured with. */
export type ServiceTimeDeps = Partial<Pick<VolumeServiceDeps, 'mountDeadlineMs' | 'now'>>;

/** A real VolumeService over a real VolumeTable and StateJournal in `dir`, wired as src/daemon.ts does. */
export async function serviceOnDisk(dir: string, backends: readonly [Backend, ...Backend[]], log: Logger, time: ServiceTimeDeps = {}): Promise<ServiceOnDisk> {
  const dataDir = path.join(dir, 'data');
  fs.mkdirSync(dataDir, { recursive: true });
  const stateFile = path.join(dataDir, STATE_FILE_NAME);
  const registry = new BackendRegistry(backends);
  const loaded = await readStateFile(stateFile, registry.kinds());
  const journal = StateJournal.open(stateFile, () => loaded.volumes.values(), loaded);
  const table = new VolumeTable(loaded.volumes, journal);
  return {
    service: new VolumeService({ table, registry, mountRoot: path.join(dir, 'mnt'), log, ...time }),
    table,
    dataDir,
    saved: async () => (await readStateFile(stateFile, registry.kinds())).volumes,
    breakDataDir: () => {
      fs.rmSync(dataDir, { recursive: true });
      fs.writeFileSync(dataDir, 'not a directory');
    },
  };
}
