/** What a suite of scripts/bench is: its steps, in the order of the whole run, and its section of the page. */
import type { Build } from './baseline';
import type { Cleanup } from './cleanup';
import type { World } from './env';
import type { SizeMode, SuiteStore } from './lib/results';
import type { Section } from './report/section';
import type { Sizes } from './sizes';

export const SUITE_IDS = ['data', 'metadata', 'control', 'mount', 'sharing', 'catalogue', 'image'] as const;
export type SuiteId = (typeof SUITE_IDS)[number];

export interface StepContext {
  store: SuiteStore;
  sizes: Sizes;
  cleanup: Cleanup;
  /** This suite's own directory below the work directory. */
  dir: string;
  /** The engine with our plugin, rclone and raw sshfs: started by the first step that asks. */
  world(): Promise<World>;
  /** This checkout's build and the baseline's, built by the first step that asks (and named in the suite's params). */
  builds(): Promise<Build[]>;
  /** The two commits alone (also named in the suite's params), for a suite that builds them its own way. */
  commits(): Promise<Pick<Build, 'id' | 'commit'>[]>;
}

export interface Step {
  id: string;
  /** Steps of all selected suites run by this number: the ones on the host first, then those in the engine. */
  order: number;
  /** Needs the engine (World). */
  engine: boolean;
  run(ctx: StepContext): Promise<void>;
}

export interface Suite {
  id: SuiteId;
  /** One line for --help: what it measures. */
  summary: string;
  /** Rough minutes per size mode, for --help. */
  minutes: Record<SizeMode, number>;
  /** Round-trip times (ms) the engine's latency proxies must serve for this suite. */
  engineRtts(sizes: Sizes): number[];
  steps(sizes: Sizes): Step[];
  /** What the page needs to say how it measured (sizes, peers). */
  params(sizes: Sizes): Record<string, unknown>;
  section: Section;
}

