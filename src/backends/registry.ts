import { PluginError } from '../errors';
import type { VolumeOptions } from '../options/schema';
import type { Backend, SharedCatalogue } from './backend';

/** `-o backend=KIND` picks a backend by name; every backend accepts its own kind. */
export const BACKEND_OPTION = 'backend';

/** The backends this daemon runs with, by kind; the first is the one for plain options. */
export class BackendRegistry {
  private readonly byKind = new Map<string, Backend>();

  constructor(private readonly backends: readonly [Backend, ...Backend[]]) {
    for (const backend of backends) this.byKind.set(backend.kind, backend);
  }

  get(kind: string): Backend | undefined {
    return this.byKind.get(kind);
  }

  all(): readonly Backend[] {
    return this.backends;
  }

  kinds(): string[] {
    return [...this.byKind.keys()];
  }

  /** The backends that share volumes with other hosts. */
  catalogues(): { backend: Backend; catalogue: SharedCatalogue }[] {
    return this.backends.flatMap((backend) => (backend.catalogue === undefined ? [] : [{ backend, catalogue: backend.catalogue }]));
  }

  /** `backend=` when given; else the first backend that claims the options; else the first. */
  choose(options: VolumeOptions): Backend {
    const explicit = options[BACKEND_OPTION];
    if (explicit !== undefined) {
      const named = this.byKind.get(explicit);
      if (named === undefined) throw new PluginError('BAD_OPTION', `option backend=${JSON.stringify(explicit)}: expected one of ${this.kinds().join(', ')}`);
      return named;
    }
    return this.backends.find((backend) => backend.claims?.(options) === true) ?? this.backends[0];
  }
}
