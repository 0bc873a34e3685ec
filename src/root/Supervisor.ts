/**
 * Supervision (Minix reincarnation server, Hubris supervisor, Erlang supervisors): a root-task
 * fiber that watches a server process and, when it fails, restarts it in the same pid with the
 * next generation after a back-off. Capabilities to the old generation's ports are stale from
 * then on; clients find the new port again through the name service (`NameService.client`).
 *
 * Policy:
 * - Restart on failure only (`Failed`: a defect or a typed error ended the program). A process
 *   that exits or is killed (by the root task, or a kernel shutdown) is not restarted; supervision
 *   then ends with that exit.
 * - Back-off: `initial`, doubling with each restart in the last `window`, at most `max`.
 * - More than `maxRestarts` restarts within `window` ends supervision with `RestartLimit`: a
 *   server that cannot stay up is left dead rather than restarted in a tight loop.
 */
import { Clock, Data, Duration, Effect, Fiber } from "effect"
import type * as KernelError from "../kernel/errors.js"
import * as Kernel from "../kernel/Kernel.js"
import type * as Process from "../kernel/Process.js"

/** The server failed more than `maxRestarts` times within `window`; it is left dead. */
export class RestartLimit extends Data.TaggedError("RestartLimit")<{
  readonly name: string
  readonly pid: number
  readonly restarts: number
  readonly window: string
}> {
  override get message() {
    return `supervisor: ${this.name}#${this.pid} failed ${this.restarts + 1} times within ${this.window}; not restarted`
  }
}

/** Options of `supervise` and `start`. */
export interface SupervisorOptions {
  /** Spawn options of every incarnation (name, quota, initial capabilities). */
  readonly spawn?: Kernel.SpawnOptions
  /** First back-off. Default 10 ms. */
  readonly initial?: Duration.DurationInput
  /** Longest back-off. Default 1 s. */
  readonly max?: Duration.DurationInput
  /** Restarts allowed within `window`. Default 5. */
  readonly maxRestarts?: number
  /** Default 10 s. */
  readonly window?: Duration.DurationInput
}

/** What ends supervision with an error. */
export type SupervisorError =
  RestartLimit | KernelError.InvalidArgument | KernelError.InvalidCapability | KernelError.StaleCapability | KernelError.RightsDenied

/** A supervised server, as the root task sees it. */
export interface Supervised {
  /** The current incarnation. */
  readonly current: Process.Pcb
  /** Restarts so far. */
  readonly restarts: number
  /** Waits for supervision to end: the last incarnation's exit (not a failure), or the error; interrupted after `stop`. */
  readonly await: Effect.Effect<Process.ProcessExit, SupervisorError>
  /** Stops supervising (the current incarnation keeps running). */
  readonly stop: Effect.Effect<void>
}

/** The mutable record a supervision loop keeps; read through `Supervised`. */
class State {
  restarts = 0
  constructor(public current: Process.Pcb) {}
}

const loop = <A, E>(
  state: State,
  program: Effect.Effect<A, E, Process.Process>,
  options: SupervisorOptions
): Effect.Effect<Process.ProcessExit, SupervisorError, Kernel.Kernel> =>
  Effect.gen(function* () {
    const initial = Duration.toMillis(options.initial ?? "10 millis")
    const max = Duration.toMillis(options.max ?? "1 second")
    const window = Duration.decode(options.window ?? "10 seconds")
    const maxRestarts = options.maxRestarts ?? 5
    const recent: Array<number> = []
    for (;;) {
      const exit = yield* state.current.await
      if (exit._tag !== "Failed") return exit
      const now = yield* Clock.currentTimeMillis
      while (recent.length > 0 && recent[0]! <= now - Duration.toMillis(window)) recent.shift()
      if (recent.length >= maxRestarts) {
        const pcb = state.current
        return yield* new RestartLimit({ name: pcb.name, pid: pcb.pid, restarts: recent.length, window: Duration.format(window) })
      }
      yield* Effect.sleep(Math.min(max, initial * 2 ** recent.length))
      state.current = yield* Kernel.restart(state.current, program, options.spawn ?? {})
      recent.push(now)
      state.restarts++
    }
  })

/**
 * Supervises the running process `first`, which runs `program`: waits for it, restarts it on
 * failure (see the module policy), and returns the exit that ended supervision. Errors:
 * `RestartLimit`, and the errors of `Kernel.restart` (an initial capability gone, …).
 */
export const supervise = <A, E>(
  first: Process.Pcb,
  program: Effect.Effect<A, E, Process.Process>,
  options: SupervisorOptions = {}
): Effect.Effect<Process.ProcessExit, SupervisorError, Kernel.Kernel> => loop(new State(first), program, options)

/**
 * Spawns `program` with `options.spawn` and supervises it on a daemon fiber. Errors: those of
 * `Kernel.spawn`. Supervision ends by itself when the process exits or is killed.
 */
export const start = <A, E>(
  program: Effect.Effect<A, E, Process.Process>,
  options: SupervisorOptions = {}
): Effect.Effect<
  Supervised,
  KernelError.InvalidArgument | KernelError.InvalidCapability | KernelError.StaleCapability | KernelError.RightsDenied,
  Kernel.Kernel
> =>
  Effect.gen(function* () {
    const state = new State(yield* Kernel.spawn(program, options.spawn ?? {}))
    const kernel = yield* Kernel.Kernel
    const fiber = yield* Effect.forkDaemon(Effect.provideService(loop(state, program, options), Kernel.Kernel, kernel))
    return {
      get current() {
        return state.current
      },
      get restarts() {
        return state.restarts
      },
      await: Fiber.join(fiber),
      stop: Fiber.interrupt(fiber).pipe(Effect.asVoid)
    }
  })
