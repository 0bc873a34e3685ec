/**
 * Experiment `server-pool` — one thread in the VFS blocks everyone; how many threads? Clients call
 * a VFS-like server, which calls a file system for every request; the file system takes a fixed
 * time per request (as a disk would) and overlaps as many requests as it is given. The server is
 * built one of three ways:
 *
 * | design | how the server waits for the file system |
 * |---|---|
 * | workers-N | N threads, each: receive, call the file system (blocked), reply |
 * | per-request | one receiving thread starts a new thread per request, which calls the file system and replies |
 * | deferred | one thread, never blocked: it keeps each caller's reply capability in a table of pending requests, sends the file system a one-way request, and answers when the file system's one-way completion comes back |
 *
 * Throughput is requests answered per second, all clients together; latency is each call's time
 * as its client sees it. The knee is the smallest pool that no larger pool beats.
 */
import { Effect, Either } from "effect"
import { Rights } from "../../kernel/Capability.js"
import * as Caps from "../../kernel/Caps.js"
import * as Kernel from "../../kernel/Kernel.js"
import * as Process from "../../kernel/Process.js"
import type { Tracer } from "../../kernel/Trace.js"
import type { IpcError } from "../../ipc/errors.js"
import * as Port from "../../ipc/Port.js"
import { leadOf, leadsAlong, numberOf, seriesAlong, variant, where } from "../Analysis.js"
import { type ClockSource, type LabClock, realClock } from "../Clock.js"
import type { Cell, CellResult, Group, Measured, Resolution, Sample, Table } from "../Experiment.js"
import { list, num, percent, withSpread } from "../Format.js"
import { type Budget, measure, onFreshKernel, ONE_OPERATION, type Session, rateIn, traced } from "../Harness.js"
import { compare, knee, percentile } from "../Stats.js"

/** Milliseconds the file system takes per request. */
export const LATENCY_MS = 1

const READ = 1
const DONE = 2

/** A server design: a pool of `workers`, or one of the two others. */
type Design = { readonly _tag: "workers"; readonly workers: number } | { readonly _tag: "per-request" } | { readonly _tag: "deferred" }

const designOf = (name: string): Design =>
  name.startsWith("workers-") ? { _tag: "workers", workers: Number(name.slice("workers-".length)) } : { _tag: name as "per-request" | "deferred" }

const idOf = (data: Uint8Array) => new DataView(data.buffer, data.byteOffset).getUint32(0, true)
const idBytes = (id: number) => {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, id, true)
  return b
}

/** The label of the one call that hands the file system a capability for its completions. */
const CONNECT = 3

/**
 * The file system on the port in slot 0: first it takes a send capability for its one-way
 * completions; then every request waits `LATENCY_MS` in a thread of its own and is answered — a
 * call by its reply, a one-way request by a one-way completion.
 */
const fileSystem = (clock: LabClock) =>
  Effect.gen(function* () {
    const hello = yield* Port.receive(0)
    const completions = hello.caps[0]!
    yield* Port.reply(hello.reply!, { label: 0 })
    yield* Effect.forever(
      Effect.flatMap(Port.receive(0), (m) =>
        Process.fork(
          Effect.zipRight(
            clock.sleep(LATENCY_MS),
            m.reply !== undefined ? Port.reply(m.reply, { label: 0 }) : Port.send(completions, { label: DONE, data: m.data })
          )
        )
      )
    )
  })

/** Slots of the VFS-like server: its send capability to the file system, and its own port. */
const FS = 0
const OWN = 1

/** The VFS-like server: hands the file system a send capability to its port, then serves by `design`. */
const vfs = (design: Design) =>
  Effect.gen(function* () {
    const sendOnly = yield* Caps.mint(OWN, Rights.send)
    yield* Port.call(FS, { label: CONNECT, caps: [sendOnly] })
    yield* serve(design)
  })

const serve = (design: Design): Effect.Effect<void, IpcError, Process.Process> => {
  switch (design._tag) {
    case "workers": {
      const worker = Effect.gen(function* () {
        let m = yield* Port.receive(OWN)
        for (;;) {
          yield* Port.call(FS, { label: READ })
          m = yield* Port.replyReceive(m.reply!, { label: 0 }, OWN)
        }
      })
      return Effect.forEach(Array.from({ length: design.workers }), () => Process.fork(worker), { discard: true }).pipe(Effect.zipRight(Effect.never))
    }
    case "per-request":
      return Effect.forever(
        Effect.flatMap(Port.receive(OWN), (m) => Process.fork(Effect.zipRight(Port.call(FS, { label: READ }), Port.reply(m.reply!, { label: 0 }))))
      )
    case "deferred":
      return Effect.gen(function* () {
        // The table of pending requests: each caller's reply capability, by request id. Owned by this one thread.
        const pending = new Map<number, Port.Reply>()
        let next = 0
        for (;;) {
          const m = yield* Port.receive(OWN)
          if (m.label === DONE) {
            const id = idOf(m.data)
            yield* Port.reply(pending.get(id)!, { label: 0 })
            pending.delete(id)
          } else {
            const id = next++
            pending.set(id, m.reply!)
            yield* Port.send(FS, { label: READ, data: idBytes(id) })
          }
        }
      })
  }
}

