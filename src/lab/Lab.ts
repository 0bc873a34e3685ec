/**
 * The lab: runs the file workload over a matrix of strategies × sizes × client counts, and traces
 * single scenarios as Mermaid sequence diagrams. The command line (`src/bin/main.ts`) is a thin
 * shell over this module.
 */
import { Effect, Either } from "effect"
import * as Kernel from "../kernel/Kernel.js"
import { toMermaid, Tracer } from "../kernel/Trace.js"
import * as Port from "../ipc/Port.js"
import { type CellSpec, type Measurement, runCell, STRATEGIES, type Strategy } from "./Workload.js"

/** What to measure. */
export interface LabMatrix {
  readonly strategies: ReadonlyArray<Strategy>
  readonly sizes: ReadonlyArray<number>
  readonly clients: ReadonlyArray<number>
  /** Bytes each cell moves (per direction, all clients together), before the per-client limits. */
  readonly budget: number
}

/** The full matrix: every strategy at 64 B, 4 KiB, 64 KiB and 1 MiB, with 1, 8 and 64 clients. */
export const fullMatrix: LabMatrix = {
  strategies: STRATEGIES,
  sizes: [64, 4096, 65536, 1048576],
  clients: [1, 8, 64],
  budget: 16 * 1048576
}

/** A reduced matrix that runs in a few seconds (tests, CI). */
export const quickMatrix: LabMatrix = {
  strategies: STRATEGIES,
  sizes: [64, 65536],
  clients: [1, 4],
  budget: 1048576
}

/** Operations per client for one cell: the byte budget shared out, at least 1 and at most 200. */
export const opsFor = (matrix: LabMatrix, size: number, clients: number): number =>
  Math.max(1, Math.min(200, Math.floor(matrix.budget / (size * clients))))

/** The cells of a matrix, sizes outermost. */
export const cells = (matrix: LabMatrix): Array<CellSpec> =>
  matrix.sizes.flatMap((size) =>
    matrix.clients.flatMap((clients) => matrix.strategies.map((strategy) => ({ strategy, size, clients, ops: opsFor(matrix, size, clients) })))
  )

/** Runs every cell in order, calling `progress(done, total, cell)` before each. */
export const run = (
  matrix: LabMatrix,
  progress: (done: number, total: number, cell: CellSpec) => Effect.Effect<void> = () => Effect.void
): Effect.Effect<ReadonlyArray<Measurement>> =>
  Effect.gen(function* () {
    const all = cells(matrix)
    const out: Array<Measurement> = []
    for (const [i, cell] of all.entries()) {
      yield* progress(i, all.length, cell)
      out.push(yield* runCell(cell))
    }
    yield* progress(all.length, all.length, all[all.length - 1]!)
    return out
  })

/** The scenarios `trace` can draw. */
export const SCENARIOS = ["write", "read", "open", "peer-death"] as const
/** A traced scenario. */
export type Scenario = (typeof SCENARIOS)[number]

/** Runs `scenario` on a traced kernel and returns its Mermaid `sequenceDiagram`. */
export const trace = (scenario: Scenario): Effect.Effect<string> => {
  const tracer = new Tracer()
  switch (scenario) {
    case "write":
    case "read": {
      // One client writes 8 KiB by lease and reads it back; keep the half the scenario names.
      return Effect.map(runCell({ strategy: "lease", size: 8192, clients: 1, ops: 1 }, tracer), () => {
        const half = Math.ceil(tracer.events.length / 2)
        const events = scenario === "write" ? tracer.events.slice(0, half) : tracer.events.slice(half)
        return toMermaid(events, `${scenario}: 8 KiB by lease, client → storage server`)
      })
    }
    case "open":
      return Effect.map(runCell({ strategy: "ring", size: 4096, clients: 1, ops: 1 }, tracer), () =>
        toMermaid(tracer.events.slice(0, 4), "open: a session sets up its ring channels")
      )
    case "peer-death":
      return peerDeath(tracer)
  }
}

/** A server dies while one client is being served and another waits: both get PeerDied. */
const peerDeath = (tracer: Tracer): Effect.Effect<string> =>
  Effect.scoped(
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      k.tracer = tracer
      const server = Either.getOrThrow(k.create({ name: "server" }))
      const port = Either.getOrThrow(Port.createFor(server, { capacity: 1 }))
      yield* k.start(server, Effect.zipRight(Port.receive(port.slot), Effect.never))
      const callers = yield* Effect.forEach([1, 2], (i) =>
        Kernel.spawn(Effect.either(Port.call(0, { label: i })), { name: `client${i}`, caps: [{ cap: port }] })
      )
      yield* Effect.repeatN(Effect.yieldNow(), 10)
      tracer.record({ from: "root", to: `server#${server.pid}`, kind: "message", text: "kill" })
      yield* Kernel.kill(server)
      for (const c of callers) {
        const exit = yield* c.await
        const outcome = exit._tag === "Exited" ? (exit.value as Either.Either<unknown, { _tag: string }>) : undefined
        tracer.record({
          from: `client${callers.indexOf(c) + 1}#${c.pid}`,
          to: `client${callers.indexOf(c) + 1}#${c.pid}`,
          kind: "kernel",
          text: `call fails with ${outcome !== undefined && Either.isLeft(outcome) ? outcome.left._tag : "?"}`
        })
      }
      return toMermaid(tracer.events, "peer death: the server is killed with one caller served and one queued")
    }).pipe(Effect.orDie, Effect.provide(Kernel.layer({ frames: 256 })))
  )
