import { PluginError } from '../errors';
import type { VolumeOptions } from '../options/schema';
import { oneOf } from '../options/values';
import { BACKEND_KINDS, type BackendKind } from './backend';

/** `-o backend=local|sftp` picks the backend explicitly; every backend accepts it. */
export const BACKEND_OPTION = { name: 'backend', spec: oneOf(...BACKEND_KINDS) } as const;

/**
 * Local unless a remote is named: by `host`, or by a plugin-level default store
 * (SFTP_HOST), which makes `docker volume create -d sftp NAME` an SFTP volume.
 */
export function chooseBackend(options: VolumeOptions, hasDefaultStore: boolean): BackendKind {
  const explicit = options[BACKEND_OPTION.name];
  if (explicit !== undefined) {
    if (!(BACKEND_KINDS as readonly string[]).includes(explicit)) {
      throw new PluginError('BAD_OPTION', `option backend=${JSON.stringify(explicit)}: expected one of ${BACKEND_KINDS.join(', ')}`);
    }
    return explicit as BackendKind;
  }
  return options.host !== undefined || hasDefaultStore ? 'sftp' : 'local';
}
