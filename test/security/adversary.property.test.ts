/**
 * The adversary: hostile processes issue random syscalls with random and hostile arguments
 * (getters that change between reads, proxies, wrong types, huge and negative numbers, NaN, other
 * processes' slots, addresses and handles), serve direct calls with hostile handlers and call each
 * other directly, while honest client/server pairs keep calling (half of them directly).
 *
 * Asserted: no defect (every failure is a typed error), no hang, no frame leaked once every
 * process has exited, no byte of a process seen or changed by another except what it lent,
 * mapped or granted, and every honest call answered correctly.
 *
 * `FUZZ_STEPS` (steps per hostile process) and `FUZZ_SEED` run it longer (`npm run fuzz`).
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import { Caps, Kernel, Lease, Memory, Notification, Port, Process, Ring, Transfer } from "../../src/index.js"
import { Rights } from "../../src/kernel/Capability.js"
import type { Pcb, ProcessExit } from "../../src/kernel/Process.js"
import { PAGE_SIZE } from "../../src/params.js"

const STEPS = Number(process.env["FUZZ_STEPS"] ?? 1000)
const SEED = Number(process.env["FUZZ_SEED"] ?? 20261201)
const HOSTILE = 3
const HONEST_CALLS = 200

/** A small seeded PRNG (mulberry32): the same seed, the same run of choices. */
const prng = (seed: number) => {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number) => Math.floor(next() * n)
  const pick = <A>(xs: ReadonlyArray<A>): A => xs[int(xs.length)]!
  return { next, int, pick }
}
type Rng = ReturnType<typeof prng>

/** Sixteen bytes no process ever sends anywhere: if a hostile process ever sees them, isolation broke. */
const SECRET = Uint8Array.from({ length: 16 }, (_, i) => (i * 37 + 11) & 255 || 1)
const containsSecret = (bytes: Uint8Array): boolean => {
  outer: for (let i = 0; i + SECRET.length <= bytes.length; i++) {
    for (let j = 0; j < SECRET.length; j++) if (bytes[i + j] !== SECRET[j]) continue outer
    return true
  }
  return false
}
/** A page of secrets: the pattern again and again. */
const secretPage = (): Uint8Array => {
  const page = new Uint8Array(PAGE_SIZE)
  for (let i = 0; i + SECRET.length <= PAGE_SIZE; i += SECRET.length) page.set(SECRET, i)
  return page
}

/** What the hostile processes share out of band: handles they got, to try in another process. */
interface Loot {
  readonly handles: Array<unknown>
  leaked: number
  defects: Array<string>
  /** Outcomes by tag ("ok" for a success), so a run shows it reached the kernel's paths. */
  readonly outcomes: Record<string, number>
}

/** A value an attacker might pass where a number goes. */
const hostileNumber = (r: Rng, own: ReadonlyArray<number>): unknown => {
  switch (r.int(16)) {
    case 0:
      return r.int(8)
    case 1:
      return own.length > 0 ? r.pick(own) : PAGE_SIZE
    case 2:
      return (own.length > 0 ? r.pick(own) : 0) + r.int(3 * PAGE_SIZE) - PAGE_SIZE
    case 3:
      return r.int(2 ** 32)
    case 4:
      return r.pick([2 ** 31, 2 ** 32, 2 ** 40, 2 ** 53, Number.MAX_SAFE_INTEGER + 2, Infinity, -Infinity])
    case 5:
      return r.pick([-1, -4096, Number.NaN, 0.5, 1.5, -0])
    case 6:
      return r.pick(["1", "abc", "", null, undefined, true, 10n, Symbol("x"), {}, [], () => 1])
    case 7:
      return new Proxy({}, { get: () => r.int(10) })
    default:
      return r.int(64)
  }
}

/** A getter that answers something different every time (a value that checked one way, used another). */
const flipper = (r: Rng, choices: ReadonlyArray<unknown>) => {
  let i = r.int(choices.length)
  return () => choices[i++ % choices.length]
}

