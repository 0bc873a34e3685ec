/**
 * A test kit for plugin authors (`@effect/vitest`): boot a small kernel, spawn a server from a
 * protocol and handlers, run client programs as real processes, and drive the `TestClock` while
 * something waits on time (back-offs, deadlines).
 *
 * ```ts
 * it.effect("Get after Put", () =>
 *   Effect.gen(function* () {
 *     const kv = yield* TestKernel.serve(KvProtocol, KvServer.handlers)
 *     const got = yield* TestKernel.withClient(kv, (c) => Effect.zipRight(c.Put({ key: "a", value: "1" }), c.Get({ key: "a" })))
 *     expect(got).toBe("1")
 *   }).pipe(Effect.provide(TestKernel.layer())))
 * ```
 *
 * Everything here is root-task code (it needs the `Kernel` service); the programs it runs see
 * only their `Process`, exactly as in production.
 */
import { Cause, Data, Duration, Effect, Exit, Fiber, Scheduler, TestClock } from "effect"
import * as Port from "../ipc/Port.js"
import * as Protocol from "../ipc/Protocol.js"
import * as Capability from "../kernel/Capability.js"
import type * as KernelError from "../kernel/errors.js"
import * as Kernel from "../kernel/Kernel.js"
import type * as Process from "../kernel/Process.js"
import * as Trace from "../kernel/Trace.js"
import * as Server from "../lib/Server.js"
import * as NameServer from "../servers/names/NameServer.js"

/** A kernel for tests: `Kernel.layer` with 1,024 frames (4 MiB) unless `options` say otherwise. */
export const layer = (options: Kernel.KernelOptions = {}) => Kernel.layer({ frames: 1024, ...options })

/** What spawning a process can fail with. */
export type SpawnError = KernelError.InvalidArgument | KernelError.InvalidCapability | KernelError.StaleCapability | KernelError.RightsDenied

/** A client process was killed, or ended with a defect, instead of returning. */
export class ProcessDied extends Data.TaggedError("ProcessDied")<{ readonly name: string; readonly exit: string }> {
  override get message() {
    return `process ${this.name} did not return: ${this.exit}`
  }
}

/** A server spawned by `serve`. */
export interface TestServer<Ops extends Protocol.Operations> {
  readonly protocol: Protocol.Protocol<Ops>
  readonly process: Process.Pcb
  /** The original capability (every right) to the server's port, held by the server. */
  readonly port: Capability.Capability
  readonly counters: Server.Counters<Ops>
}

/** Options of `serve`. */
export interface ServeOptions {
  readonly name?: string
  /** As `Server.ServeOptions.workers`: a fixed number, or a growing pool `{ min, max }`. */
  readonly workers?: number | { readonly min: number; readonly max: number }
  /** Capacity of the server's port. Default 0 (rendezvous). */
  readonly capacity?: number
  /** Capabilities the server holds in slots 0, 1, … (its port comes after them), e.g. to servers it calls. */
  readonly caps?: ReadonlyArray<Kernel.InitialCapability>
  /** As `Server.ServeOptions.direct`: also serve direct calls. Default false. */
  readonly direct?: boolean
}

/**
 * Spawns a process serving `protocol` with `handlers` on a new port. Errors: the kernel's, when
 * the process or port cannot be made (`InvalidArgument`).
 */
export const serve = <Ops extends Protocol.Operations, E = never>(
  protocol: Protocol.Protocol<Ops>,
  handlers: Server.Handlers<Ops> | Effect.Effect<Server.Handlers<Ops>, E, Process.Process>,
  options: ServeOptions = {}
): Effect.Effect<TestServer<Ops>, SpawnError, Kernel.Kernel> =>
  Effect.gen(function* () {
    const k = yield* Kernel.Kernel
    const process = yield* k.create({ name: options.name ?? protocol.name, caps: options.caps ?? [] })
    const port = yield* Port.createFor(process, options.capacity === undefined ? {} : { capacity: options.capacity })
    const counters = Server.counters(protocol)
    const serverOptions = { counters, direct: options.direct === true, ...(options.workers === undefined ? {} : { workers: options.workers }) }
    yield* k.start(process, Server.serve(protocol, handlers, port.slot, serverOptions))
    return { protocol, process, port, counters }
  })

/**
 * Runs `program` as a new process and returns what it returns; its typed failure is this
 * effect's failure. Errors: `ProcessDied` when it was killed or died of a defect, and the
 * kernel's spawn errors.
 */