interface Spec {
  readonly design: string
  readonly clients: number
}

/** A client: calls the server for the session's budget. */
const client = (s: Session) => Effect.zipRight(s.loop(Effect.asVoid(Port.call(0, { label: READ }))), Effect.succeed(true))

const once = (spec: Spec, clockSource: ClockSource, budget: Budget, tracer?: Tracer): Effect.Effect<Sample> =>
  onFreshKernel({ frames: 64 + spec.clients }, (k) =>
    Effect.gen(function* () {
      const clock = clockSource(k)
      const fsPcb = Either.getOrThrow(k.create({ name: "fs" }))
      const fsPort = Either.getOrThrow(Port.createFor(fsPcb, { capacity: 0 }))
      const vfsPcb = Either.getOrThrow(k.create({ name: "vfs", caps: [{ cap: fsPort, rights: Rights.send | Rights.grant }] }))
      const vfsPort = Either.getOrThrow(Port.createFor(vfsPcb, { capacity: 0 }))
      yield* k.start(fsPcb, fileSystem(clock))
      yield* k.start(vfsPcb, vfs(designOf(spec.design)))
      const t = yield* measure(k, { clock, budget, label: `server-pool ${spec.design} × ${spec.clients}`, clients: spec.clients, tracer }, (i, s) =>
        Kernel.spawn(client(s), { name: `client${i}`, caps: [{ cap: vfsPort, rights: Rights.send }] })
      )
      return {
        // By the wall clock over the timed section: with many clients one round of them lasts longer
        // than an operation's median suggests (a call waits for the others).
        value: rateIn(t.completions, t),
        extra: { p50: percentile(t.latencies, 50), p99: percentile(t.latencies, 99) },
        intact: t.results.every((r) => r === true)
      }
    })
  )

// --- the sweeps ---------------------------------------------------------------------------------

const PLANS: Record<Resolution, { readonly clients: ReadonlyArray<number>; readonly workers: ReadonlyArray<number> }> = {
  quick: { clients: [1, 64], workers: [1, 8, 64] },
  default: { clients: [1, 16, 256], workers: [1, 4, 16, 64] },
  full: { clients: [1, 4, 16, 64, 256], workers: [1, 2, 4, 8, 16, 32, 64] }
}

const designs = (r: Resolution): Array<string> => [...PLANS[r].workers.map((n) => `workers-${n}`), "per-request", "deferred"]

const groups = (r: Resolution): Array<Group> =>
  PLANS[r].clients.map((clients) => ({
    key: `${clients} client${clients === 1 ? "" : "s"}`,
    cells: designs(r).map((variant) => ({ variant, params: { clients } }))
  }))

// --- the analysis -------------------------------------------------------------------------------