/** A transfer item, often malformed, sometimes with fields that change between reads. */
const hostileItem = (r: Rng, own: ReadonlyArray<number>, loot: Loot): unknown => {
  const n = () => hostileNumber(r, own)
  const tag = r.pick(["copy", "lease", "map", "grant", "nope", 7])
  const base: Record<string, unknown> = {
    _tag: tag,
    address: n(),
    length: n(),
    pages: r.int(4) + 1,
    rights: r.int(4),
    access: r.pick(["read", "write", "readWrite", "all"]),
    offset: n()
  }
  if (tag === "lease" && r.int(3) === 0) base["from"] = loot.handles.length > 0 ? r.pick(loot.handles) : { _tag: "Lease" }
  if (r.int(4) === 0) {
    const key = r.pick(["address", "length", "pages", "rights", "_tag"])
    const value = base[key]
    delete base[key]
    Object.defineProperty(base, key, { enumerable: true, get: flipper(r, [value, n(), n(), 2 ** 20]) })
  }
  if (r.int(10) === 0) return new Proxy(base, { get: (t, k) => (r.int(5) === 0 ? n() : Reflect.get(t, k)) })
  return base
}

/** A message, often malformed. */
const hostileMessage = (r: Rng, own: ReadonlyArray<number>, caps: ReadonlyArray<number>, loot: Loot): unknown => {
  if (r.int(20) === 0) return hostileNumber(r, own)
  const m: Record<string, unknown> = { label: r.int(4) === 0 ? hostileNumber(r, own) : r.int(8) }
  if (r.int(2) === 0) m["data"] = r.int(5) === 0 ? hostileNumber(r, own) : new Uint8Array(r.pick([0, 8, 64, 200, 256, 257, 5000]))
  if (r.int(3) === 0) m["caps"] = r.int(4) === 0 ? hostileNumber(r, own) : [r.pick([...caps, 0, 1, 999, -1])]
  if (r.int(2) === 0) m["items"] = Array.from({ length: r.int(3) + 1 }, () => hostileItem(r, own, loot))
  if (r.int(6) === 0) {
    const first = m["data"] ?? new Uint8Array(4)
    Object.defineProperty(m, "data", { enumerable: true, get: flipper(r, [first, new Uint8Array(4000), "x"]) })
  }
  return m
}

const hostileOptions = (r: Rng, own: ReadonlyArray<number>): unknown =>
  r.pick([
    undefined,
    {},
    { pages: hostileNumber(r, own) },
    { windows: [{ address: hostileNumber(r, own), length: hostileNumber(r, own) }] },
    hostileNumber(r, own)
  ])

/** Every byte array an attacker got: it must never hold another process's secret. */
const inspect = (loot: Loot, value: unknown): void => {
  const look = (v: unknown, depth: number): void => {
    if (depth > 3 || v === null || typeof v !== "object") return
    if (v instanceof Uint8Array) {
      if (containsSecret(v)) loot.leaked++
      return
    }
    for (const key of Object.keys(v)) look((v as Record<string, unknown>)[key], depth + 1)
  }
  look(value, 0)
}

