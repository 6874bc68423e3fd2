import { spawn, type ChildProcess } from 'node:child_process';

// A stand-in for a container: appends numbered records with fsync and reports each
// record the kernel confirmed, and each error, on stdout.
const WRITER = `
const fs = require('fs');
const file = process.argv[1];
let i = 0, stop = false;
process.on('SIGTERM', () => { stop = true; });
(async function loop() {
  while (!stop) {
    try {
      const fd = fs.openSync(file, 'a');
      fs.writeSync(fd, 'record ' + i + '\\n');
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      console.log('ok ' + i);
      i += 1;
    } catch (e) {
      console.log('err ' + i + ' ' + e.code);
      await new Promise((r) => setTimeout(r, 200));
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  process.exit(0);
})();
`;

export class Writer {
  private output = '';
  private readonly child: ChildProcess;

  constructor(file: string) {
    this.child = spawn(process.execPath, ['-e', WRITER, file], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
  }

  confirmed(): number[] {
    return this.output.split('\n').filter((l) => l.startsWith('ok ')).map((l) => Number(l.slice(3)));
  }

  errors(): string[] {
    return this.output.split('\n').filter((l) => l.startsWith('err '));
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  }
}
