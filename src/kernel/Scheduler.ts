/**
 * The kernel scheduler: every fiber of every process runs on it (the process's main fiber, its
 * threads, and every fiber they fork inherit it as their Effect `Scheduler`), so the kernel, not
 * the host, decides who runs next.
 *
 * A fiber that becomes ready (resumed by IPC, a timer, a host callback; or yielding) is a task in
 * one ready queue, tagged with the account of the process it runs for. The kernel drains the queue
 * in slices: a slice runs ready tasks one after another on one stack, with no microtask between
 * two hand-offs, and ends after `SLICE_MS` of host time; the rest waits for a `setImmediate`, so
 * the host's timers, I/O callbacks and other work run between slices. A deadline therefore fires
 * about one slice late however busy the kernel is (plus what the host adds: preemption, garbage
 * collection), and every ready fiber gets a turn within one pass of the queue (it is FIFO). Why `setImmediate` and not `setTimeout(0)` (which Node
 * stretches to a millisecond) or a `MessageChannel`: see docs/scheduling.md, measured with a
 * large kernel memory.
 *
 * Seeded mode (`Kernel.layer({ seed })`) makes a run a pure function of the seed and the program:
 * the next task is picked among the ready ones by a seeded generator, slices are counted in steps
 * (no host time is read), and the kernel's fibers see a virtual clock that stands still while
 * anything is ready and jumps to the earliest deadline when nothing is.
 *
 * `drive` runs tasks on the caller's stack until a given fiber is done: the synchronous drive that
 * `KernelCore.runSync` offers the root task.
 *
 * Invariants:
 * - Tasks run only from a drain (started by a microtask or a `setImmediate`, never nested) or from
 *   `drive`; at most one of them is on the stack at any time, across all kernels (`driving`).
 * - Each queued task runs exactly once, and counts one step to the account it was queued for.
 * - A seeded scheduler never reads host time or host randomness.
 * - Effect's scheduling priorities are not used: the kernel orders by readiness alone.
 */
import { Clock, Data, Duration, Effect, type Fiber, Scheduler } from "effect"
import { RUN_SYNC_LIMIT_MS, SEEDED_SLICE_STEPS, SLICE_MS } from "../params.js"
import { Prng, RunQueue, TimerQueue } from "./internal/scheduling.js"

// The host's clock and queues, captured when the kernel loads: programs share the realm's globals,
// and one that replaced them must not stop the kernel from yielding or from measuring its slices.
const hostNow: () => number = performance.now.bind(performance)
const hostSetImmediate: (f: () => void) => unknown = setImmediate
const hostQueueMicrotask: (f: () => void) => void = queueMicrotask
const { max, round } = Math
const toBigInt = BigInt

/**
 * What one process (or the root task, or the kernel itself) used of the scheduler: steps (tasks
 * run: a fiber's turn between two waits, or 2,048 of its operations) and host time. Owned by the
 * scheduler, which writes it after each step.
 */
export class CpuAccount {
  steps = 0
  /** Host milliseconds its steps took (0 in seeded mode, which reads no host time). */
  ms = 0
  constructor(
    readonly pid: number,
    readonly generation: number,
    readonly name: string
  ) {}
}

/** One account's view of the kernel scheduler: the Effect `Scheduler` its fibers hold. */
class AccountScheduler implements Scheduler.Scheduler {
  constructor(
    readonly core: KernelScheduler,
    readonly account: CpuAccount
  ) {}

  /** Effect's rule: a fiber gives its turn back after 2,048 operations without waiting. */
  shouldYield(fiber: Fiber.RuntimeFiber<unknown, unknown>): number | false {
    return Scheduler.defaultShouldYield(fiber)
  }

  scheduleTask(task: Scheduler.Task): void {
    this.core.enqueue(task, this.account)
  }
}

/**
 * The virtual clock of a seeded kernel: time in milliseconds from 0, moved only by the scheduler
 * (`advance`) when nothing is ready. Sleeps are deadlines in a queue; an interrupted sleep removes
 * its deadline.
 */
export class VirtualClock implements Clock.Clock {
  readonly [Clock.ClockTypeId]: Clock.ClockTypeId = Clock.ClockTypeId
  /** Owned by the scheduler: written by `advance` only. */
  private now = 0
  private readonly timers = new TimerQueue()

  /** `wake`: called on every new deadline (a sleep from outside a drain must start one to be reached). */
  constructor(private readonly wake: () => void) {}

  unsafeCurrentTimeMillis(): number {
    return this.now
  }

  unsafeCurrentTimeNanos(): bigint {
    return toBigInt(round(this.now * 1_000_000))
  }

  readonly currentTimeMillis: Effect.Effect<number> = Effect.sync(() => this.unsafeCurrentTimeMillis())
  readonly currentTimeNanos: Effect.Effect<bigint> = Effect.sync(() => this.unsafeCurrentTimeNanos())

