import fs from 'node:fs/promises';

/** Removes `dir` if it is empty; one that is not empty, busy or already gone is left as it is. */
export async function removeEmptyDir(dir: string): Promise<void> {
  try {
    await fs.rmdir(dir);
  } catch {
    // ENOTEMPTY, EBUSY or ENOENT: either way nothing of ours to clean.
  }
}
