/**
 * The lab's measuring harness, shared by every experiment.
 *
 * A *cell* is one configuration of an experiment (a strategy at a size, a server design with a
 * number of clients…). Measuring it once means: boot a fresh kernel, start the servers, spawn the
 * clients; each client runs its operation for a warm-up time, then all start together and run it
 * until a time budget is spent (at least once each); the counters are read around the timed
 * section. A cell is measured in several *rounds*, interleaved with the cells it is compared
 * against (A B C, then B C A, …), so that the machine's drift and the other core's load fall on
 * every cell alike; its result is the median of its rounds and their spread (see `Stats`).
 *
 * Invariants:
 * - A client that ends before a checkpoint fails the cell with a defect naming it; the harness
 *   never waits for a client that has gone.
 * - Everything a cell counts comes from its own kernel: one kernel per measurement.
 */
import { Deferred, Effect, Fiber, FiberRef, type Scope } from "effect"
import * as Kernel from "../kernel/Kernel.js"
import type { KernelCore } from "../kernel/Kernel.js"
import type { Pcb, ProcessExit } from "../kernel/Process.js"
import { toMermaid, Tracer } from "../kernel/Trace.js"
import type { LabClock } from "./Clock.js"
import { median } from "./Stats.js"

/** How long a measurement runs. */
export interface Budget {
  /** Each client's warm-up before the start (at least one operation). */
  readonly warmUpMs: number
  /** The timed section, from the start until the budget is spent (and `minOps` done by every client). */
  readonly runMs: number
  /**
   * Timed operations each client makes at least (default 1): a cell whose operation is long must
   * still have several, or one that the machine paused would be its whole median.
   */
  readonly minOps?: number
}

/** What a client program gets from the harness. */
export interface Session {
  /** The cell's clock (for a simulated device's latency, say). */
  readonly clock: LabClock
  /**
   * Runs `op` for the warm-up, waits for every client to be ready, runs it again until the budget
   * is spent, and waits for the counters to be read. Returns after the timed section; the caller
   * checks its results then, off the clock.
   */
  readonly loop: <E, R>(op: Effect.Effect<void, E, R>) => Effect.Effect<void, E, R>
}

/** What one measurement of a cell saw. */
export interface Timed {
  /** The timed section, in milliseconds of the cell's clock. */
  readonly elapsedMs: number
  /** When the timed section began, by the cell's clock (ms). */
  readonly t0: number
  /** When each timed operation ended, by the cell's clock (ms). */
  readonly completions: ReadonlyArray<number>
  /** Operations timed, all clients together. */
  readonly ops: number
  /** Each timed operation's latency, in milliseconds. */
  readonly latencies: ReadonlyArray<number>
  /** Their median. */
  readonly medianMs: number
  /** Clients that ran. */
  readonly clients: number
  /** Counter increments during the timed section. */
  readonly bytesCopied: number
  readonly pagesMoved: number
  readonly handoffs: number
  /** Calls run on their callers' fibers by a direct handler. */
  readonly directCalls: number
  readonly messages: number
  /** Frames in use when the timed section ended, all processes together. */
  readonly framesInUse: number
  /** Each client's result, in spawn order. */
  readonly results: ReadonlyArray<unknown>
}

/**
 * A cell's rate from its median operation: `clients` clients each wait for their operation before
 * the next, so `clients` operations are in flight and the rate is clients × `perOperation` ÷ the
 * median operation time (Little's law). The median is what the mechanism costs: an operation
 * during which the machine paused this process (other programs share its cores) or collected
 * garbage is slow, and the median ignores it where a total over the timed section would not.
 * It holds when the timed section spans many operations of every client; where one round of the
 * clients takes longer than that (hundreds of clients queueing for one server), use `wallRate`.
 */
export const rate = (t: Timed, perOperation: number): number => (t.clients * perOperation) / (t.medianMs / 1000)

/** A cell's rate over the whole timed section (what the wall clock saw), per second. */
export const wallRate = (t: Timed, perOperation: number): number => (t.ops * perOperation) / (t.elapsedMs / 1000)

/**
 * A cell's rate from the median time that `k` consecutive operations took to complete, all
 * clients together, in the order they completed (the start of the timed section counts as a
 * completion): operations per second × `perOperation`. With `k` = the number of clients it needs
 * no assumption about how the clients interleave. Clients that queue for one server complete in
 * bursts, a burst per round of the queue; clients that never yield between operations (direct
 * calls that answer at once) complete in runs, one client's after another's; both ways `k`
 * consecutive completions span one operation of each client's worth of work. Like `rate`, the
 * median ignores the spans in which the machine paused this process. Needs more than `k`
 * operations (`Budget.minOps`); 0 otherwise.
 */