/** One random syscall of a hostile process. */
function hostileStep(r: Rng, own: Array<number>, caps: Array<number>, loot: Loot): Effect.Effect<unknown, unknown, Process.Process> {
  const n = () => hostileNumber(r, own) as number
  const handle = () =>
    (loot.handles.length > 0 && r.int(2) === 0 ? r.pick(loot.handles) : r.pick([{ _tag: "Reply", label: 1 }, { _tag: "Lease" }, null, n()])) as never
  const bytes = () => (r.int(4) === 0 ? (n() as never) : new Uint8Array(r.int(300)))
  const slot = () => (r.int(3) === 0 ? n() : r.pick([...caps, 0, 1, 2, 3]))
  // A slot to give up: seldom the process's own port or its peer's (the direct calls need them).
  const spare = () => (r.int(8) === 0 ? slot() : r.int(3) === 0 ? n() : r.pick([...caps.slice(4), 0, 3]))
  switch (r.int(32)) {
    case 0:
      return Effect.tap(Memory.allocate(r.int(4) === 0 ? n() : r.int(8) + 1, r.int(4) === 0 ? n() : 3), (a) => Effect.sync(() => own.push(a)))
    case 1:
      return Memory.free(n())
    case 2:
      return Memory.read(n(), r.int(3) === 0 ? n() : r.int(2 * PAGE_SIZE))
    case 3:
      return Memory.write(n(), bytes())
    case 4:
      return Memory.protect(n(), n(), n())
    case 5:
      return Memory.copy(n(), n(), n())
    case 6:
      return r.pick([
        Caps.copy(slot()),
        Caps.mint(slot(), n(), r.int(2) === 0 ? undefined : n()),
        Caps.move(spare()),
        Caps.remove(spare()),
        Caps.inspect(slot())
      ])
    case 7:
      return Caps.revoke(spare())
    case 8:
      return Effect.tap(Port.create(r.int(3) === 0 ? (hostileOptions(r, own) as never) : { capacity: r.int(3) }), (s) => Effect.sync(() => caps.push(s)))
    case 9:
    case 10:
      return Port.call(slot(), hostileMessage(r, own, caps, loot) as never, hostileOptions(r, own) as never)
    case 11:
      return Port.send(slot(), hostileMessage(r, own, caps, loot) as never)
    case 12:
      return Port.trySend(slot(), hostileMessage(r, own, caps, loot) as never)
    case 13:
    case 14:
      return Effect.tap(
        r.int(2) === 0 ? Port.tryReceive(slot(), hostileOptions(r, own) as never) : Port.receive(slot(), hostileOptions(r, own) as never),
        (m) =>
          Effect.sync(() => {
            if (m.reply !== undefined) loot.handles.push(m.reply)
            for (const item of m.items) {
              if (item._tag === "lease") loot.handles.push(item.lease)
              if (item._tag === "map" || item._tag === "grant") own.push(item.address)
            }
          })
      )
    case 15:
      return Port.reply(handle(), hostileMessage(r, own, caps, loot) as never)
    case 16:
      return Port.replyReceive(handle(), hostileMessage(r, own, caps, loot) as never, slot(), hostileOptions(r, own) as never)
    case 17:
      return Effect.tap(Notification.create, (s) => Effect.sync(() => caps.push(s)))
    case 18:
      return Notification.signal(slot(), r.int(2) === 0 ? undefined : n())
    case 19:
      return r.int(2) === 0 ? Notification.poll(slot()) : Notification.wait(slot())
    case 20:
      return r.pick([Lease.info(handle()), Lease.readBytes(handle(), n(), r.int(64)), Lease.writeBytes(handle(), n(), bytes())])
    case 21:
      return r.int(2) === 0 ? Lease.read(handle(), n(), n(), n()) : Lease.write(handle(), n(), n(), n())
    case 22:
      return Transfer.revoke(n(), r.int(3) === 0 ? n() : r.int(4) + 1)
    case 23:
      return Effect.flatMap(
        Ring.create(r.int(3) === 0 ? (hostileOptions(r, own) as never) : { entries: r.int(8) + 1, entrySize: r.int(64) + 1 }),
        ({ end, share }) =>
          Effect.sync(() => {
            loot.handles.push(end)
            own.push(end.address)
            void share
          })
      )
    case 24:
      return Ring.tryPush(handle(), bytes())
    case 25:
      return Ring.tryPop(handle())
    case 26: {
      // A forged ring end naming this process: it may only ever reach this process's own memory.
      const me = Effect.flatMap(Process.Process, (h) =>
        Ring.tryPop({ role: "consumer", address: n(), pages: 1, entries: n(), entrySize: n(), dataBell: n(), spaceBell: n(), owner: h })
      )
      return me
    }
    case 27:
      return Memory.usage
    case 28:
      return Caps.usage
    case 29:
      // Mostly on its own port (caps[1]), so that the others' direct calls meet its handler.
      return Port.serveDirect(
        r.int(4) === 0 ? slot() : caps[1]!,
        hostileHandler(r, own, caps, loot),
        r.int(3) === 0 ? (hostileOptions(r, own) as never) : { window: PAGE_SIZE, pages: 4 }
      )
    case 30:
    case 31:
      // Half into the next hostile's port (caps[2]) with a well-formed message, to reach its handler.
      return r.int(2) === 0
        ? Port.callDirect(caps[2]!, { label: r.int(8), data: new Uint8Array(r.int(64)) })
        : Port.callDirect(slot(), hostileMessage(r, own, caps, loot) as never, hostileOptions(r, own) as never)
    default:
      return Effect.yieldNow()
  }
}

