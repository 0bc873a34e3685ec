/**
 * The lab: runs the file workload over a matrix of strategies × sizes × client counts, and traces
 * single scenarios as Mermaid sequence diagrams. The command line (`src/bin/main.ts`) is a thin
 * shell over this module.
 */
import { Effect, Either } from "effect"
import * as Kernel from "../kernel/Kernel.js"
import { toMermaid, Tracer } from "../kernel/Trace.js"
import * as Port from "../ipc/Port.js"
import * as Race from "./scenarios/race.js"
import { runVfsCell, type VfsCellSpec, type VfsMeasurement, VFS_STRATEGIES, type VfsStrategy } from "./VfsWorkload.js"
import { type CellSpec, type Measurement, runCell, STRATEGIES, type Strategy } from "./Workload.js"

/** What to measure. */
export interface LabMatrix {
  readonly strategies: ReadonlyArray<Strategy>
  readonly sizes: ReadonlyArray<number>
  readonly clients: ReadonlyArray<number>
  /** The paths through the VFS and the RAM file system to measure as well. */
  readonly vfs: ReadonlyArray<VfsStrategy>
  /** Bytes each cell moves (per direction, all clients together), before the per-client limits. */
  readonly budget: number
  /**
   * Times each cell is measured; the fastest is kept (default 1). A cell of a few operations is
   * easily disturbed by one garbage collection or the other core's work; the best of a few rounds
   * is what the design costs.
   */
  readonly rounds?: number
}

/** The full matrix: every strategy at 64 B, 4 KiB, 64 KiB and 1 MiB, with 1, 8 and 64 clients. */
export const fullMatrix: LabMatrix = {
  strategies: STRATEGIES,
  sizes: [64, 4096, 65536, 1048576],
  clients: [1, 8, 64],
  vfs: VFS_STRATEGIES,
  budget: 8 * 1048576,
  rounds: 3
}

/** A reduced matrix that runs in a few seconds (tests, CI). */
export const quickMatrix: LabMatrix = {
  strategies: STRATEGIES,
  sizes: [64, 65536],
  clients: [1, 4],
  vfs: VFS_STRATEGIES,
  budget: 1048576
}

/** Operations per client for one cell: the byte budget shared out, at least 1 and at most 200. */
export const opsFor = (matrix: LabMatrix, size: number, clients: number): number => Math.max(1, Math.min(200, Math.floor(matrix.budget / (size * clients))))

/** The cells of a matrix, sizes outermost: the direct strategies, then the VFS paths. */
export const cells = (matrix: LabMatrix): Array<CellSpec | VfsCellSpec> =>
  matrix.sizes.flatMap((size) =>
    matrix.clients.flatMap((clients): Array<CellSpec | VfsCellSpec> => [
      ...matrix.strategies.map((strategy) => ({ strategy, size, clients, ops: opsFor(matrix, size, clients) })),
      ...matrix.vfs.map((strategy) => ({ strategy, size, clients, ops: opsFor(matrix, size, clients) }))
    ])
  )

/** What a lab run measured. */
export interface LabResults {
  readonly direct: ReadonlyArray<Measurement>
  readonly vfs: ReadonlyArray<VfsMeasurement>
}

const isVfs = (cell: CellSpec | VfsCellSpec): cell is VfsCellSpec => cell.strategy.startsWith("vfs.")

/** The fastest of `matrix.rounds` measurements of one cell. */
const best = <M extends { readonly usPerOp: number }>(matrix: LabMatrix, measureOnce: () => Effect.Effect<M>): Effect.Effect<M> =>
  Effect.gen(function* () {
    let fastest = yield* measureOnce()
    for (let round = 1; round < (matrix.rounds ?? 1); round++) {
      const m = yield* measureOnce()
      if (m.usPerOp < fastest.usPerOp) fastest = m
    }
    return fastest
  })

/** Runs every cell in order (each `matrix.rounds` times), calling `progress(done, total, cell)` before each. */
export const run = (
  matrix: LabMatrix,
  progress: (done: number, total: number, cell: CellSpec | VfsCellSpec) => Effect.Effect<void> = () => Effect.void
): Effect.Effect<LabResults> =>
  Effect.gen(function* () {
    const all = cells(matrix)
    const direct: Array<Measurement> = []
    const vfs: Array<VfsMeasurement> = []
    for (const [i, cell] of all.entries()) {
      yield* progress(i, all.length, cell)
      if (isVfs(cell)) vfs.push(yield* best(matrix, () => runVfsCell(cell)))
      else direct.push(yield* best(matrix, () => runCell(cell)))
    }
    yield* progress(all.length, all.length, all[all.length - 1]!)
    return { direct, vfs }
  })

/** The scenarios `trace` can draw. */
export const SCENARIOS = ["write", "read", "open", "peer-death", "race"] as const
/** A traced scenario. */
export type Scenario = (typeof SCENARIOS)[number]

/**
 * Runs `scenario` on a traced kernel and returns its Mermaid `sequenceDiagram`: `open`, `write`
 * and `read` of an 8 KiB file through the VFS and the RAM file system (by lease), `peer-death`,
 * and `race` on a kernel seeded with `seed` (default 1; see `scenarios/race.ts`).
 */
export const trace = (scenario: Scenario, seed = 1): Effect.Effect<string> => {
  if (scenario === "race") return Effect.map(Race.run(seed), (r) => r.diagram)
  const tracer = new Tracer()
  if (scenario === "peer-death") return peerDeath(tracer)
  return Effect.map(runVfsCell({ strategy: "vfs.lease", size: 8192, clients: 1, ops: 1 }, { tracer, step: scenario }), () =>
    toMermaid(tracer.events, `${scenario}: 8 KiB through the VFS to the RAM file system, by lease`)
  )
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
