import http from 'node:http';

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
  raw: string;
}

/**
 * Speaks to the plugin exactly as the Docker Engine does (moby pkg/plugins): POST, an
 * `Accept: application/vnd.docker.plugins.v1.2+json` header and no Content-Type.
 */
export class EngineClient {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  constructor(readonly socketPath: string) {}

  call(endpoint: string, body?: unknown, options: { method?: string; rawBody?: string | Buffer } = {}): Promise<Reply> {
    const payload = options.rawBody ?? (body === undefined ? '' : JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const request = http.request(
        {
          socketPath: this.socketPath,
          agent: this.agent,
          method: options.method ?? 'POST',
          path: endpoint,
          headers: { Accept: 'application/vnd.docker.plugins.v1.2+json', 'Content-Length': Buffer.byteLength(payload) },
        },
        (response) => {
          let raw = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (raw += chunk));
          response.on('end', () => {
            try {
              resolve({ status: response.statusCode ?? 0, headers: response.headers, body: JSON.parse(raw) as Record<string, unknown>, raw });
            } catch (error) {
              reject(new Error(`reply to ${endpoint} is not JSON: ${raw.slice(0, 200)} (${(error as Error).message})`));
            }
          });
        },
      );
      request.on('error', reject);
      request.end(payload);
    });
  }

  /** Calls and fails the test when the reply carries an Err. */
  async ok(endpoint: string, body?: unknown): Promise<Record<string, unknown>> {
    const reply = await this.call(endpoint, body);
    if (reply.status !== 200 || (typeof reply.body.Err === 'string' && reply.body.Err !== '')) {
      throw new Error(`${endpoint} failed (${reply.status}): ${reply.raw}`);
    }
    return reply.body;
  }

  /** Calls and returns the Err, failing the test when there is none. */
  async err(endpoint: string, body?: unknown): Promise<string> {
    const reply = await this.call(endpoint, body);
    const err = reply.body.Err;
    if (typeof err !== 'string' || err === '') throw new Error(`${endpoint} was expected to fail but replied ${reply.raw}`);
    return err;
  }

  create = (Name: string, Opts: Record<string, string> = {}) => this.ok('/VolumeDriver.Create', { Name, Opts });
  remove = (Name: string) => this.ok('/VolumeDriver.Remove', { Name });
  mount = async (Name: string, ID: string) => (await this.ok('/VolumeDriver.Mount', { Name, ID })).Mountpoint as string;
  unmount = (Name: string, ID: string) => this.ok('/VolumeDriver.Unmount', { Name, ID });
  get = async (Name: string) => (await this.ok('/VolumeDriver.Get', { Name })).Volume as Record<string, unknown>;
  list = async () => (await this.ok('/VolumeDriver.List', {})).Volumes as { Name: string; Mountpoint: string }[];

  close(): void {
    this.agent.destroy();
  }
}
