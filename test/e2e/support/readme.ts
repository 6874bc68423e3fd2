/**
 * Shell lines the README gives users, read from README.md itself so that the end-to-end
 * tier runs what the README says: the first ```sh block after a `<!-- e2e: NAME ... -->`
 * marker.
 */
import fs from 'node:fs';
import path from 'node:path';
import { REPO } from './engine';

export function readmeShellBlock(name: string, readme = path.join(REPO, 'README.md')): string {
  const lines = fs.readFileSync(readme, 'utf8').split('\n');
  const marker = lines.findIndex((l) => l.startsWith(`<!-- e2e: ${name}.`) || l.startsWith(`<!-- e2e: ${name} `));
  if (marker < 0) throw new Error(`README.md has no <!-- e2e: ${name} --> marker`);
  const open = lines.findIndex((l, i) => i > marker && l.trim() === '```sh');
  const close = lines.findIndex((l, i) => i > open && l.trim() === '```');
  if (open < 0 || close < 0) throw new Error(`README.md: no \`\`\`sh block after the ${name} marker`);
  return lines.slice(open + 1, close).join('\n');
}
