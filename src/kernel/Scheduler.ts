/**
 * The kernel's fiber scheduler: every process runs on it.
 *
 * Effect's default scheduler runs fibers in microtasks and, after 2,048 rounds in a row, lets the
 * event loop breathe with `setTimeout(0)` — which Node delays by at least a millisecond. IPC is
 * ping-pong between fibers, so a busy kernel reaches that limit every few thousand hand-offs and
 * then sits idle for a millisecond: about 0.1 µs per round trip on average, and a millisecond
 * stall in the middle of any short measurement. This scheduler is the same except that it yields
 * with `setImmediate` (no delay; timers and I/O still run), where the host has it.
 */
import { Scheduler } from "effect"

/** Microtask rounds in a row before yielding to the event loop (Effect's default). */
const ROUNDS_BEFORE_YIELD = 2048

const yieldToHost: (f: () => void) => void =
  typeof setImmediate === "function" ? (f) => void setImmediate(f) : (f) => void setTimeout(f, 0)

/** Effect's `MixedScheduler` with a `setImmediate` yield. */
export class KernelScheduler implements Scheduler.Scheduler {
  private readonly runner = Scheduler.SchedulerRunner.cached((depth, drain) => {
    if (depth >= ROUNDS_BEFORE_YIELD) yieldToHost(() => drain(0))
    else void Promise.resolve(undefined).then(() => drain(depth + 1))
  })

  shouldYield(fiber: Parameters<Scheduler.Scheduler["shouldYield"]>[0]): number | false {
    return Scheduler.defaultShouldYield(fiber)
  }

  scheduleTask(task: Scheduler.Task, priority: number, fiber?: Parameters<Scheduler.Scheduler["scheduleTask"]>[2]): void {
    this.runner(fiber).scheduleTask(task, priority)
  }
}

/** The one scheduler every kernel's processes run on. */
export const kernelScheduler: Scheduler.Scheduler = new KernelScheduler()