  sleep(duration: Duration.Duration): Effect.Effect<void> {
    const ms = Duration.toMillis(duration)
    if (!Number.isFinite(ms)) return Effect.never
    return Effect.async<void>((resume) => {
      const t = this.timers.add(this.now + max(0, ms), () => resume(Effect.void))
      this.wake()
      return Effect.sync(() => {
        this.timers.cancel(t)
      })
    })
  }

  /** Deadlines not yet reached. */
  get pending(): number {
    return this.timers.size
  }

  /** Moves time to the earliest deadline and fires it; false if there is none. */
  advance(): boolean {
    const t = this.timers.pop()
    if (t === undefined) return false
    if (t.at > this.now) this.now = t.at
    t.fire()
    return true
  }
}

/** How a drive ended. */
export type DriveOutcome = "done" | "idle" | "limit"

/**
 * Whether some scheduler is running tasks on this stack (all kernels share the one stack).
 * Owned by `KernelScheduler`: set and cleared around every drain and drive.
 */
let driving = false

/** Whether some kernel's fibers are running on this stack (a drain or a drive is under way). */
export const isDriving = (): boolean => driving

/** A point-in-time copy of one account. */
export interface AccountStats {
  readonly pid: number
  readonly generation: number
  readonly name: string
  readonly steps: number
  /** Host microseconds (0 in seeded mode). */
  readonly cpuMicros: number
}

/** The scheduler's counters. */
export interface SchedulerStats {
  /** The seed of a seeded kernel, or `null`. */
  readonly seed: number | null
  /** Tasks run, all accounts together. */
  readonly steps: number
  /** Slices that ended with work left over (the kernel yielded to the host with fibers ready). */
  readonly yields: number
  /** The virtual clock's time in milliseconds (0 for a live kernel). */
  readonly virtualTimeMs: number
  /** Root-task fibers driven by the kernel (seeded mode, `runSync`). */
  readonly root: AccountStats
  /** The kernel's own fibers (process teardown). */
  readonly kernel: AccountStats
}

/** A copy of `a`. */
export const accountStats = (a: CpuAccount): AccountStats => ({
  pid: a.pid,
  generation: a.generation,
  name: a.name,
  steps: a.steps,
  cpuMicros: round(a.ms * 1000)
})

/** One kernel's scheduler. `seed` given: seeded mode. */
export class KernelScheduler {
  /** The seeded generator that picks the next task, in seeded mode. */
  private readonly prng: Prng | undefined
  /** The clock of the kernel's fibers in seeded mode; `undefined` for a live kernel (they keep the host's). */
  readonly clock: VirtualClock | undefined
  /** Accounts of root-task fibers and of the kernel's own fibers. */
  readonly rootAccount = new CpuAccount(0, 0, "root")
  readonly kernelAccount = new CpuAccount(0, 0, "kernel")
  /** The Effect schedulers of those two accounts. */
  readonly root: Scheduler.Scheduler
  readonly kernel: Scheduler.Scheduler

  // Owned by this scheduler (its drains and drives).
  private readonly queue = new RunQueue<Scheduler.Task, CpuAccount>()
  /** Tasks are running on this stack. */
  private running = false
  /** A drain is scheduled (microtask or `setImmediate`). */
  private drainPending = false
  /** The slice began and the host has not had a turn since (cleared by a `setImmediate`). */
  private sliceOpen = false
  private sliceStart = 0
  private sliceSteps = 0
  private steps = 0
  private yields = 0

  constructor(readonly seed?: number) {
    this.prng = seed === undefined ? undefined : new Prng(seed)
    this.clock = seed === undefined ? undefined : new VirtualClock(() => this.wake())
    this.root = this.schedulerFor(this.rootAccount)
    this.kernel = this.schedulerFor(this.kernelAccount)
  }

  /** The Effect `Scheduler` for fibers that run for `account`. */
  schedulerFor(account: CpuAccount): Scheduler.Scheduler {
    return new AccountScheduler(this, account)
  }

  /** Queues `task` for `account`; starts a drain if none is running or scheduled. */
  enqueue(task: Scheduler.Task, account: CpuAccount): void {
    this.queue.push(task, account)
    this.wake()
  }

  /** Starts a drain (by a microtask) unless one is running or scheduled. */
  private wake(): void {
    if (!this.running && !this.drainPending) {
      this.drainPending = true
      hostQueueMicrotask(this.drainScheduled)
    }
  }

  /** Ready tasks. */
  get ready(): number {
    return this.queue.size
  }

  /** The scheduler's counters (accounts of processes are the kernel's to list). */
  stats(): SchedulerStats {
    return {
      seed: this.seed ?? null,
      steps: this.steps,
      yields: this.yields,
      virtualTimeMs: this.clock?.unsafeCurrentTimeMillis() ?? 0,
      root: accountStats(this.rootAccount),
      kernel: accountStats(this.kernelAccount)
    }
  }

  private readonly drainScheduled = () => {
    this.drainPending = false
    if (!this.running && (this.queue.size > 0 || (this.clock !== undefined && this.clock.pending > 0))) this.drain()
  }

