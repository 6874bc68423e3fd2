/** catalogue: the store catalogue across two hosts. */
import { catalogue } from '../catalogue';
import { catalogueSection } from '../report/catalogue';
import type { Suite } from '../suite';

export const catalogueSuite: Suite = {
  id: 'catalogue',
  summary: 'the store catalogue across two hosts: Gets of unknown names, create/remove seen, idle load',
  minutes: { full: 2, reduced: 1, quick: 1 },
  engineRtts: () => [],
  params: (sizes) => ({ catalogue: sizes.catalogue }),
  steps: () => [{ id: 'catalogue', order: 40, engine: false, run: (ctx) => catalogue(ctx.sizes.catalogue, ctx.store, ctx.cleanup) }],
  section: catalogueSection,
};
