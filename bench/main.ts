/**
 * `npm run bench`: every benchmark, measured in one run, so ratios compare on a noisy machine.
 * `--json` prints one `{"name","value","unit"}` object per line; `--filter PREFIX` runs a subset.
 */
import { disablePretenuring } from "../src/runtime.js"
import { benchmarks } from "./suites.js"
import { runBenchmarks } from "./harness.js"

// As the `effect-microkernel` command does (see src/runtime.ts): without it, V8 may pretenure a
// message's allocation site mid-run and a benchmark lands in its slow mode (up to 2× slower).
disablePretenuring()
await runBenchmarks(benchmarks, process.argv.slice(2))
