/**
 * The `race` scenario, on a seeded kernel: three clients race through the VFS, each trying to
 * create `/lock` exclusively (`wx`) and then to rename `/shared` to a name of its own. The file
 * system's guarantees hold on every schedule (one exclusive-create winner, one rename winner, the
 * others `EEXIST` and `ENOENT`); who wins, and how the messages interleave, follow from the seed.
 * The same seed draws the same diagram, byte for byte.
 */
import { Deferred, Effect, Either } from "effect"
import * as Kernel from "../../kernel/Kernel.js"
import { toMermaid, Tracer } from "../../kernel/Trace.js"
import * as Vfs from "../../fs/VfsClient.js"
import * as System from "../../root/FileSystemStack.js"

/** Clients in the race. */
const CLIENTS = 3

/** What one client got: whether it won the exclusive create, and the rename. */
export interface RaceOutcome {
  readonly client: string
  readonly created: boolean
  readonly renamed: boolean
}

/** A traced run of the race. */
export interface RaceRun {
  readonly seed: number
  readonly outcomes: ReadonlyArray<RaceOutcome>
  /** The Mermaid `sequenceDiagram` of the race (setup untraced). */
  readonly diagram: string
}

/** One racing client: wait for the start, create `/lock` exclusively, rename `/shared` to `/taken-by-<name>`. */
const racer = (name: string, start: Deferred.Deferred<void>) =>
  Effect.gen(function* () {
    const vfs = Vfs.client(0)
    yield* Deferred.await(start)
    const lock = yield* Effect.either(vfs.open({ path: "/lock", flags: "wx", mode: 0o644 }))
    if (Either.isRight(lock)) yield* vfs.close({ fd: lock.right.fd })
    const moved = yield* Effect.either(vfs.rename({ from: "/shared", to: `/taken-by-${name}` }))
    return { client: name, created: Either.isRight(lock), renamed: Either.isRight(moved) } satisfies RaceOutcome
  })

/** Runs the race on a fresh kernel seeded with `seed`. Defects: a client that does not return. */
export const run = (seed: number): Effect.Effect<RaceRun> =>
  Effect.scoped(
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const system = yield* System.start()
      const setup = yield* System.spawnClient(system, Vfs.writeFile(Vfs.client(0), "/shared", new TextEncoder().encode("one file, one winner")), "setup")
      yield* setup.await
      const start = yield* Deferred.make<void>()
      const clients = yield* Effect.forEach(
        Array.from({ length: CLIENTS }, (_, i) => `client${i + 1}`),
        (name) => System.spawnClient(system, racer(name, start), name)
      )
      const tracer = new Tracer()
      k.tracer = tracer
      yield* Deferred.succeed(start, undefined)
      const outcomes: Array<RaceOutcome> = []
      for (const c of clients) {
        const exit = yield* c.await
        if (exit._tag !== "Exited") return yield* Effect.dieMessage(`race: ${c.name} ended ${exit._tag}`)
        const o = exit.value as RaceOutcome
        outcomes.push(o)
        const who = `${c.name}#${c.pid}`
        tracer.record({
          from: who,
          to: who,
          kind: "kernel",
          text: `${o.created ? "created /lock" : "EEXIST on /lock"}, ${o.renamed ? "renamed /shared" : "ENOENT on /shared"}`
        })
      }
      k.tracer = undefined
      const diagram = toMermaid(tracer.events, `race, seed ${seed}: ${CLIENTS} clients create /lock exclusively and rename /shared`)
      return { seed, outcomes, diagram }
    }).pipe(Effect.orDie, Effect.provide(Kernel.layer({ seed, frames: 1024 })))
  )

/** The Mermaid diagram of the race on a kernel seeded with `seed`. */
export const diagram = (seed: number): Effect.Effect<string> => Effect.map(run(seed), (r) => r.diagram)
