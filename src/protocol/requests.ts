import { PluginError } from '../errors';
import type { CreateRequest, MountRequest, NameRequest } from './wire';

/**
 * Turns a raw body into a typed request, or a BAD_REQUEST error naming the field. Names
 * are checked for form by the volume service; here only their JSON type.
 */
export function parseBody(raw: Buffer | undefined): Record<string, unknown> {
  const text = raw === undefined ? '' : raw.toString('utf8').trim();
  if (text === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new PluginError('BAD_REQUEST', 'request body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PluginError('BAD_REQUEST', 'request body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

const MAX_ID_LENGTH = 256;

function stringField(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (value === undefined || value === null || value === '') throw new PluginError('BAD_REQUEST', `request has no ${field}`);
  if (typeof value !== 'string') throw new PluginError('BAD_REQUEST', `${field} must be a string`);
  return value;
}

export function nameRequest(body: Record<string, unknown>): NameRequest {
  return { Name: stringField(body, 'Name') };
}

export function mountRequest(body: Record<string, unknown>): MountRequest {
  const ID = stringField(body, 'ID');
  if (ID.length > MAX_ID_LENGTH || /[\u0000-\u001f\u007f]/.test(ID)) {
    throw new PluginError('BAD_REQUEST', `ID must be at most ${MAX_ID_LENGTH} printable characters`);
  }
  return { Name: stringField(body, 'Name'), ID };
}

export function createRequest(body: Record<string, unknown>): CreateRequest {
  const opts = body.Opts;
  if (opts !== undefined && opts !== null && (typeof opts !== 'object' || Array.isArray(opts))) {
    throw new PluginError('BAD_REQUEST', 'Opts must be an object of strings');
  }
  const Opts: Record<string, string> = {};
  for (const [key, value] of Object.entries((opts ?? {}) as Record<string, unknown>)) {
    if (typeof value !== 'string') throw new PluginError('BAD_REQUEST', `option ${key} must be a string`);
    Object.defineProperty(Opts, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return { Name: stringField(body, 'Name'), Opts };
}