  private readonly closeSlice = () => {
    this.sliceOpen = false
  }

  /** One slice (or what is left of the current one), then a yield to the host if work remains. */
  private drain(): void {
    if (!this.sliceOpen) {
      this.sliceOpen = true
      this.sliceStart = this.prng === undefined ? hostNow() : 0
      this.sliceSteps = 0
      hostSetImmediate(this.closeSlice)
    } else if (this.prng === undefined ? hostNow() - this.sliceStart >= SLICE_MS : this.sliceSteps >= SEEDED_SLICE_STEPS) {
      // Spent, and the host has not had its turn yet (work kept arriving by microtasks).
      this.yieldToHost()
      return
    }
    this.running = true
    driving = true
    try {
      if (this.prng === undefined) this.runLive(undefined, this.sliceStart + SLICE_MS)
      else this.sliceSteps += this.runSeeded(undefined, SEEDED_SLICE_STEPS - this.sliceSteps)
    } finally {
      this.running = false
      driving = false
      if (this.queue.size > 0) this.yieldToHost()
    }
  }

  private yieldToHost(): void {
    this.yields++
    this.drainPending = true
    hostSetImmediate(this.drainScheduled)
  }

  /**
   * Runs ready tasks on this stack until `fiber` is done, nothing is ready (in seeded mode: and
   * no deadline is pending), or `limitMs` of host time passed (in seeded mode: as many thousand
   * steps). The caller must have checked that `isDriving()` is false.
   */
  drive(fiber: Fiber.RuntimeFiber<unknown, unknown>, limitMs = RUN_SYNC_LIMIT_MS): DriveOutcome {
    return this.driveUntil(() => fiber.unsafePoll() !== null, limitMs)
  }

  /** As `drive`, until `done()` is true (checked before the first task and after each). */
  driveUntil(done: () => boolean, limitMs = RUN_SYNC_LIMIT_MS): DriveOutcome {
    this.running = true
    driving = true
    try {
      if (done()) return "done"
      if (this.prng === undefined) return this.runLive(done, hostNow() + limitMs)
      const budget = limitMs * 1000
      const steps = this.runSeeded(done, budget)
      return done() ? "done" : steps < budget ? "idle" : "limit"
    } finally {
      this.running = false
      driving = false
      if (this.queue.size > 0 && !this.drainPending) {
        this.drainPending = true
        hostQueueMicrotask(this.drainScheduled)
      }
    }
  }

  /** Live mode: FIFO until the queue is empty, `stop` is done, or host time reaches `until`. */
  private runLive(stop: (() => boolean) | undefined, until: number): DriveOutcome {
    const q = this.queue
    let t0 = hostNow()
    while (q.size > 0) {
      const task = q.take()
      const account = q.owner!
      task()
      const t1 = hostNow()
      account.steps++
      account.ms += t1 - t0
      t0 = t1
      this.steps++
      if (stop !== undefined && stop()) return "done"
      if (t1 >= until) return "limit"
    }
    return stop !== undefined && stop() ? "done" : "idle"
  }

  /**
   * Seeded mode: a seeded pick among the ready tasks, at most `budget` of them; when none is
   * ready, the virtual clock jumps to the next deadline. Returns the steps run.
   */
  private runSeeded(stop: (() => boolean) | undefined, budget: number): number {
    const q = this.queue
    const prng = this.prng!
    const clock = this.clock!
    let n = 0
    while (n < budget) {
      if (stop !== undefined && stop()) break
      if (q.size === 0) {
        if (clock.advance()) continue
        break
      }
      const task = q.takeAt(prng.below(q.size))
      const account = q.owner!
      task()
      account.steps++
      this.steps++
      n++
    }
    return n
  }
}

/**
 * `runSync`'s effect cannot finish without the host: nothing in the kernel is ready and it is
 * not done (it waits on a real timer, host I/O or a promise), or it did not finish within the
 * drive's limit while other processes kept the kernel busy. The effect has been interrupted.
 */
export class WouldWaitOnHost extends Data.TaggedError("WouldWaitOnHost")<{
  readonly operation: string
  readonly reason: "nothing ready" | "limit"
}> {
  override get message() {
    return this.reason === "limit"
      ? `${this.operation}: the effect did not finish within the synchronous drive's limit (it may wait on the host behind busy processes); use the asynchronous API`
      : `${this.operation}: the effect waits on the host (a real timer, host I/O or a promise) and cannot finish synchronously; use the asynchronous API`
  }
}

/**
 * `runSync` was called while some kernel's fibers are running on this stack (from inside a
 * kernel fiber, or from inside another drive): it cannot drain the queue it is being run from.
 */
export class ReentrantRunSync extends Data.TaggedError("ReentrantRunSync")<{ readonly operation: string }> {
  override get message() {
    return `${this.operation}: called from inside a kernel fiber; a program waits with the Effect it has instead`
  }
}
