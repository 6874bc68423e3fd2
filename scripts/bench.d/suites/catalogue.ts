/** catalogue: the store catalogue across two hosts. */
import { catalogue } from '../catalogue';
import { cataloguePickup } from '../catalogue-pickup';
import { catalogueSection } from '../report/catalogue';
import type { Suite } from '../suite';

export const catalogueSuite: Suite = {
  id: 'catalogue',
  summary: 'the store catalogue across two hosts: Gets of unknown names, create/remove seen, idle load, a change picked up at up to 10,000 volumes',
  minutes: { full: 10, reduced: 8, quick: 2 },
  engineRtts: () => [],
  params: (sizes) => ({ catalogue: sizes.catalogue }),
  steps: () => [
    { id: 'catalogue', order: 40, engine: false, run: (ctx) => catalogue(ctx.sizes.catalogue, ctx.store, ctx.cleanup) },
    { id: 'pickup', order: 41, engine: false, run: (ctx) => cataloguePickup(ctx.sizes.catalogue.pickup, ctx.store, ctx.cleanup) },
  ],
  section: catalogueSection,
};