export const run = <A, E>(
  program: Effect.Effect<A, E, Process.Process>,
  options: Kernel.SpawnOptions = {}
): Effect.Effect<A, E | ProcessDied | SpawnError, Kernel.Kernel> =>
  Effect.flatMap(Kernel.spawn(program, { name: "client", ...options }), (pcb) =>
    Effect.flatMap(pcb.await, (exit): Effect.Effect<A, E | ProcessDied> => {
      switch (exit._tag) {
        case "Exited":
          return Effect.succeed(exit.value as A)
        case "Failed": {
          const failure = Cause.failureOption(exit.cause as Cause.Cause<E>)
          return failure._tag === "Some" ? Effect.fail(failure.value) : Effect.fail(new ProcessDied({ name: pcb.name, exit: Cause.pretty(exit.cause) }))
        }
        case "Killed":
          return Effect.fail(new ProcessDied({ name: pcb.name, exit: "killed" }))
      }
    })
  )

/** Options of `withClient`. */
export interface ClientOptions {
  /** Badge of the client's capability. Default: none. */
  readonly badge?: number
  /** Rights of the client's capability. Default: send + grant. */
  readonly rights?: number
  /** More capabilities for the client, in slots 1, 2, … */
  readonly caps?: ReadonlyArray<Kernel.InitialCapability>
  /** As `Protocol.ClientOptions.direct`: which methods call directly. Default: none. */
  readonly direct?: boolean | ReadonlyArray<string>
}

/**
 * Runs `f(client)` in a new client process whose slot 0 holds a capability to `server`'s port,
 * and returns what it returns. Errors: as `run`.
 */
export const withClient = <Ops extends Protocol.Operations, A, E>(
  server: TestServer<Ops>,
  f: (client: Protocol.Client<Ops>) => Effect.Effect<A, E, Process.Process>,
  options: ClientOptions = {}
): Effect.Effect<A, E | ProcessDied | SpawnError, Kernel.Kernel> => {
  const first: Kernel.InitialCapability = {
    cap: server.port,
    rights: options.rights ?? Capability.Rights.send | Capability.Rights.grant,
    ...(options.badge === undefined ? {} : { badge: options.badge })
  }
  return run(f(Protocol.client(server.protocol, 0, options.direct === undefined ? {} : { direct: options.direct })), { caps: [first, ...(options.caps ?? [])] })
}

/** A running name service. */
export interface TestNames {
  readonly process: Process.Pcb
  readonly port: Capability.Capability
  /** An initial capability for a process that registers or looks up names (send + grant). */
  readonly grant: (badge?: number) => Kernel.InitialCapability
}

/** Spawns a name service on a new port. Errors: the kernel's spawn errors. */
export const names = (): Effect.Effect<TestNames, SpawnError, Kernel.Kernel> =>
  Effect.gen(function* () {
    const k = yield* Kernel.Kernel
    const process = yield* k.create({ name: "names" })
    const port = yield* Port.createFor(process)
    yield* k.start(process, NameServer.program({ port: port.slot }))
    return {
      process,
      port,
      grant: (badge) => ({ cap: port, rights: Capability.Rights.send | Capability.Rights.grant, ...(badge === undefined ? {} : { badge }) })
    }
  })

/** The test clock gave up: `effect` was still waiting after `limit` of virtual time. */
export class StillWaiting extends Data.TaggedError("StillWaiting")<{ readonly limit: string }> {}

/**
 * Runs `effect` while advancing the `TestClock` by `step` whenever everything is blocked (the
 * kernel settled, `Kernel.settle`), so code that sleeps (back-offs, retries, timeouts) proceeds
 * without real waiting. Errors: those of `effect`, and `StillWaiting` after `limit` of virtual
 * time (default 1 minute): nothing waits forever.
 */
export const withClock = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  step: Duration.DurationInput = "10 millis",
  limit: Duration.DurationInput = "1 minute"
): Effect.Effect<A, E | StillWaiting, R | Kernel.Kernel> =>
  Effect.gen(function* () {
    const fiber = yield* Effect.fork(effect)
    const steps = Math.ceil(Duration.toMillis(limit) / Duration.toMillis(step))
    for (let i = 0; i <= steps; i++) {
      yield* Kernel.settle
      const done = fiber.unsafePoll()
      if (done !== null) return yield* done
      yield* TestClock.adjust(step)
    }
    yield* Fiber.interrupt(fiber)
    return yield* new StillWaiting({ limit: Duration.format(Duration.decode(limit)) })
  })

/** A seeded run stopped: nothing in the kernel could run any more, and the scenario had not finished. */
export class Deadlock extends Data.TaggedError("Deadlock")<{ readonly seed: number; readonly virtualTimeMs: number }> {
  override get message() {
    return `seed ${this.seed}: deadlock at ${this.virtualTimeMs} ms of virtual time: every fiber waits and no deadline is pending`
  }
}

