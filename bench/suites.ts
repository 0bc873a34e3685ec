/** Every benchmark, in the order they run. */
import { bulkBenchmarks } from "./bulk.js"
import { directBenchmarks } from "./direct.js"
import { floorBenchmarks } from "./floor.js"
import { fsBenchmarks } from "./fs.js"
import type { Benchmark } from "./harness.js"
import { ipcBenchmarks } from "./ipc.js"
import { protocolBenchmarks } from "./protocol.js"
import { schedBenchmarks } from "./sched.js"
import { vfsBenchmarks } from "./vfs.js"

export const benchmarks: ReadonlyArray<Benchmark> = [
  ...floorBenchmarks,
  ...ipcBenchmarks,
  ...protocolBenchmarks,
  ...directBenchmarks,
  ...bulkBenchmarks,
  ...vfsBenchmarks,
  ...fsBenchmarks,
  ...schedBenchmarks
]
