/** Every suite of scripts/bench, in the order of the page and of --help. */
import type { Suite, SuiteId } from '../suite';
import { catalogueSuite } from './catalogue';
import { controlSuite } from './control';
import { dataSuite } from './data';
import { imageSuite } from './image';
import { metadataSuite } from './metadata';
import { mountSuite } from './mount';
import { sharingSuite } from './sharing';

export const SUITES: Record<SuiteId, Suite> = {
  data: dataSuite,
  metadata: metadataSuite,
  control: controlSuite,
  mount: mountSuite,
  sharing: sharingSuite,
  catalogue: catalogueSuite,
  image: imageSuite,
};