export const windowRate = (t: Timed, k: number, perOperation: number): number => {
  const at = [t.t0, ...t.completions]
  if (at.length <= k) return 0
  const spans = Array.from({ length: at.length - k }, (_, i) => at[i + k]! - at[i]!)
  return (k * perOperation) / (median(spans) / 1000)
}

/**
 * Events per second in the timed section, by the cell's clock: `times` are when they happened
 * (messages a server took, say). For cells where one round of the clients outlasts the timed
 * section, so that a median operation would not tell the rate (hundreds of clients queueing).
 */
export const rateIn = (times: ReadonlyArray<number>, t: Timed): number =>
  times.filter((at) => at >= t.t0 && at <= t.t0 + t.elapsedMs).length / (t.elapsedMs / 1000)

/** How to measure a cell. */
export interface MeasureOptions {
  /** The cell's clock (made from the cell's kernel, see `ClockSource`). */
  readonly clock: LabClock
  readonly budget: Budget
  /** Names the cell in errors. */
  readonly label: string
  readonly clients: number
  /** Traces the timed section (one operation per client, with a zero budget) into this tracer. */
  readonly tracer?: Tracer | undefined
}

/**
 * Measures one cell on the booted kernel `k`: spawns `options.clients` clients with
 * `spawn(i, session)` (each program must call `session.loop` once) and times them. Errors:
 * `spawn`'s. A client that ends early, or fails, is a defect naming it and the cell.
 */
export const measure = <E, R>(
  k: KernelCore,
  options: MeasureOptions,
  spawn: (i: number, session: Session) => Effect.Effect<Pcb, E, R>
): Effect.Effect<Timed, E, R> =>
  Effect.gen(function* () {
    const { budget, clients, clock, label, tracer } = options
    const driver = clock.drive === undefined ? undefined : yield* Effect.forkDaemon(clock.drive)
    const go = yield* Deferred.make<void>()
    const release = yield* Deferred.make<void>()
    const indices = Array.from({ length: clients }, (_, i) => i)
    const ready = yield* Effect.forEach(indices, () => Deferred.make<void>())
    const done = yield* Effect.forEach(indices, () => Deferred.make<void>())
    // Owned by the harness, written by the clients in their timed sections.
    let deadline = Infinity
    let ops = 0
    const latencies: Array<number> = []
    const completions: Array<number> = []
    const minOps = budget.minOps ?? 1
    const sessionOf = (i: number): Session => ({
      clock,
      loop: <E2, R2>(op: Effect.Effect<void, E2, R2>) =>
        Effect.gen(function* () {
          const warmUntil = clock.now() + budget.warmUpMs
          do yield* op
          while (clock.now() < warmUntil)
          yield* Deferred.succeed(ready[i]!, undefined)
          yield* Deferred.await(go)
          let t = clock.now()
          let mine = 0
          do {
            yield* op
            const after = clock.now()
            latencies.push(after - t)
            completions.push(after)
            ops++
            mine++
            t = after
          } while (t < deadline || mine < minOps)
          yield* Deferred.succeed(done[i]!, undefined)
          yield* Deferred.await(release)
        })
    })
    const pcbs = yield* Effect.forEach(indices, (i) => spawn(i, sessionOf(i)))
    const ended = (i: number, exit: ProcessExit) =>
      Effect.dieMessage(`lab client ${i} of ${label} ended ${exit._tag}${exit._tag === "Failed" ? `: ${String(exit.cause)}` : ""}`)
    const checkpoint = (points: ReadonlyArray<Deferred.Deferred<void>>) =>
      Effect.forEach(points, (point, i) =>
        Effect.raceFirst(
          Deferred.await(point),
          Effect.flatMap(pcbs[i]!.await, (exit) => ended(i, exit))
        )
      )
    yield* checkpoint(ready)
    const before = k.stats()
    if (tracer !== undefined) k.tracer = tracer
    const t0 = clock.now()
    deadline = t0 + budget.runMs
    yield* Deferred.succeed(go, undefined)
    yield* checkpoint(done)
    const elapsedMs = clock.now() - t0
    const after = k.stats()
    if (tracer !== undefined) k.tracer = undefined
    const timed = {
      t0,
      elapsedMs,
      completions,
      medianMs: median(latencies),
      clients,
      ops,
      latencies,
      bytesCopied: after.bytesCopied - before.bytesCopied,
      pagesMoved: after.pagesMapped + after.pagesGranted - before.pagesMapped - before.pagesGranted,
      handoffs: after.handoffs - before.handoffs,
      directCalls: after.directCalls - before.directCalls,
      messages: after.messages - before.messages,
      framesInUse: after.framesInUse
    }
    yield* Deferred.succeed(release, undefined)
    const exits = yield* Effect.forEach(pcbs, (p) => p.await)
    if (driver !== undefined) yield* Fiber.interrupt(driver)
    const failed = exits.findIndex((e) => e._tag !== "Exited")
    if (failed >= 0) return yield* ended(failed, exits[failed]!)
    return { ...timed, results: exits.map((e) => (e._tag === "Exited" ? e.value : undefined)) }
  })

