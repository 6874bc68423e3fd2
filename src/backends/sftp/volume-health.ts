import type { StatusMap } from '../backend';
import type { RemoteUsage } from './control/remote-usage';

interface Health {
  lastError?: string | undefined;
  usage?: RemoteUsage | undefined;
}

/**
 * What Status says of a volume beyond its settings: the last error of a Mount and the
 * server's space as last seen. Kept in memory only: Get never waits for a server.
 */
export class VolumeHealth {
  private readonly byVolume = new Map<string, Health>();

  note(name: string, update: Health): void {
    this.byVolume.set(name, { ...this.byVolume.get(name), ...update });
  }

  forget(name: string): void {
    this.byVolume.delete(name);
  }

  status(name: string): StatusMap {
    const health = this.byVolume.get(name);
    const status: StatusMap = {};
    if (health?.lastError !== undefined) status.lastError = health.lastError;
    if (health?.usage !== undefined) {
      status.usedBytes = health.usage.usedBytes;
      status.freeBytes = health.usage.freeBytes;
      status.totalBytes = health.usage.totalBytes;
    }
    return status;
  }
}
