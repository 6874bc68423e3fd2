/** The benchmark's small process helpers; commands run with test/support/run.ts. */
import { run } from '../../../test/support/run';

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/** Flushes dirty pages and drops the page, dentry and inode caches of the whole machine. */
export async function dropCaches(): Promise<void> {
  await run('sync', []);
  await run('sh', ['-c', 'echo 3 > /proc/sys/vm/drop_caches']);
}
