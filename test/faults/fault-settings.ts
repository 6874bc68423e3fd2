/** FAULTS_LONG=1 runs the long version of every fault test. */
const long = process.env.FAULTS_LONG === '1';

export const faultRuns = {
  long,
  fuzz: Number(process.env.FUZZ_RUNS ?? (long ? 100_000 : 10_000)),
  crashes: long ? 300 : 100,
};
