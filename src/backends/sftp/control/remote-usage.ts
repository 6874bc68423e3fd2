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
      // ssh2 names the fields after struct statvfs: f_frsize, f_blocks, ...
      sftp.ext_openssh_statvfs(remotePath, (error, info: Partial<Record<'f_frsize' | 'f_blocks' | 'f_bavail' | 'f_bfree', number>> | undefined) => {
        const { f_frsize: unit, f_blocks: blocks, f_bavail: available, f_bfree: free } = info ?? {};
        if (error || unit === undefined || blocks === undefined || available === undefined || free === undefined) {
          resolve(undefined);
          return;
        }
        resolve({ totalBytes: unit * blocks, freeBytes: unit * available, usedBytes: unit * (blocks - free) });
      });
    } catch {
      resolve(undefined); // the server does not offer the extension
    }
  });
}