const analyse = (results: ReadonlyArray<CellResult>) => {
  const clientCounts = [...new Set(results.map((r) => numberOf(r, "clients")))].sort((a, b) => a - b)
  const names = [...new Set(results.map((r) => r.variant))]
  const pools = names.filter((n) => n.startsWith("workers-")).sort((a, b) => designWorkers(a) - designWorkers(b))
  const at = (clients: number) => where(results, { clients })
  const most = clientCounts[clientCounts.length - 1]!
  const busiest = at(most)
  const series = pools.map((name) => ({ x: designWorkers(name), spread: variant(busiest, name)!.value }))
  const kneeAt = knee(series, "higher")
  const bestPool = leadOf(busiest.filter((r) => r.variant.startsWith("workers-"))).leader
  /** How `name` compares with the best pool at the most clients, in words. */
  const against = (name: string) => {
    const l = leadOf([variant(busiest, name)!, bestPool])
    return l.winner === undefined
      ? `${name} ties with the best pool (${bestPool.variant})`
      : `${name} is ${l.winner === bestPool ? "slower than" : "faster than"} the best pool (${bestPool.variant})`
  }
  const share = (name: string) => percent(variant(busiest, name)!.value.median / bestPool.value.median)
  const single = variant(busiest, pools[0]!)!
  const beatenBy = (n: number) =>
    names.filter((name) => name !== pools[0] && compare(variant(at(n), name)!.value, variant(at(n), pools[0]!)!.value, "higher") === "a")
  const latencies = (name: string) => {
    const r = variant(busiest, name)!
    return `${name} p50 ${num(r.extra["p50"]!)} ms, p99 ${num(r.extra["p99"]!)} ms`
  }
  const conclusions = [
    `Most throughput, by number of clients: ${leadsAlong(clientCounts, at, String)}.`,
    ...clientCounts.map((n) => {
      const beat = beatenBy(n)
      return `With ${n} client${n === 1 ? "" : "s"}, ${beat.length === 0 ? "no design beats one blocking worker" : `${list(beat)} beat${beat.length === 1 ? "s" : ""} one blocking worker`}.`
    }),
    kneeAt === undefined
      ? `With ${most} clients every pool size is beaten by a larger one.`
      : `The knee, ${most} clients: more workers stop helping at ${kneeAt} (no larger pool beats workers-${kneeAt}).`,
    `With ${most} clients, ${against("per-request")}; ${against("deferred")}.`
  ]
  const figures = [
    `One blocking worker serves ${num(single.value.median)} requests/s with ${most} clients: one request per ${LATENCY_MS} ms file-system wait, plus IPC, allows at most ${num(1000 / LATENCY_MS)}/s.`,
    ...(kneeAt === undefined
      ? []
      : [`At the knee, workers-${kneeAt} serves ${num(variant(busiest, `workers-${kneeAt}`)!.value.median)} requests/s with ${most} clients.`]),
    `With ${most} clients, per-request reaches ${share("per-request")} of the best pool's throughput and deferred ${share("deferred")}.`,
    `Latency with ${most} clients: ${[pools[0]!, bestPool.variant, "per-request", "deferred"]
      .filter((n, i, all) => all.indexOf(n) === i)
      .map(latencies)
      .join("; ")}.`
  ]
  const throughput: Table = {
    caption: "Requests answered per second, all clients together (median and 95 % interval over the rounds)",
    header: ["design", ...clientCounts.map((n) => `${n} client${n === 1 ? "" : "s"}`)],
    rows: names.map((name) => [name, ...clientCounts.map((n) => (variant(at(n), name) === undefined ? "—" : withSpread(variant(at(n), name)!.value)))])
  }
  const latency: Table = {
    caption: "Latency per call as the client sees it, p50 / p99 in ms (medians over the rounds)",
    header: ["design", ...clientCounts.map((n) => `${n} client${n === 1 ? "" : "s"}`)],
    rows: names.map((name) => [
      name,
      ...clientCounts.map((n) => {
        const r = variant(at(n), name)
        return r === undefined ? "—" : `${num(r.extra["p50"]!)} / ${num(r.extra["p99"]!)}`
      })
    ])
  }
  return {
    answer:
      `With ${most} clients and a ${LATENCY_MS} ms file system, ` +
      (kneeAt === undefined ? "every pool size is beaten by a larger one" : `throughput grows with the pool up to ${kneeAt} workers (the knee)`) +
      `; ${against("per-request")}; ${against("deferred")}.`,
    conclusions,
    figures,
    tables: [throughput, latency],
    chart: {
      title: `One slow file system (${LATENCY_MS} ms per request) behind a VFS-like server`,
      x: { label: "clients", log: true, format: (n: number) => String(n) },
      y: { label: "requests per second (log scale)", log: true },
      series: seriesAlong(clientCounts, at, names, (n) => n)
    }
  }
}

const designWorkers = (name: string) => Number(name.slice("workers-".length))

/** Two clients and the one-thread server with its table of pending requests, traced. */
const diagram = traced("server-pool: one server thread, two callers, replies deferred until the file system completes", (tracer) =>
  once({ design: "deferred", clients: 2 }, realClock, ONE_OPERATION, tracer)
)

/** The experiment. */
export const serverPool: Measured = {
  _tag: "Measured",
  name: "server-pool",
  title: "How many threads in the server",
  question:
    "… in case of there is only one thread handling the requests inside the VFS because while serving the request of app1 is waiting for the underlying FS driver to complete the operation would prevent a concurrent request from app2 to get executed. How could I solve this? Use multiple threads to process requests in a server? … but how many?",
  method: [
    "Clients call a VFS-like server, which calls a file system for every request; the file system takes",
    `${LATENCY_MS} ms per request (as a disk would) and overlaps every request it is given. The server runs a pool of`,
    "N threads (`workers-N`: receive, call the file system, reply), starts a thread per request (`per-request`), or",
    "runs one thread that never blocks (`deferred`: it keeps each caller's reply capability in a table of pending",
    "requests, sends the file system a one-way request, and answers when the one-way completion comes back).",
    "Throughput counts the requests answered in the timed section, all clients together, by the wall clock (the file",
    "system's wait is real time); latency is each call as its client sees it."
  ].join(" "),
  metric: { name: "throughput", unit: "requests/s", better: "higher" },
  settings: {
    quick: { budget: { warmUpMs: 5, runMs: 20 }, rounds: { min: 3, max: 3 }, seconds: 3, warmUpMs: 40 },
    default: { budget: { warmUpMs: 10, runMs: 50 }, rounds: { min: 3, max: 5 }, seconds: 10, warmUpMs: 100 },
    full: { budget: { warmUpMs: 50, runMs: 200 }, rounds: { min: 5, max: 9 }, seconds: 600, warmUpMs: 300 }
  },
  groups,
  warmUp: ["workers-4", "per-request", "deferred"].map((variant) => ({ variant, params: { clients: 16 } })),
  once: (cell: Cell, clock, budget) => once({ design: cell.variant, clients: numberOf(cell, "clients") }, clock, budget),
  analyse,
  diagram
}
