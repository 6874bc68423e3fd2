import type { SFTPWrapper } from 'ssh2';

export interface RemoteUsage {
  totalBytes: number;
  freeBytes: number;
  usedBytes: number;
}

/** Space on the server's file system, when it speaks OpenSSH's statvfs extension. */
export function statvfs(sftp: SFTPWrapper, remotePath: string): Promise<RemoteUsage | undefined> {
  return new Promise((resolve) => {
    try {
      sftp.ext_openssh_statvfs(remotePath, (error, info: { frsize?: number; blocks?: number; bavail?: number; bfree?: number } | undefined) => {
        if (error || info?.frsize === undefined || info.blocks === undefined || info.bavail === undefined || info.bfree === undefined) {
          resolve(undefined);
          return;
        }
        const total = info.frsize * info.blocks;
        resolve({ totalBytes: total, freeBytes: info.frsize * info.bavail, usedBytes: total - info.frsize * info.bfree });
      });
    } catch {
      resolve(undefined); // the server does not offer the extension
    }
  });
}
