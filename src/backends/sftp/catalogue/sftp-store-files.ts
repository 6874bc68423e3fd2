import type SftpClient from 'ssh2-sftp-client';
import type { Connected } from '../control/control-connections';
import { forSftpClient } from '../remote-path';
import type { StoreFileInfo, StoreFiles } from './store-files';

export const isMissing = (error: unknown): boolean =>
  /no such file|ENOENT|No such/i.test(String((error as Error)?.message ?? error)) || (error as { code?: unknown })?.code === 2;

const kindOf = (type: string): StoreFileInfo['kind'] => (type === '-' ? 'file' : type === 'd' ? 'dir' : 'other');

/** StoreFiles over one SFTP connection (ssh2-sftp-client, and the raw channel for utimes). */
export class SftpStoreFiles implements StoreFiles {
  private readonly client: SftpClient;

  constructor(private readonly connected: Connected) {
    this.client = connected.client;
  }

  async stat(file: string): Promise<StoreFileInfo | undefined> {
    try {
      const stat = await this.client.stat(file);
      return { name: file, kind: stat.isDirectory ? 'dir' : stat.isFile ? 'file' : 'other', mtime: Math.floor(stat.modifyTime / 1000), size: stat.size };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async list(dir: string): Promise<StoreFileInfo[] | undefined> {
    try {
      const files = await this.client.list(dir);
      return files.map((file) => ({ name: file.name, kind: kindOf(file.type), mtime: Math.floor(file.modifyTime / 1000), size: file.size }));
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async read(file: string): Promise<Buffer | undefined> {
    try {
      return (await this.client.get(file)) as Buffer;
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async write(file: string, data: Buffer): Promise<void> {
    await this.client.put(data, file);
  }

  async rename(from: string, to: string): Promise<'moved' | 'exists' | 'missing'> {
    try {
      await this.client.rename(from, to);
      return 'moved';
    } catch (error) {
      // OpenSSH answers an existing target with a generic failure: look at what is there.
      if ((await this.client.exists(to)) !== false) return 'exists';
      if ((await this.client.exists(from)) === false) return 'missing';
      throw error;
    }
  }

  async replace(from: string, to: string): Promise<'moved' | 'missing'> {
    try {
      await this.client.posixRename(from, to);
      return 'moved';
    } catch (error) {
      if (isMissing(error) || (await this.client.exists(from)) === false) return 'missing';
      throw error;
    }
  }

  /**
   * ssh2-sftp-client checks, then creates; when another host made the directory in between,
   * OpenSSH answers with a generic failure (reported as "permission denied"). A directory
   * that exists after a failed mkdir is success.
   */
  async makeDir(dir: string): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        if ((await this.client.exists(dir)) === 'd') return;
        await this.client.mkdir(forSftpClient(dir), true);
        return;
      } catch (error) {
        if ((await this.client.exists(dir)) === 'd') return;
        // A parent made by the other host mid-way: the next round starts below it.
        if (attempt >= 3) throw error;
      }
    }
  }

  async unlink(file: string): Promise<void> {
    // `true`: a file that is not there is no failure.
    await this.client.delete(file, true);
  }

  async removeDir(dir: string): Promise<boolean> {
    try {
      await this.client.rmdir(forSftpClient(dir), false);
      return true;
    } catch {
      return false;
    }
  }

  setTimes(file: string, seconds: number): Promise<void> {
    return new Promise<void>((resolve, reject) => this.connected.sftp.utimes(file, seconds, seconds, (error) => (error ? reject(error) : resolve())));
  }
}
