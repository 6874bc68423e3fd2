import type { BackendKind } from '../backends/backend';
import type { CatalogueEntry } from '../catalogue/catalogue-records';
import type { HostIdentity } from '../catalogue/host-identity';
import type { VolumeOptions } from '../options/schema';

/**
 * What the volume service needs of a catalogue shared by every host of a store. Only
 * volumes it `covers` are in it; everything else stays local to this host.
 */
export interface SharedCatalogue {
  readonly host: HostIdentity;
  /** Changes whenever the set of names changes. */
  readonly revision: number;
  covers(kind: BackendKind, options: VolumeOptions): boolean;
  find(name: string): CatalogueEntry | undefined;
  names(): IterableIterator<string>;
  ageSeconds(): number | undefined;
  publish(entry: CatalogueEntry): Promise<CatalogueEntry>;
  withdraw(name: string): Promise<void>;
  checkRemovable(name: string): Promise<void>;
  hold(name: string): Promise<void>;
  release(name: string): void;
}
