import type { Backend, SharedCatalogue, StatusMap, Undo, VolumeSpec } from '../../src/backends/backend';
import { BACKEND_OPTION } from '../../src/backends/registry';
import type { OptionSchema } from '../../src/options/schema';

/** The steps a FakeBackend can be told to fail; `undo` is the Undo its create returned. */
export type BackendStep = 'create' | 'undo' | 'remove' | 'mount' | 'unmount';

const anyValue = { check: (): void => undefined };

/**
 * A Backend that keeps no storage: it writes each call into `events` (shared with a fake
 * catalogue, so their order shows) and throws at the steps in `failing`.
 */
export class FakeBackend implements Backend {
  readonly kind = 'fake';
  readonly options: OptionSchema = { [BACKEND_OPTION]: anyValue, size: anyValue };
  readonly refused = {};
  readonly failing = new Set<BackendStep>();
  /** Runs inside each mount, before it answers: a test's clock moves on there, say. */
  duringMount: () => void = () => undefined;

  constructor(
    readonly events: string[],
    readonly catalogue?: SharedCatalogue,
  ) {}

  checkSpec(): void {}

  create(spec: VolumeSpec): Promise<Undo> {
    const undo: Undo = (options) => this.step('undo', `${spec.name}${options?.keepRemoteData === true ? ' keepRemoteData' : ''}`, () => undefined);
    return this.step('create', spec.name, () => undo);
  }

  remove(spec: VolumeSpec): Promise<void> {
    return this.step('remove', spec.name, () => undefined);
  }

  mount(spec: VolumeSpec): Promise<void> {
    return this.step('mount', spec.name, () => this.duringMount());
  }

  unmount(spec: VolumeSpec): Promise<void> {
    return this.step('unmount', spec.name, () => undefined);
  }

  status(): StatusMap {
    return {};
  }

  async recover(): Promise<void> {}

  /** Writes "backend STEP WHAT" (" failed" when told to fail), then fails or answers what `work` returns. */
  private step<T>(step: BackendStep, what: string, work: () => T): Promise<T> {
    const fails = this.failing.has(step);
    this.events.push(`backend ${step} ${what}${fails ? ' failed' : ''}`);
    return fails ? Promise.reject(new Error(`fake backend: ${step} failed`)) : Promise.resolve(work());
  }
}
