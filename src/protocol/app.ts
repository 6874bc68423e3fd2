import express, { type NextFunction, type Request, type Response } from 'express';
import { PluginError } from '../errors';
import type { Logger } from '../log';
import type { VolumeDriver } from '../service/volume-driver';
import { errorReply } from './error-reply';
import { createRequest, mountRequest, nameRequest, parseBody } from './requests';
import type { ActivateReply, CapabilitiesReply, GetReply, ListReply, MountpointReply, ErrReply } from './wire';
import { PLUGIN_CONTENT_TYPE } from './wire';
import { CachedReply, SerializedReply } from './cached-reply';

export const MAX_BODY_BYTES = 1024 * 1024;

type Handler = (body: Record<string, unknown>) => unknown;

export interface AppOptions {
  driver: VolumeDriver;
  log: Logger;
}

/** The VolumeDriver protocol over HTTP: routes, body parsing, error encoding, one log line per call. */
export function createApp({ driver, log }: AppOptions): express.Express {
  const listReply = new CachedReply(
    () => driver.generation,
    (): ListReply => ({
      Volumes: driver.list().map((volume) => (volume.mountpoint === undefined ? { Name: volume.name } : { Name: volume.name, Mountpoint: volume.mountpoint })),
      Err: '',
    }),
  );
  const routes: Record<string, Handler> = {
    '/Plugin.Activate': (): ActivateReply => ({ Implements: ['VolumeDriver'] }),
    '/VolumeDriver.Capabilities': (): CapabilitiesReply => ({ Capabilities: { Scope: driver.scope } }),
    '/VolumeDriver.Create': async (body): Promise<ErrReply> => {
      const request = createRequest(body);
      await driver.create(request.Name, request.Opts);
      return { Err: '' };
    },
    '/VolumeDriver.Remove': async (body): Promise<ErrReply> => {
      await driver.remove(nameRequest(body).Name);
      return { Err: '' };
    },
    '/VolumeDriver.Mount': async (body): Promise<MountpointReply> => {
      const request = mountRequest(body);
      return { Mountpoint: await driver.mount(request.Name, request.ID), Err: '' };
    },
    '/VolumeDriver.Unmount': async (body): Promise<ErrReply> => {
      const request = mountRequest(body);
      await driver.unmount(request.Name, request.ID);
      return { Err: '' };
    },
    '/VolumeDriver.Path': async (body): Promise<MountpointReply> => ({ Mountpoint: await driver.path(nameRequest(body).Name), Err: '' }),
    '/VolumeDriver.Get': async (body): Promise<GetReply> => {
      const volume = await driver.get(nameRequest(body).Name);
      return {
        Volume: { Name: volume.name, Mountpoint: volume.mountpoint, CreatedAt: volume.createdAt, Status: volume.status },
        Err: '',
      };
    },
    '/VolumeDriver.List': () => listReply.get(),
  };

  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.use(callLogger(log));
  // The engine sends no Content-Type: take every body as raw bytes and parse it ourselves.
  app.use(express.raw({ type: () => true, limit: MAX_BODY_BYTES }));

  app.use(async (req: Request, res: Response) => {
    const handler = Object.hasOwn(routes, req.path) ? routes[req.path] : undefined;
    try {
      if (handler === undefined) throw new PluginError('BAD_REQUEST', `unknown endpoint ${req.method} ${req.path}`);
      if (req.method !== 'POST') throw new PluginError('BAD_REQUEST', `${req.path} takes POST, not ${req.method}`);
      const body = parseBody(Buffer.isBuffer(req.body) ? req.body : undefined);
      res.locals.volume = typeof body.Name === 'string' ? body.Name.slice(0, 256) : undefined;
      send(res, 200, await handler(body));
    } catch (error) {
      const reply = errorReply(error);
      if (handler === undefined) reply.status = 404;
      res.locals.error = reply.body.Err;
      res.locals.code = reply.code;
      send(res, reply.status, reply.body);
    }
  });

  // Errors raised before a route runs: body too large, aborted or badly encoded bodies.
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = typeof (error as { status?: unknown }).status === 'number' ? (error as { status: number }).status : 400;
    const message =
      (error as { type?: string }).type === 'entity.too.large'
        ? `request body is larger than the limit of ${MAX_BODY_BYTES} bytes`
        : `could not read the request body: ${(error as Error).message}`;
    res.locals.error = message;
    send(res, status, { Err: message });
  });

  return app;
}

function send(res: Response, status: number, body: unknown): void {
  res.status(status).type(PLUGIN_CONTENT_TYPE).send(body instanceof SerializedReply ? body.json : JSON.stringify(body));
}

function callLogger(log: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      const error = res.locals.error as string | undefined;
      const fields = {
        call: req.path.slice(0, 64),
        volume: res.locals.volume as string | undefined,
        durationMs: Math.round(durationMs * 1000) / 1000,
        status: res.statusCode,
        error,
        code: res.locals.code as string | undefined,
      };
      if (error === undefined) log.info('call', fields);
      else log.warn('call', fields);
    });
    next();
  };
}