/** How many rounds to measure: at least `min`; more, up to `max`, while time is left. */
export interface Rounds {
  readonly min: number
  readonly max: number
}

/**
 * The order of a group's `n` cells in round `round` of group `group`: the first round in the
 * group's order, later ones shuffled by a fixed seed (so runs repeat). A cell leaves garbage and
 * a colder cache to the next one; a rotation (A B C, B C A, …) would give every cell the same
 * predecessor in every round, and so the same bias.
 */
export const order = (n: number, round: number, group: number): Array<number> => {
  const out = Array.from({ length: n }, (_, i) => i)
  if (round === 0) return out
  // mulberry32: a small deterministic generator.
  let state = (round * 0x9e3779b1 + group * 0x85ebca6b) >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1))
    const swapped = out[i]!
    out[i] = out[j]!
    out[j] = swapped
  }
  return out
}

/**
 * Measures groups of cells in rounds, interleaved: a round measures every cell of every group once,
 * each group's cells in an order of their own (`order`), so the machine's drift, the other
 * programs' load and the previous cell's garbage fall on every cell alike. Rounds go on until
 * `rounds.max`, or until `seconds` have passed once `rounds.min` are done, so every cell has the
 * same number of rounds. `once` measures one cell once (on a fresh kernel); `progress` is told
 * before each measurement (rounds done, the group). Returns each cell's samples, by group.
 */
export const inRounds = <C, S, E, R>(
  groups: ReadonlyArray<ReadonlyArray<C>>,
  rounds: Rounds,
  seconds: number,
  once: (cell: C) => Effect.Effect<S, E, R>,
  progress: (round: number, group: number) => Effect.Effect<void> = () => Effect.void
): Effect.Effect<Array<Array<Array<S>>>, E, R> =>
  Effect.gen(function* () {
    const samples = groups.map((g) => g.map((): Array<S> => []))
    const t0 = performance.now()
    for (let r = 0; r < rounds.max && (r < rounds.min || performance.now() - t0 < seconds * 1000); r++) {
      for (const [k, group] of groups.entries()) {
        yield* progress(r, k)
        for (const i of order(group.length, r, k)) samples[k]![i]!.push(yield* once(group[i]!))
      }
    }
    return samples
  })

/**
 * Runs `body` on a freshly booted kernel of `frames` frames (any one process may use them all) and
 * `capSlots` capability slots per process (default the kernel's), shut down afterwards. Any failure
 * of `body` is a defect: a lab cell that cannot run is a bug.
 */
export const onFreshKernel = <A, E>(
  config: { readonly frames: number; readonly capSlots?: number },
  body: (k: KernelCore) => Effect.Effect<A, E, Kernel.Kernel | Scope.Scope>
): Effect.Effect<A> =>
  Effect.flatMap(FiberRef.get(KernelSeed), (seed) =>
    Effect.scoped(Effect.flatMap(Kernel.Kernel, body)).pipe(
      Effect.orDie,
      Effect.provide(Kernel.layer({ ...config, processQuota: config.frames, ...(seed === undefined ? {} : { seed }) }))
    )
  )

/**
 * The seed of the kernels `onFreshKernel` boots (`undefined`: live kernels, what `npm start`
 * uses). Seeded kernels schedule deterministically (see `Kernel.layer`): with the stand-in clock,
 * the same cells then count the same work on every run.
 */
export const KernelSeed: FiberRef.FiberRef<number | undefined> = FiberRef.unsafeMake<number | undefined>(undefined)

/** A budget of one warm-up and one timed operation per client: for traced runs. */
export const ONE_OPERATION: Budget = { warmUpMs: 0, runMs: 0 }

/** Runs `body` with a fresh tracer and renders what it recorded as a Mermaid sequence diagram titled `title`. */
export const traced = (title: string, body: (tracer: Tracer) => Effect.Effect<unknown>): Effect.Effect<string> =>
  Effect.suspend(() => {
    const tracer = new Tracer()
    return Effect.map(body(tracer), () => toMermaid(tracer.events, title))
  })
