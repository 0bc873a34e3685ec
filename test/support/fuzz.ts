/**
 * The budget of the seeded property tests (`*.property.test.ts`, `*.fuzz.test.ts`): `npm test` runs each with its
 * default number of runs and a fixed seed; `npm run fuzz -- --steps N --seed S` runs every one of
 * them with `N` runs (`FUZZ_STEPS`) from seed `S` (`FUZZ_SEED`; a fresh one when not given, printed
 * so a failure can be replayed).
 */

/** Runs and seed for a property test whose default is `defaultRuns` runs. */
export const fuzzBudget = (defaultRuns: number, defaultSeed = 20260101): { readonly runs: number; readonly seed: number } => {
  const steps = process.env["FUZZ_STEPS"]
  const seed = process.env["FUZZ_SEED"]
  return {
    runs: steps === undefined || steps === "" ? defaultRuns : Math.max(1, Number.parseInt(steps, 10)),
    seed: seed === undefined || seed === "" ? defaultSeed : Number.parseInt(seed, 10)
  }
}
