import fs from 'node:fs/promises';
import { PluginError } from '../../../errors';

/**
 * A secret file named by an option (identity, password_file): it must exist, be a regular
 * file and be readable by its owner only, as ssh demands of keys. Read into memory for one
 * use; its content is never logged, kept in state or part of a name.
 */
export async function readSecretFile(file: string, option: string): Promise<Buffer> {
  let stat;
  try {
    stat = await fs.stat(file);
  } catch {
    throw new PluginError('BAD_OPTION', `the file named by ${option} does not exist: ${file}; put it in the plugin's keys directory`);
  }
  if (!stat.isFile()) throw new PluginError('BAD_OPTION', `${file} (${option}) is not a regular file`);
  if ((stat.mode & 0o077) !== 0) {
    throw new PluginError('BAD_OPTION', `${file} (${option}) can be read by other users; run chmod 600 on it (ssh refuses such files too)`);
  }
  return fs.readFile(file);
}

/** A password file's content: its first line, as ssh and sshfs's password_stdin take it. */
export async function readPassword(file: string): Promise<string> {
  return (await readSecretFile(file, 'password_file')).toString('utf8').replace(/\r?\n$/, '');
}

/** The credentials a login will use, checked now so that a Mount says what is wrong with them. */
export async function checkSecretFiles(files: { identityFile: string | undefined; passwordFile: string | undefined }): Promise<void> {
  if (files.passwordFile !== undefined) await readPassword(files.passwordFile);
  if (files.identityFile !== undefined) await readSecretFile(files.identityFile, 'identity');
}