/**
 * A hostile direct handler: on a call into its server it answers with a hostile message, fails,
 * dies, throws while building its effect, waits, answers twice, keeps the call, or makes a
 * random syscall as the server first.
 */
const hostileHandler =
  (r: Rng, own: Array<number>, caps: Array<number>, loot: Loot): Port.DirectHandler =>
  (m) => {
    if (m.reply !== undefined) loot.handles.push(m.reply)
    // Four in 64 fault the handler's own server (it dies, and its callers get PeerDied): often
    // enough to happen in every run, seldom enough for the server to see many calls first.
    switch (r.int(64)) {
      case 0:
        return Effect.succeed(hostileMessage(r, own, caps, loot) as never)
      case 1:
        return Effect.fail("hostile failure")
      case 2:
        return Effect.die("hostile defect")
      case 3:
        throw new Error("hostile throw")
      case 4:
        return Effect.as(Effect.sleep("5 millis"), { label: 1 })
      case 5:
        return Effect.zipRight(Effect.ignore(Port.reply(m.reply!, { label: 2 })), Effect.succeed({ label: 3 }))
      case 6:
        return Effect.void
      case 7:
        return Effect.as(Effect.ignore(hostileStep(r, own, caps, loot)), { label: 4 })
      default:
        return Effect.succeed({ label: m.label, data: m.data })
    }
  }

/** A hostile program: `steps` random syscalls, each bounded in time, every outcome inspected. */
const hostile = (seed: number, steps: number, loot: Loot, mine: number, peer: number) =>
  Effect.gen(function* () {
    const r = prng(seed)
    const own: Array<number> = []
    // Slot 0: the honest server; `mine`: this process's own port; `peer`: the next hostile's.
    const caps: Array<number> = [0, mine, peer, peer]
    for (let i = 0; i < steps; i++) {
      const exit = yield* Effect.exit(Effect.timeout(hostileStep(r, own, caps, loot), "20 millis"))
      const f = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : undefined
      const tag = Exit.isSuccess(exit) ? "ok" : f?._tag === "Some" ? String((f.value as { _tag?: string })._tag) : "interrupted or died"
      loot.outcomes[tag] = (loot.outcomes[tag] ?? 0) + 1
      if (Exit.isSuccess(exit)) inspect(loot, exit.value)
      else if (!Cause.isFailType(exit.cause) && !Cause.isInterruptedOnly(exit.cause)) {
        const defects = Cause.defects(exit.cause)
        if (defects.length > 0) loot.defects.push(Cause.pretty(exit.cause).split("\n").slice(0, 3).join(" "))
      } else if (f?._tag === "Some") {
        inspect(loot, f.value)
      }
      if (own.length > 64) own.splice(0, 32)
      if (loot.handles.length > 64) loot.handles.splice(0, 32)
    }
    return "done"
  })

const checksum = (bytes: Uint8Array): number => {
  let h = 2166136261
  for (const b of bytes) h = Math.imul(h ^ b, 16777619) >>> 0
  return h >>> 0
}

/**
 * The honest server: echo (label 1), checksum of a lease (2), checksum of granted pages (3), by
 * call and by direct call. It keeps a page of secrets, frees every page it is given, and answers
 * every call it can.
 */
