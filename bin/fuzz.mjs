#!/usr/bin/env node
// `npm run fuzz -- --steps N --seed S`: every seeded property test (`*.property.test.ts`,
// `*.fuzz.test.ts`) with N runs from seed S (a fresh seed when none is given), without the per-test
// time limit. A test joins by taking its budget from `test/support/fuzz.ts`.
import { spawnSync } from "node:child_process"

const args = process.argv.slice(2)
const value = (name) => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}
const steps = value("--steps") ?? "1000"
const seed = value("--seed") ?? String(Math.floor(Math.random() * 2 ** 31))
console.log(`fuzz: ${steps} runs per property test, seed ${seed}`)
const result = spawnSync("npx", ["vitest", "run", "--testTimeout=0", ".property.test.", ".fuzz.test."], {
  stdio: "inherit",
  env: { ...process.env, FUZZ_STEPS: steps, FUZZ_SEED: seed }
})
process.exit(result.status ?? 1)
