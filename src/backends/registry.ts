import type { Backend, BackendKind } from './backend';

/** The backends this daemon runs with, by kind. */
export class BackendRegistry {
  private readonly byKind = new Map<BackendKind, Backend>();

  constructor(backends: readonly Backend[]) {
    for (const backend of backends) this.byKind.set(backend.kind, backend);
  }

  get(kind: BackendKind): Backend | undefined {
    return this.byKind.get(kind);
  }

  all(): Backend[] {
    return [...this.byKind.values()];
  }
}
