/** A daemon as a host of the default store on the bench's sshd, stopped and cleaned up with the suite. */
import { cleanup, type DaemonProcess } from '../../test/support/daemon-process';
import { startStoreHost } from '../../test/support/sftp-fixtures';
import type { TestSshd } from '../../test/support/sshd';
import type { Cleanup, Held } from './cleanup';

/** Starts host `name` of the store in `store/` with debug logging (its store operations are counted); `held` gets its release. */
export async function heldStoreHost(sshd: TestSshd, cleanupPath: Cleanup, held: Held[], name: string, env: Record<string, string> = {}): Promise<DaemonProcess> {
  const daemon = await startStoreHost(sshd, name, 'store', { LOG_LEVEL: 'debug', ...env });
  held.push(
    cleanupPath.hold(`daemon ${name}`, async () => {
      await daemon.stop();
      cleanup(daemon.dirs.base);
    }),
  );
  return daemon;
}
