/**
 * A TCP proxy on loopback that adds a round-trip time: every chunk is delivered RTT/2
 * after it arrived, in each direction, in order. Run as its own process so that its CPU
 * time never stalls the process that measures:
 *
 *   node --import tsx scripts/bench.d/lib/latency-proxy.ts LISTEN_PORT TARGET_HOST:PORT RTT_MS
 *
 * Prints "listening PORT" once ready (LISTEN_PORT 0 picks a free port). Reads stop while
 * more than HIGH_WATER bytes wait in one direction (the delay line is the "network";
 * bandwidth is otherwise not limited). A line "rtt MS" on stdin changes the round-trip
 * time from then on, for open connections too (chunks already waiting keep their time);
 * it answers "rtt MS".
 */
import net from 'node:net';
import readline from 'node:readline';

const HIGH_WATER = 64 * 1024 * 1024;

/** What each direction adds: half the round-trip time, changeable while connections are open. */
interface OneWay {
  ms: number;
}

/** One direction of one connection: a FIFO of chunks, each due at arrival + delay. */
class DelayLine {
  private readonly queue: { due: number; chunk: Buffer }[] = [];
  private queued = 0;
  private timer: NodeJS.Timeout | undefined;
  private ended = false;

  constructor(
    private readonly from: net.Socket,
    private readonly to: net.Socket,
    private readonly delay: OneWay,
  ) {
    from.on('data', (chunk: Buffer) => this.push(chunk));
    from.on('end', () => {
      this.ended = true;
      this.schedule();
    });
    to.on('drain', () => this.schedule());
  }

  private push(chunk: Buffer): void {
    this.queue.push({ due: performance.now() + this.delay.ms, chunk });
    this.queued += chunk.length;
    if (this.queued > HIGH_WATER) this.from.pause();
    this.schedule();
  }

  private schedule(): void {
    if (this.timer !== undefined) return;
    const head = this.queue[0];
    if (head === undefined) {
      if (this.ended) this.to.end();
      return;
    }
    const wait = Math.max(0, head.due - performance.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, wait);
  }

  private flush(): void {
    const now = performance.now();
    let writable = true;
    while (writable && this.queue.length > 0 && this.queue[0]!.due <= now + 0.5) {
      const { chunk } = this.queue.shift()!;
      this.queued -= chunk.length;
      writable = this.to.write(chunk);
    }
    if (this.queued <= HIGH_WATER / 2 && this.from.isPaused()) this.from.resume();
    if (writable) this.schedule(); // otherwise 'drain' schedules
  }
}

export interface Proxy {
  server: net.Server;
  /** New round-trip time for chunks that arrive from now on. */
  setRtt: (ms: number) => void;
}

export function startProxy(listenPort: number, targetHost: string, targetPort: number, rttMs: number): Promise<Proxy> {
  const half: OneWay = { ms: rttMs / 2 };
  const server = net.createServer({ noDelay: true }, (client) => {
    const upstream = net.connect({ host: targetHost, port: targetPort, noDelay: true });
    const close = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
    new DelayLine(client, upstream, half);
    new DelayLine(upstream, client, half);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, '127.0.0.1', () => resolve({ server, setRtt: (ms) => (half.ms = ms / 2) }));
  });
}

if (require.main === module) {
  const [listen, target, rtt] = process.argv.slice(2);
  const [host, port] = (target ?? '').split(':');
  if (listen === undefined || host === undefined || port === undefined || rtt === undefined) {
    console.error('usage: latency-proxy.ts LISTEN_PORT HOST:PORT RTT_MS');
    process.exit(2);
  }
  startProxy(Number(listen), host, Number(port), Number(rtt)).then(
    ({ server, setRtt }) => {
      const address = server.address();
      console.log(`listening ${typeof address === 'object' && address !== null ? address.port : listen}`);
      readline.createInterface({ input: process.stdin }).on('line', (line) => {
        const match = /^rtt (\d+(?:\.\d+)?)$/.exec(line.trim());
        if (match === null) return;
        setRtt(Number(match[1]));
        console.log(`rtt ${match[1]}`);
      });
    },
    (error: unknown) => {
      console.error(String(error));
      process.exit(1);
    },
  );
  process.on('SIGTERM', () => process.exit(0));
}
