import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';

export interface LatencyProxy {
  port: number;
  child: ChildProcess;
  stop(): void;
}

/**
 * Starts scripts/bench.d/lib/latency-proxy.ts in front of `target` (host:port), adding `rttMs`
 * of round trip: its own process, so its CPU time never stalls the measuring one. It dies
 * with this process (pdeathsig).
 */
export async function startLatencyProxy(target: string, rttMs: number, options: { detached?: boolean } = {}): Promise<LatencyProxy> {
  const script = path.resolve(__dirname, '..', '..', 'scripts', 'bench.d', 'lib', 'latency-proxy.ts');
  const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', process.execPath, '--import', 'tsx', script, '0', target, String(rttMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    // detached: a Ctrl-C to the terminal's process group leaves it to the caller's clean-up.
    detached: options.detached ?? false,
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const lines = readline.createInterface({ input: child.stdout });
      lines.on('line', (line) => {
        const match = /^listening (\d+)$/.exec(line);
        if (match !== null) resolve(Number(match[1]));
      });
      child.once('exit', (code) => reject(new Error(`latency proxy exited (${String(code)})`)));
      timer = setTimeout(() => reject(new Error('latency proxy did not start within 20 s')), 20_000);
    });
    return { port, child, stop: () => child.kill('SIGKILL') };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
