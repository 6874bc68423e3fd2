/**
 * The file operations the store catalogue makes on the store, and nothing more: the real
 * ones run over SFTP (catalogue-remote.ts), a fake runs them in memory for the protocol's
 * simulation test (test/support/simulated-store.ts). Every "missing" is an answer, never an
 * error; any other failure throws.
 */
export interface StoreFileInfo {
  name: string;
  kind: 'file' | 'dir' | 'other';
  /** Server-side modification time in whole seconds (SFTP's resolution), by the server's clock. */
  mtime: number;
  size: number;
}

export interface StoreFiles {
  stat(file: string): Promise<StoreFileInfo | undefined>;
  /** The entries of `dir`; undefined when the directory is missing. */
  list(dir: string): Promise<StoreFileInfo[] | undefined>;
  read(file: string): Promise<Buffer | undefined>;
  /** Creates or truncates `file` (callers write a temp file, then rename it into place). */
  write(file: string, data: Buffer): Promise<void>;
  /** SFTP rename: never replaces. 'exists' when `to` is there, 'missing' when `from` is not. */
  rename(from: string, to: string): Promise<'moved' | 'exists' | 'missing'>;
  /** posix-rename: replaces `to` in one step. 'missing' when `from` is not there. */
  replace(from: string, to: string): Promise<'moved' | 'missing'>;
  /** mkdir -p that other hosts may race: a directory that exists afterwards is success. */
  makeDir(dir: string): Promise<void>;
  /** Removes a file; one that is not there is no failure. */
  unlink(file: string): Promise<void>;
  /** Removes an empty directory; false when it is missing or not empty. */
  removeDir(dir: string): Promise<boolean>;
  /** Sets the times of a file this login owns (only the owner may set explicit times). */
  setTimes(file: string, seconds: number): Promise<void>;
}
