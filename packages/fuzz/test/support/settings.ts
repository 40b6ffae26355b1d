/**
 * Run lengths and seeds. Every property runs with a fixed seed, so a failure replays exactly: the
 * report prints the seed and the counterexample path; pass them back with TIERCACHE_FUZZ_SEED and
 * TIERCACHE_FUZZ_PATH (and `-t` to pick the test). TIERCACHE_FUZZ=long multiplies every run count by 25 (a local soak of about
 * half an hour); TIERCACHE_FUZZ_RUNS=<n> sets the multiplier directly.
 */
import fc from 'fast-check'

const multiplier = (): number => {
  const runs = Number(process.env.TIERCACHE_FUZZ_RUNS)
  if (Number.isFinite(runs) && runs > 0) return runs
  return process.env.TIERCACHE_FUZZ === 'long' ? 25 : 1
}

/** The seed every property uses when TIERCACHE_FUZZ_SEED is set (to replay, or to explore). */
const GIVEN_SEED: number | undefined =
  process.env.TIERCACHE_FUZZ_SEED === undefined ? undefined : Number(process.env.TIERCACHE_FUZZ_SEED)

/**
 * fast-check parameters for one property: `runs` in the normal test run (times the multiplier),
 * a fixed seed of its own (`0x1616` plus its number) unless TIERCACHE_FUZZ_SEED gives one, and
 * the replay path if given.
 */
export function params<T>(property: number, runs: number): fc.Parameters<T> {
  const path = process.env.TIERCACHE_FUZZ_PATH
  return {
    seed: GIVEN_SEED ?? 0x1616 + property,
    numRuns: Math.max(1, Math.round(runs * multiplier())),
    ...(path ? { path } : {}),
    // Shrinking re-runs the property many times against real servers; keep it bounded.
    endOnFailure: process.env.TIERCACHE_FUZZ_SHRINK !== '1',
    verbose: 1,
  }
}

/** Runs an async property with {@link params}. */
export async function check<Ts extends [unknown, ...unknown[]]>(
  property: number,
  runs: number,
  arbitraries: { [K in keyof Ts]: fc.Arbitrary<Ts[K]> },
  predicate: (...args: Ts) => Promise<void>,
): Promise<void> {
  await fc.assert(fc.asyncProperty(...arbitraries, predicate), params(property, runs))
}
