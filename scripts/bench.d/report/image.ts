/** The image section: the plugin image's build time and size, this build next to the baseline's. */
import { IMAGE_FIGURES, type ImageFigure, type ImageSizes } from '../image-build';
import type { SuiteRun } from '../lib/results';
import { BUILD_COLORS, buildCommits, NOISE_RULE, noRegression, verdictText, versusBaseline } from './builds';
import { barChart, type Bar, type Panel } from '../lib/svg';
import { bar, Figures, table, value } from './figures';
import type { Section } from './section';
import { targetTable, verdict, type TargetRow } from './targets';

const FIGURES = Object.keys(IMAGE_FIGURES) as ImageFigure[];
const SECTION = 'image';

function targets(f: Figures): TargetRow[] {
  const current = f.median(SECTION, 'rootfs', 'current');
  const baseline = f.median(SECTION, 'rootfs', 'baseline');
  return [
    {
      target: "plugin rootfs no bigger than the baseline's",
      measured: `${value(f, SECTION, 'rootfs', 'current')} vs ${value(f, SECTION, 'rootfs', 'baseline')} MiB`,
      met: verdict(current <= baseline, current / baseline),
    },
    noRegression(
      'build times within noise of the baseline or better',
      (['coldBuild', 'rebuild'] as const).map((figure) => ({ name: IMAGE_FIGURES[figure].label, ...versusBaseline(f, SECTION, figure) })),
    ),
  ];
}

function chart(f: Figures): string {
  const panels: Panel[] = FIGURES.map((figure) => ({
    title: IMAGE_FIGURES[figure].label,
    unit: `${IMAGE_FIGURES[figure].unit}, ${IMAGE_FIGURES[figure].better} is better`,
    bars: (['current', 'baseline'] as const).map((b) => bar(f, SECTION, figure, b, b, BUILD_COLORS[b])).filter((b): b is Bar => b !== undefined),
  })).filter((panel) => panel.bars.length > 0);
  return barChart('Plugin image: this build and the baseline', 'bar: median of the rounds, whisker: their range', panels, 2);
}

export const imageSection: Section = {
  what:
    "The plugin image of this checkout next to the baseline commit's: `docker build` from nothing (every layer rebuilt; apt and npm download their packages) and again after a one-line change in src/ (the layers before `COPY src` cached), and the size of the rootfs that `docker plugin create` gets. " +
    "The rootfs is what a plugin's user installs; the image's size matters only on the machine that builds it, and counts every layer: also the base image's node and npm that the runtime stage deletes.",
  how(run) {
    const s = (run.params.image ?? {}) as Partial<ImageSizes>;
    return (
      `${s.rounds ?? '?'} round(s), the builds alternating and their order flipping each round. Each commit builds with its own Dockerfile, the classic builder (as scripts/install) and its own base image, resolved by its own scripts/lib/build.sh; ` +
      'where Docker Hub cannot be reached that is a stand-in from scripts/base-image, made before the timing starts. The rootfs is exported as scripts/install does (`docker create`, `docker export | tar -x`) and counted with `du`.'
    );
  },
  peers(run) {
    const commits = buildCommits(run);
    return [`**current**: this checkout, ${commits.current}, its tracked files as they are`, `**baseline**: commit ${commits.baseline} (\`--baseline\`), from \`git archive\``];
  },
  body(run: SuiteRun, writeChart) {
    const f = new Figures(run);
    const rows = FIGURES.filter((figure) => f.get(SECTION, figure, 'current') !== undefined || f.get(SECTION, figure, 'baseline') !== undefined).map((figure) => {
      const v = versusBaseline(f, SECTION, figure);
      const { label, unit } = IMAGE_FIGURES[figure];
      return [`${label} (${unit})`, value(f, SECTION, figure, 'current'), value(f, SECTION, figure, 'baseline'), v.text, verdictText(v.verdict)];
    });
    return [
      writeChart('benchmarks-image.svg', chart(f)),
      '',
      ...targetTable(targets(f)),
      '',
      NOISE_RULE,
      '',
      ...table(['median of the rounds', 'current', 'baseline', 'current ÷ baseline', 'verdict'], rows),
      '',
    ];
  },
};