const honestServer = (portSlot: number) =>
  Effect.gen(function* () {
    const secret = yield* Memory.allocate(1)
    yield* Memory.write(secret, secretPage())
    const window = yield* Memory.allocate(1)
    // The same answers to direct calls, on the callers' threads.
    yield* Port.serveDirect(portSlot, (msg) => honestAnswer(msg), { window: PAGE_SIZE, pages: 64 })
    for (;;) {
      const m = yield* Effect.either(Port.receive(portSlot, { windows: [{ address: window, length: PAGE_SIZE }], pages: 64 }))
      if (m._tag === "Left") continue
      const msg = m.right
      const answer = yield* honestAnswer(msg)
      if (msg.reply !== undefined) yield* Effect.ignore(Port.reply(msg.reply, answer))
    }
  })

/** The honest server's answer to `msg`; the pages it brought are freed. */
const honestAnswer = (msg: Port.Received) =>
  Effect.gen(function* () {
    const pages = msg.items.filter((i) => i._tag === "map" || i._tag === "grant")
    let answer = new Uint8Array(4)
    if (msg.label === 1) answer = msg.data.slice().reverse()
    else if (msg.label === 2 && msg.items[0]?._tag === "lease") {
      const bytes = yield* Effect.either(Lease.readBytes(msg.items[0].lease, 0, msg.items[0].length))
      if (bytes._tag === "Right") new DataView(answer.buffer).setUint32(0, checksum(bytes.right), true)
    } else if (msg.label === 3 && msg.items[0]?._tag === "grant") {
      const bytes = yield* Effect.either(Memory.read(msg.items[0].address, msg.items[0].pages * PAGE_SIZE))
      if (bytes._tag === "Right") new DataView(answer.buffer).setUint32(0, checksum(bytes.right), true)
    }
    for (const p of pages) yield* Effect.ignore(Memory.free((p as { address: number }).address))
    if (containsSecret(answer) && msg.label !== 1) return yield* Effect.die("the server was about to answer with its secret")
    return { label: msg.label, data: answer }
  })

/** An honest client: `calls` checked calls by copy, lease and grant; it keeps a page of secrets and checks it at the end. */
const honestClient = (seed: number, calls: number) =>
  Effect.gen(function* () {
    const r = prng(seed)
    const secret = yield* Memory.allocate(1)
    yield* Memory.write(secret, secretPage())
    let correct = 0
    let directCalls = 0
    for (let i = 0; i < calls; i++) {
      const data = Uint8Array.from({ length: r.int(200) + 1 }, () => r.int(200))
      const kind = r.int(3)
      // Half the calls direct: the same answers, on this thread.
      const direct = r.int(2) === 0
      if (direct) directCalls++
      const call = direct ? Port.callDirect : Port.call
      if (kind === 0) {
        const reply = yield* call(0, { label: 1, data })
        if (checksum(reply.data) === checksum(data.slice().reverse())) correct++
      } else if (kind === 1) {
        const buf = yield* Memory.allocate(1)
        yield* Memory.write(buf, data)
        const reply = yield* call(0, { label: 2, items: [{ _tag: "lease", address: buf, length: data.length, access: "read" }] })
        if (new DataView(reply.data.buffer, reply.data.byteOffset).getUint32(0, true) === checksum(data)) correct++
        yield* Memory.free(buf)
      } else {
        const buf = yield* Memory.allocate(1)
        yield* Memory.write(buf, data)
        const page = yield* Memory.read(buf, PAGE_SIZE)
        const reply = yield* call(0, { label: 3, items: [{ _tag: "grant", address: buf, pages: 1 }] })
        if (new DataView(reply.data.buffer, reply.data.byteOffset).getUint32(0, true) === checksum(page)) correct++
        yield* Memory.free(buf)
      }
      if (i % 25 === 0) yield* Effect.sleep("1 millis")
    }
    const intact = checksum(yield* Memory.read(secret, PAGE_SIZE)) === checksum(secretPage())
    return { correct, intact, directCalls }
  })

const exitText = (e: ProcessExit): string => (e._tag === "Failed" ? `Failed: ${Cause.pretty(e.cause).split("\n")[0]}` : e._tag)

