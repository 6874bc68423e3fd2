import assert from 'node:assert/strict';
import { scheduleFor, simulate, type SimulationResult } from '../support/catalogue-simulation';

/**
 * The store catalogue protocol under random interleavings and faults (see
 * test/support/catalogue-simulation.ts and docs/catalogue-protocol.md). SIM_SEED=N replays
 * one schedule and prints its trace; SIM_SCHEDULES=N runs more of them.
 */
const SCHEDULES = Number(process.env.SIM_SCHEDULES ?? 10_000);
const ONE_SEED = process.env.SIM_SEED === undefined ? undefined : Number(process.env.SIM_SEED);

const report = (failed: SimulationResult[], total: number): string =>
  `${failed.length} of ${total} schedules broke an invariant; replay one with SIM_SEED=<seed> npx mocha test/unit/catalogue-simulation.test.ts\n` +
  failed
    .slice(0, 8)
    .map((result) => `  seed ${result.seed}: ${result.violations.join('; ')}`)
    .join('\n');

describe('store catalogue protocol: deterministic simulation of several hosts on one store', function () {
  this.timeout(120_000);

  it(`keeps every invariant in ${ONE_SEED === undefined ? SCHEDULES : `seed ${ONE_SEED}'s`} schedule${ONE_SEED === undefined ? 's' : ''}`, async () => {
    if (ONE_SEED !== undefined) {
      const result = await simulate(scheduleFor(ONE_SEED));
      console.log(result.trace.join('\n'));
      assert.deepEqual(result.violations, [], `seed ${ONE_SEED}`);
      return;
    }
    const failed: SimulationResult[] = [];
    for (let seed = 1; seed <= SCHEDULES; seed += 1) {
      const result = await simulate(scheduleFor(seed));
      if (result.violations.length > 0) failed.push(result);
    }
    assert.equal(failed.length, 0, report(failed, SCHEDULES));
  });

  it('replays a schedule exactly from its seed', async () => {
    const first = await simulate({ seed: 4242 });
    const again = await simulate({ seed: 4242 });
    assert.ok(first.steps > 50, `a schedule makes many requests (${first.steps})`);
    assert.deepEqual(again.trace, first.trace);
  });
});
