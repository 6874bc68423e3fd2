import fs from 'node:fs';

/** What `file` holds from byte `offset` on (what a log gained since then); throws as fs does. */
export function readFileFrom(file: string, offset: number): string {
  const fd = fs.openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(Math.max(0, fs.fstatSync(fd).size - offset));
    fs.readSync(fd, buffer, 0, buffer.length, offset);
    return buffer.toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}