describe("the adversary", () => {
  it.live(
    `SEC-0100 hostile processes (${HOSTILE} × ${STEPS} random syscalls, seed ${SEED}) cause no defect, no hang, no leak, no crossing, and honest calls are all answered`,
    () =>
      Effect.gen(function* () {
        const k = yield* Kernel.Kernel
        const loot: Loot = { handles: [], leaked: 0, defects: [], outcomes: {} }
        const server = yield* Effect.orDie(k.create({ name: "honest-server" }))
        const port = yield* Effect.orDie(Port.createFor(server, { capacity: 2 }))
        yield* k.start(server, honestServer(port.slot))
        const clients = yield* Effect.forEach([1, 2], (i) =>
          Kernel.spawn(honestClient(SEED + i, HONEST_CALLS), { name: `honest-${i}`, caps: [{ cap: port, rights: Rights.send | Rights.grant, badge: i }] })
        )
        // Each hostile process holds a capability to the honest server's port and one to the next hostile's.
        const hostiles: Array<Pcb> = []
        for (let i = 0; i < HOSTILE; i++)
          hostiles.push(yield* Effect.orDie(k.create({ name: `hostile-${i}`, caps: [{ cap: port, rights: Rights.all & ~Rights.receive, badge: 100 + i }] })))
        const mine: Array<number> = []
        const peer: Array<number> = []
        for (let i = 0; i < HOSTILE; i++) {
          const next = hostiles[(i + 1) % HOSTILE]!
          const theirs = yield* Effect.orDie(Port.createFor(next, { capacity: 1 }))
          mine[(i + 1) % HOSTILE] = theirs.slot
          peer[i] = yield* Effect.orDie(Effect.suspend(() => next.cspace.mint(theirs.slot, Rights.send | Rights.grant, undefined, hostiles[i]!.cspace)))
        }
        for (let i = 0; i < HOSTILE; i++) yield* k.start(hostiles[i]!, hostile(SEED * 31 + i, STEPS, loot, mine[i]!, peer[i]!))
        const hostileExits = yield* Effect.forEach(hostiles, (h) => h.await)
        const honest = yield* Effect.forEach(clients, (c) => c.await)
        yield* Kernel.kill(server)
        expect(loot.defects).toEqual([])
        // The attack reached the kernel: many calls succeeded, and the refusals are of many kinds.
        expect(loot.outcomes["ok"] ?? 0).toBeGreaterThan((HOSTILE * STEPS) / 15)
        expect(Object.keys(loot.outcomes).length).toBeGreaterThan(8)
        if (process.env["FUZZ_VERBOSE"] !== undefined) console.log(JSON.stringify(loot.outcomes), "direct calls", k.stats().directCalls)
        // A hostile process ends when its steps are done, or when a direct handler of its own faulted it.
        for (const exit of hostileExits.map(exitText))
          expect(exit).toMatch(
            /^Exited$|^Failed: (Error: hostile|hostile defect|InvalidMessage|InvalidAddress|InvalidArgument|NotAccepted|MessageTooLarge|PageFault|RightsDenied|InvalidCapability)/
          )
        const answered = honest.map((e) => (e._tag === "Exited" ? (e.value as { correct: number; intact: boolean; directCalls: number }) : exitText(e)))
        expect(answered).toEqual([
          { correct: HONEST_CALLS, intact: true, directCalls: expect.any(Number) },
          { correct: HONEST_CALLS, intact: true, directCalls: expect.any(Number) }
        ])
        // Hostile handlers were entered, not only the honest server's.
        const honestDirect = answered.reduce((n, a) => n + (typeof a === "string" ? 0 : a.directCalls), 0)
        expect(k.stats().directCalls - honestDirect).toBeGreaterThan(0)
        expect(loot.leaked).toBe(0)
        expect(k.stats().processesAlive).toBe(0)
        expect(k.memory.framesInUse).toBe(0)
      }).pipe(Effect.provide(Kernel.layer({ frames: 4096 }))),
    120_000
  )
})
