/**
 * The plugin image of this checkout next to the baseline commit's: how long `docker build`
 * takes from nothing (every layer rebuilt, the base image present as after a pull) and after
 * a change in src/ (the layers before it cached), and how big the rootfs is that `docker
 * plugin create` gets. Each build uses its own commit's Dockerfile and its own base image,
 * resolved by its own scripts/lib/build.sh (a stand-in built from the npm registry's Node
 * where Docker Hub cannot be reached); making the base image is not in the figures.
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { runOk } from '../../test/support/run';
import type { World } from './env';
import { log } from './lib/proc';
import { REPO } from './lib/repo';
import type { SuiteStore } from './lib/results';
import { rotate } from './lib/rotate';

export interface ImageSizes {
  rounds: number;
}

export const IMAGE_FIGURES = {
  rootfs: { label: 'plugin rootfs (du)', unit: 'MiB', better: 'lower' },
  image: { label: 'image size (docker image inspect)', unit: 'MB', better: 'lower' },
  coldBuild: { label: 'docker build, no cache', unit: 's', better: 'lower' },
  rebuild: { label: 'docker build after a change in src/', unit: 's', better: 'lower' },
} as const;
export type ImageFigure = keyof typeof IMAGE_FIGURES;

type BuildId = 'current' | 'baseline';

interface BuildContext {
  id: BuildId;
  dir: string;
  /** --build-arg values: the base image when not the Dockerfile's default, extra CAs for npm. */
  buildArgs: string[];
}

const tagOf = (id: BuildId): string => `dvs-bench-image:${id}`;

/** The files of `commit` (or, for undefined, the tracked files of this checkout as they are now) in `dir`. */
async function writeContext(dir: string, commit: string | undefined): Promise<void> {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const script =
    commit === undefined
      ? 'cd "$1" && git ls-files -z | tar --null -T - -c | tar -x -C "$2"'
      : 'git -C "$1" archive --format=tar "$3" | tar -x -C "$2"';
  await runOk('bash', ['-c', `set -o pipefail; ${script}`, 'bash', REPO, dir, commit ?? '']);
}

/** The base image and CA arguments, from the context's own build helpers (as its scripts/install would). */
async function prepare(world: World, id: BuildId, dir: string): Promise<BuildContext> {
  const helpers = `source "$1/scripts/lib/common.sh"; source "$1/scripts/lib/build.sh"`;
  const resolved = await runOk('bash', ['-c', `set -euo pipefail; ${helpers}; dvs_resolve_base_image; dvs_dockerfile_default_base`, 'bash', dir], { env: world.env, timeoutMs: 20 * 60_000 });
  const [base, dockerfileDefault] = resolved.stdout.trim().split('\n');
  const buildArgs = base === dockerfileDefault ? [] : ['--build-arg', `BASE_IMAGE=${base}`];
  const caFile = process.env.NODE_EXTRA_CA_CERTS;
  if (caFile !== undefined && fs.existsSync(caFile)) {
    const ca = (await runOk('bash', ['-c', `set -euo pipefail; ${helpers}; dvs_extra_ca_pem "$2"`, 'bash', dir, caFile], { env: world.env })).stdout;
    if (ca.trim() !== '') buildArgs.push('--build-arg', `NPM_EXTRA_CA=${ca}`);
  }
  log(`  ${id}: base image ${base}`);
  return { id, dir, buildArgs };
}

/** Seconds of one classic-builder `docker build` of the context. */
async function timedBuild(world: World, context: BuildContext, cache: boolean): Promise<number> {
  const args = ['build', '--network', 'host', '--force-rm', ...(cache ? [] : ['--no-cache']), ...context.buildArgs, '-f', path.join(context.dir, 'Dockerfile'), '-t', tagOf(context.id), context.dir];
  const started = performance.now();
  // Classic builder, as scripts/lib/build.sh: Debian's engine has no BuildKit here.
  await runOk('docker', args, { env: { ...world.env, DOCKER_BUILDKIT: '0' }, timeoutMs: 30 * 60_000 });
  return (performance.now() - started) / 1000;
}

/** The rootfs `docker plugin create` would get (scripts/install exports it the same way), in MiB as du counts it. */
async function rootfsMiB(world: World, id: BuildId, scratch: string): Promise<number> {
  const container = (await world.docker(['create', tagOf(id)])).stdout.trim();
  const dir = path.join(scratch, `rootfs-${id}`);
  try {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    await runOk('bash', ['-c', 'set -o pipefail; docker export "$1" | tar -x --numeric-owner -C "$2"', 'bash', container, dir], { env: world.env });
    return Number((await runOk('du', ['-s', '--block-size=1M', dir])).stdout.split('\t')[0]);
  } finally {
    await world.docker(['rm', '-f', container], { allowFail: true });
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Builds both images `rounds` times, alternating which goes first. */
export async function imageBuilds(world: World, store: SuiteStore, baselineCommit: string, sizes: ImageSizes, scratch: string): Promise<void> {
  const contexts: BuildContext[] = [];
  for (const [id, commit] of [['current', undefined], ['baseline', baselineCommit]] as const) {
    const dir = path.join(scratch, `context-${id}`);
    await writeContext(dir, commit);
    contexts.push(await prepare(world, id, dir));
  }
  const add = (figure: ImageFigure, id: BuildId, value: number): void => {
    const { unit, better } = IMAGE_FIGURES[figure];
    store.add('image', figure, id, unit, better, value);
  };
  try {
    for (let round = 0; round < sizes.rounds; round += 1) {
      for (const context of rotate(contexts, round)) {
        const { id } = context;
        const cold = await timedBuild(world, context, false);
        add('coldBuild', id, cold);
        // One more line in the entry point: what a developer's edit costs.
        fs.appendFileSync(path.join(context.dir, 'src', 'main.ts'), `\n// bench rebuild ${round}\n`);
        const rebuild = await timedBuild(world, context, true);
        add('rebuild', id, rebuild);
        add('image', id, Number((await world.docker(['image', 'inspect', '-f', '{{.Size}}', tagOf(id)])).stdout.trim()) / 1e6);
        add('rootfs', id, await rootfsMiB(world, id, scratch));
        log(`  image, round ${round + 1}/${sizes.rounds}, ${id}: cold ${cold.toFixed(0)} s, rebuild ${rebuild.toFixed(0)} s`);
        store.save();
      }
    }
  } finally {
    for (const { id } of contexts) await world.docker(['image', 'rm', '-f', tagOf(id)], { allowFail: true });
    // The classic builder's intermediate images of every round, several hundred MB each.
    await world.docker(['image', 'prune', '-f'], { allowFail: true });
    for (const { dir } of contexts) fs.rmSync(dir, { recursive: true, force: true });
  }
}
