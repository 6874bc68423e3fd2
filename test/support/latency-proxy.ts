import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import readline from 'node:readline';

export interface LatencyProxy {
  port: number;
  child: ChildProcess;
  stop(): void;
  /** Changes the round-trip time it adds, for open connections too; resolves once the proxy applied it. */
  setRtt(ms: number): Promise<void>;
}

/**
 * Starts scripts/bench.d/lib/latency-proxy.ts in front of `target` (host:port), adding `rttMs`
 * of round trip: its own process, so its CPU time never stalls the measuring one. It dies
 * with this process (pdeathsig).
 */
export async function startLatencyProxy(target: string, rttMs: number, options: { detached?: boolean } = {}): Promise<LatencyProxy> {
  const script = path.resolve(__dirname, '..', '..', 'scripts', 'bench.d', 'lib', 'latency-proxy.ts');
  const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', process.execPath, '--import', 'tsx', script, '0', target, String(rttMs)], {
    // stdin: "rtt MS" lines (setRtt).
    stdio: ['pipe', 'pipe', 'inherit'],
    // detached: a Ctrl-C to the terminal's process group leaves it to the caller's clean-up.
    detached: options.detached ?? false,
  });
  child.stdin.on('error', () => undefined); // a proxy killed meanwhile: its exit says so
  const lines = readline.createInterface({ input: child.stdout });
  let timer: NodeJS.Timeout | undefined;
  try {
    const port = await new Promise<number>((resolve, reject) => {
      lines.on('line', (line) => {
        const match = /^listening (\d+)$/.exec(line);
        if (match !== null) resolve(Number(match[1]));
      });
      child.once('exit', (code) => reject(new Error(`latency proxy exited (${String(code)})`)));
      timer = setTimeout(() => reject(new Error('latency proxy did not start within 20 s')), 20_000);
    });
    const setRtt = async (ms: number): Promise<void> => {
      const applied = new Promise<void>((resolve, reject) => {
        const onLine = (line: string): void => {
          if (line !== `rtt ${ms}`) return;
          lines.off('line', onLine);
          resolve();
        };
        lines.on('line', onLine);
        void once(child, 'exit').then(() => reject(new Error('latency proxy exited')));
      });
      child.stdin.write(`rtt ${ms}\n`);
      await applied;
    };
    return { port, child, stop: () => child.kill('SIGKILL'), setRtt };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
