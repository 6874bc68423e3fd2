import { PluginError } from '../errors';

// The local driver's rule (moby daemon/volume/local/local.go). It admits no '/', no NUL
// and no leading '.', so a valid name can never be '.', '..' or escape a directory.
const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
// Leaves room under NAME_MAX (255) for the suffixes the plugin adds to file names.
export const MAX_NAME_LENGTH = 200;

export function checkVolumeName(name: unknown): string {
  if (typeof name !== 'string' || name === '') {
    throw new PluginError('BAD_NAME', 'a volume name is required');
  }
  if (name.length > MAX_NAME_LENGTH) {
    throw new PluginError('BAD_NAME', `volume name is ${name.length} characters long; the limit is ${MAX_NAME_LENGTH}`);
  }
  if (!NAME_PATTERN.test(name)) {
    throw new PluginError(
      'BAD_NAME',
      `invalid volume name ${JSON.stringify(name)}: use at least two characters from [a-zA-Z0-9_.-], starting with a letter or digit`,
    );
  }
  return name;
}
