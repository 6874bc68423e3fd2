import path from 'node:path';

/** The repository root: the checkout being measured. */
export const REPO = path.resolve(__dirname, '..', '..', '..');
