/**
 * The clock a lab cell is timed with, and the one its simulated devices wait on.
 *
 * - `realClock`: `performance.now()`, and `Effect.sleep` for a device's latency. What `npm start`
 *   uses.
 * - `workClock`: a deterministic stand-in for tests. Time is the work the kernel counted (hand-offs,
 *   messages, bytes copied, pages moved…) priced by a fixed cost model, plus the time the whole
 *   system spent idle waiting for a device: a single modelled CPU. The same cells give the same
 *   numbers on every run and every machine, so a test can check that two runs reach the same
 *   conclusions without depending on the machine's noise.
 *
 * A clock belongs to one cell (one kernel): the stand-in reads that kernel's counters.
 */
import { Duration, Effect } from "effect"
import type { KernelCore } from "../kernel/Kernel.js"

/** One cell's clock. */
export interface LabClock {
  /** Milliseconds since an arbitrary origin. */
  readonly now: () => number
  /** Waits `ms` milliseconds of this clock's time (a simulated device's latency). */
  readonly sleep: (ms: number) => Effect.Effect<void>
  /** What must run beside the cell for the clock's time to advance, if anything (forked for the cell's life). */
  readonly drive: Effect.Effect<void> | undefined
}

/** Makes the clock of a cell from the cell's kernel. */
export type ClockSource = (k: KernelCore) => LabClock

/** Wall-clock time. */
export const realClock: ClockSource = () => ({
  now: () => performance.now(),
  sleep: (ms) => Effect.sleep(Duration.millis(ms)),
  drive: undefined
})

/**
 * Microseconds the stand-in charges per counted event: round numbers of the order this model
 * measures on a laptop-class core (a hand-off ~1.5 µs, a byte copied at ~2 GB/s). Their only
 * purpose is to be fixed.
 */
const COST = { handoff: 1.5, message: 1, byte: 0.0005, page: 0.2, leaseOp: 0.5, ringEntry: 0.3, doorbell: 0.5, read: 0.01 } as const

/** A pending sleep of the stand-in clock. */
class Timer {
  constructor(
    readonly at: number,
    readonly wake: () => void
  ) {}
}

/**
 * The deterministic stand-in (see the module header). A sleeping fiber wakes when the modelled
 * time reaches its deadline; when nothing but sleepers is left (the kernel counted no work for a
 * few scheduler turns), the clock jumps to the earliest deadline, as a discrete-event simulation
 * does.
 */
export const workClock: ClockSource = (k) => {
  const c = k.counters
  const work = () =>
    c.handoffs * COST.handoff +
    c.messages * COST.message +
    (c.bytesCopied + c.inlineBytes) * COST.byte +
    (c.pagesMapped + c.pagesGranted + c.pagesUnmapped) * COST.page +
    c.leaseOps * COST.leaseOp +
    c.ringEntries * COST.ringEntry +
    c.doorbells * COST.doorbell
  // Owned by this clock: idle time jumped over, clock reads (each costs a little, so a loop that
  // only reads the clock still ends), and the sleepers by deadline.
  let idle = 0
  let reads = 0
  const timers: Array<Timer> = []
  // The driver, when it waits for the first sleeper (it spins only while there are sleepers).
  let parked: (() => void) | undefined = undefined
  const micros = () => work() + reads * COST.read + idle
  const now = () => {
    reads++
    return micros() / 1000
  }
  const fireDue = () => {
    const t = micros()
    while (timers.length > 0 && timers[0]!.at <= t) timers.shift()!.wake()
  }
  const sleep = (ms: number) =>
    Effect.async<void>((resume) => {
      const timer = new Timer(micros() + ms * 1000, () => resume(Effect.void))
      const i = timers.findIndex((x) => x.at > timer.at)
      timers.splice(i < 0 ? timers.length : i, 0, timer)
      const driver = parked
      parked = undefined
      driver?.()
    })
  const park = Effect.async<void>((resume) => {
    parked = () => resume(Effect.void)
  })
  const drive = Effect.gen(function* () {
    let last = -1
    let quiet = 0
    for (;;) {
      yield* timers.length === 0 ? park : Effect.yieldNow()
      fireDue()
      const w = work()
      quiet = w === last ? quiet + 1 : 0
      last = w
      if (quiet >= 3 && timers.length > 0) {
        idle += Math.max(0, timers[0]!.at - micros())
        fireDue()
        quiet = 0
      }
    }
  })
  return { now, sleep, drive }
}
