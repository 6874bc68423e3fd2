/**
 * The VolumeDriver protocol's bodies, named after each call, as moby's pkg/plugins and
 * docker/go-plugins-helpers volume/api.go define them.
 * Field names are the engine's and must not change.
 */
export interface ErrReply {
  Err: string;
}

export interface ActivateReply {
  Implements: ['VolumeDriver'];
}

export interface CreateRequest {
  Name: string;
  Opts: Record<string, string>;
}

export interface NameRequest {
  Name: string;
}

export interface MountRequest {
  Name: string;
  ID: string;
}

export interface MountpointReply extends ErrReply {
  Mountpoint: string;
}

export interface WireVolume {
  Name: string;
  Mountpoint: string;
  CreatedAt?: string;
  Status?: Record<string, unknown>;
}

export interface GetReply extends ErrReply {
  Volume: WireVolume;
}

/** List leaves out Mountpoint for volumes not mounted; the engine asks Path when it needs one. */
export interface ListReply extends ErrReply {
  Volumes: { Name: string; Mountpoint?: string }[];
}

export interface CapabilitiesReply {
  Capabilities: { Scope: 'local' | 'global' };
}

export const PLUGIN_CONTENT_TYPE = 'application/vnd.docker.plugins.v1.2+json';
