/**
 * `npm run bench`: every benchmark, measured in one run, so ratios compare on a noisy machine.
 * `--json` prints one `{"name","value","unit"}` object per line; `--filter PREFIX` runs a subset.
 */
import { benchmarks } from "./suites.js"
import { runBenchmarks } from "./harness.js"

await runBenchmarks(benchmarks, process.argv.slice(2))