/**
 * A scenario to explore: root-task code (it spawns servers and clients with the `Kernel`
 * service) that fails, with a typed error or a defect, when it observes a bug.
 */
export type Scenario<A, E> = Effect.Effect<A, E, Kernel.Kernel>

/** One seeded run of a scenario. */
export interface Run<A, E> {
  readonly seed: number
  readonly exit: Exit.Exit<A, E | Deadlock | StillWaiting>
  /** The message-sequence trace of the whole run (its kernel traces from boot). */
  readonly trace: ReadonlyArray<Trace.TraceEvent>
  /** The trace as a Mermaid `sequenceDiagram`. */
  readonly diagram: string
}

/** Options of `replay` and `explore`. */
export interface RunOptions {
  /** The kernel of every run (frames default 1,024 as in `layer`; the seed is the run's). */
  readonly kernel?: Omit<Kernel.KernelOptions, "seed">
  /** Virtual time after which a run that has not finished fails with `StillWaiting`. Default 1 hour. */
  readonly limit?: Duration.DurationInput
}

/** Options of `explore`. */
export interface ExploreOptions extends RunOptions {
  /** Schedules to try. */
  readonly schedules: number
  /** The first schedule's seed; schedule `i` runs with seed `seed + i`. Default 1. */
  readonly seed?: number
}

/** What `explore` found: every schedule passed, or the first that failed. */
export type Explored<A, E> =
  { readonly _tag: "Passed"; readonly schedules: number } | { readonly _tag: "Failed"; readonly schedule: number; readonly run: Run<A, E> }

/** Waits for a turn of the host's event loop, off the kernel's scheduler (so off its schedule). */
const hostTurn: Effect.Effect<void> = Effect.withScheduler(
  Effect.async<void>((resume) => {
    setImmediate(() => resume(Effect.void))
  }),
  Scheduler.defaultScheduler
)

/**
 * Runs `scenario` once on a fresh kernel seeded with `seed` (`Kernel.layer({ seed })`: seeded
 * choice among ready fibers, virtual clock), tracing it. The same seed reruns exactly the same
 * schedule: same trace, same outcome. The run's exit is the scenario's, or `Deadlock` (nothing
 * can run and it has not finished) or `StillWaiting` (past `options.limit` of virtual time).
 * Errors: none (a failure of the scenario is in the exit).
 */
export const replay = <A, E>(seed: number, scenario: Scenario<A, E>, options: RunOptions = {}): Effect.Effect<Run<A, E>> => {
  const limitMs = Duration.toMillis(options.limit ?? "1 hour")
  return Effect.scoped(
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const tracer = new Trace.Tracer()
      k.tracer = tracer
      const clock = k.scheduler.clock!
      const fiber = yield* Effect.fork(scenario)
      // The watch runs off the kernel: it reads the kernel, never wakes it, so it cannot change the schedule.
      const exit = yield* Effect.withScheduler(
        Effect.gen(function* () {
          for (;;) {
            yield* hostTurn
            const done = fiber.unsafePoll()
            if (done !== null) return done
            const stuck =
              k.scheduler.ready === 0 && clock.pending === 0
                ? new Deadlock({ seed, virtualTimeMs: clock.unsafeCurrentTimeMillis() })
                : clock.unsafeCurrentTimeMillis() > limitMs
                  ? new StillWaiting({ limit: Duration.format(Duration.millis(limitMs)) })
                  : undefined
            if (stuck !== undefined) {
              yield* Fiber.interruptFork(fiber)
              return Exit.fail(stuck)
            }
          }
        }),
        Scheduler.defaultScheduler
      )
      return { seed, exit, trace: tracer.events, diagram: Trace.toMermaid(tracer.events, `seed ${seed}`) }
    }).pipe(Effect.provide(layer({ ...options.kernel, seed })))
  )
}

/**
 * Runs `scenario` under `options.schedules` seeded schedules (seeds `seed`, `seed + 1`, …) and
 * reports the first that failed, with its seed and trace (`replay(run.seed, scenario)` reruns
 * it exactly), or that all passed. Errors: none.
 */
export const explore = <A, E>(scenario: Scenario<A, E>, options: ExploreOptions): Effect.Effect<Explored<A, E>> =>
  Effect.gen(function* () {
    const first = options.seed ?? 1
    for (let schedule = 0; schedule < options.schedules; schedule++) {
      const run = yield* replay(first + schedule, scenario, options)
      if (Exit.isFailure(run.exit)) return { _tag: "Failed", schedule, run } as const
    }
    return { _tag: "Passed", schedules: options.schedules } as const
  })
