import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { NODE_FLAGS } from '../support/daemon-process';

const ROOT = path.resolve(__dirname, '..', '..');
const read = (file: string): string => fs.readFileSync(path.join(ROOT, file), 'utf8');

// The daemon is launched in four places; the node flags change its memory and latency, so
// the tests and benchmarks (NODE_FLAGS, read from config.json) must run it as it ships.
describe('how node is launched', () => {
  it('uses the same node flags in config.json, the Dockerfile and npm start', () => {
    const entrypoint = (JSON.parse(read('config.json')) as { entrypoint: string[] }).entrypoint;
    const docker = /^ENTRYPOINT (\[.*\])$/m.exec(read('Dockerfile'))?.[1];
    assert.deepEqual(JSON.parse(docker ?? '[]'), entrypoint);
    const start = (JSON.parse(read('package.json')) as { scripts: { start: string } }).scripts.start;
    assert.equal(start, ['node', ...NODE_FLAGS, 'dist/main.js'].join(' '));
    assert.ok(NODE_FLAGS.length > 0);
  });
});
