import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { Capability, Kernel, type Process } from "../../src/index.js"
import * as Protocol from "../../src/ipc/Protocol.js"
import { type Attr, FsError, FsProtocol, toNs } from "../../src/lib/FsProtocol.js"
import { asClient, attr, boot, enc } from "./vfs.support.js"
import * as System from "../../src/root/FileSystemStack.js"
import * as Vfs from "../../src/fs/VfsClient.js"
import { ALL, type CacheFs, MountCache, NONE, OWNER, type Vnode } from "../../src/servers/vfs/vnodes.js"

// --- the cache alone, over a stand-in file system (no kernel) ------------------------------------

/** A flat stand-in file system: names in the root only; counts its calls; `during` runs inside a fetch (a change answered meanwhile). */
class StandIn implements CacheFs<never> {
  readonly calls = { root: 0, lookup: 0, getattr: 0, readlink: 0, release: 0 }
  readonly names = new Map<string, Attr>()
  during: (() => void) | undefined = undefined

  private fetch<A>(f: () => A | FsError): Effect.Effect<A, FsError> {
    return Effect.suspend(() => {
      this.during?.()
      const r = f()
      return r instanceof FsError ? Effect.fail(r) : Effect.succeed(r)
    })
  }
  readonly root = () => this.fetch(() => (this.calls.root++, attr(1, "dir", 0o755)))
  readonly lookup = (_dir: number, name: string) => this.fetch(() => (this.calls.lookup++, this.names.get(name) ?? new FsError({ code: "ENOENT" })))
  readonly getattr = (ino: number) =>
    this.fetch(
      () => (this.calls.getattr++, ino === 1 ? attr(1, "dir", 0o755) : ([...this.names.values()].find((a) => a.ino === ino) ?? new FsError({ code: "ENOENT" })))
    )
  readonly readlink = () => this.fetch(() => (this.calls.readlink++, "/target"))
  readonly release = () => this.fetch(() => void this.calls.release++)
  readonly alive = () => true
}

const run = <A>(e: Effect.Effect<A, FsError>) => Effect.runSync(e)
const setup = (maxVnodes?: number, maxIdle?: number) => {
  const fs = new StandIn()
  const cache = new MountCache(fs, maxVnodes, maxIdle)
  const root = run(cache.root())
  return { fs, cache, root }
}

describe("the VFS's cache of a mount (vnodes and names) over a stand-in file system", () => {
  it("CACHE-0001 a name looked up once, present or absent, answers from the cache; a change of an entry is what updates it", () => {
    const { fs, cache, root } = setup()
    fs.names.set("a", attr(5, "file"))
    const a = run(cache.lookup(root, "a"))
    expect(run(cache.lookup(root, "a"))).toBe(a)
    expect(Effect.runSync(Effect.flip(cache.lookup(root, "missing"))).code).toBe("ENOENT")
    expect(Effect.runSync(Effect.flip(cache.lookup(root, "missing"))).code).toBe("ENOENT")
    expect(fs.calls.lookup).toBe(2)
    const b = cache.entered(root, "missing", attr(6, "file"), cache.settle(cache.clock))
    expect(run(cache.lookup(root, "missing"))).toBe(b)
    expect([root.state, fs.calls.lookup]).toEqual([OWNER, 2])
    expect(run(cache.attrOf(root)).ino).toBe(1)
    expect([fs.calls.root, fs.calls.getattr]).toEqual([1, 1])
  })

  it("CACHE-0002 an answer that crossed a change of what it is about is used once, not kept; a change of something else does not stop it", () => {
    const { fs, cache, root } = setup()
    fs.names.set("a", attr(5, "file"))
    fs.names.set("b", attr(6, "file"))
    const other = run(cache.lookup(root, "b"))
    // A change of another file meanwhile: the name and attributes are kept.
    fs.during = () => cache.touched(other, cache.settle(cache.clock))
    const a = run(cache.lookup(root, "a"))
    fs.during = undefined
    expect(run(cache.lookup(root, "a"))).toBe(a)
    expect(fs.calls.lookup).toBe(2)
    // An entry change of the directory meanwhile: the name is used, not kept.
    fs.names.set("c", attr(7, "file"))
    fs.during = () => cache.touched(root, cache.settle(cache.clock))
    run(cache.lookup(root, "c"))
    fs.during = undefined
    run(cache.lookup(root, "c"))
    expect(fs.calls.lookup).toBe(4)
    // A change of the file itself meanwhile: its attributes are used, not kept (its owner part stays current).
    cache.touched(a, cache.settle(cache.clock))
    fs.during = () => cache.touched(a, cache.settle(cache.clock))
    run(cache.attrOf(a))
    expect(a.state).toBe(OWNER)
    fs.during = undefined
    run(cache.attrOf(a))
    expect([a.state, fs.calls.getattr]).toEqual([ALL, 2])
    // A change of an inode the cache has no vnode for (another name of it went): a new vnode's attributes are used, not kept.
    fs.names.set("sub", attr(9, "dir"))
    fs.names.set("d", attr(8, "file"))
    const sub = run(cache.lookup(root, "sub"))
    fs.during = () => void Effect.runSync(cache.removed(sub, "x", { ino: 99, nlink: 1 }, cache.settle(cache.clock)))
    const d = run(cache.lookup(root, "d"))
    fs.during = undefined
    expect(d.state).toBe(NONE)
    run(cache.lookup(root, "d"))
    expect([d.state, fs.calls.lookup, fs.calls.getattr]).toEqual([ALL, 6, 3])
  })

  it("CACHE-0003 descriptors: an idle inode stays held (reopening costs nothing), at most maxIdle of them; an unlinked one is released at its last close", () => {
    const { fs, cache, root } = setup(100, 2)
    const vs: Array<Vnode> = []
    for (let i = 0; i < 3; i++) {
      fs.names.set(`f${i}`, attr(10 + i, "file"))
      const v = run(cache.lookup(root, `f${i}`))
      cache.opened(v)
      cache.hold(v)
      run(cache.closed(v))
      vs.push(v)
    }
    // Three idle, at most two held: the oldest was released.
    expect([fs.calls.release, vs.map((v) => v.held)]).toEqual([1, [0, 1, 1]])
    const v = vs[2]!
    cache.opened(v)
    cache.opened(v)
    run(cache.removed(root, "f2", { ino: v.ino, nlink: 0 }, cache.settle(cache.clock)))
    expect([v.unlinked, fs.calls.release]).toEqual([true, 1])
    run(cache.closed(v))
    expect(fs.calls.release).toBe(1)
    run(cache.closed(v))
    expect([fs.calls.release, v.dead, v.held]).toEqual([2, true, 0])
    // Removed with no descriptor: released at once.
    const w = vs[1]!
    run(cache.removed(root, "f1", { ino: w.ino, nlink: 0 }, cache.settle(cache.clock)))
    expect([fs.calls.release, w.dead]).toEqual([3, true])
    expect(Effect.runSync(Effect.flip(cache.lookup(root, "f1"))).code).toBe("ENOENT")
  })

  it("CACHE-0004 bounded: beyond maxVnodes every vnode no descriptor or hold keeps is forgotten, with every name; open ones keep their identity", () => {
    const { fs, cache, root } = setup(4, 8)
    fs.names.set("open", attr(2, "file"))
    const open = run(cache.lookup(root, "open"))
    cache.opened(open)
    cache.hold(open)
    for (let i = 0; i < 6; i++) {
      fs.names.set(`n${i}`, attr(20 + i, "file"))
      run(cache.lookup(root, `n${i}`))
    }
    expect(cache.size).toBeLessThanOrEqual(4)
    const lookups = fs.calls.lookup
    expect(run(cache.lookup(root, "open"))).toBe(open)
    expect(fs.calls.lookup).toBe(lookups + 1)
  })
})

// --- the cache in the VFS, against the file system's own answers --------------------------------

/** Calls of the root file system since `before` (a snapshot of its counters), by operation, zeros left out. */
const fsCalls = (sys: System.System, before: Record<string, number>) => {
  const now = sys.fsCounters.get("/")!.operations as Record<string, { calls: number }>
  const out: Record<string, number> = {}
  for (const [k, v] of Object.entries(now)) if (v.calls - (before[k] ?? 0) > 0) out[k] = v.calls - (before[k] ?? 0)
  return out
}
const snapshot = (sys: System.System) =>
  Object.fromEntries(Object.entries(sys.fsCounters.get("/")!.operations as Record<string, { calls: number }>).map(([k, v]) => [k, v.calls]))

/** What a stat shows, times as nanoseconds (device left out: the truth has none). */
const shown = (s: {
  ino: number
  type: string
  mode: number
  nlink: number
  uid: number
  gid: number
  size: number
  blocks: number
  atimeNs: bigint
  mtimeNs: bigint
  ctimeNs: bigint
  birthtimeNs: bigint
}) => ({
  ino: s.ino,
  type: s.type,
  mode: s.mode,
  nlink: s.nlink,
  uid: s.uid,
  gid: s.gid,
  size: s.size,
  blocks: s.blocks,
  atimeNs: s.atimeNs,
  mtimeNs: s.mtimeNs,
  ctimeNs: s.ctimeNs,
  birthtimeNs: s.birthtimeNs
})
const truthOf = (a: Attr) =>
  shown({
    ...a,
    atimeNs: toNs(a.atimeSec, a.atimeNsec),
    mtimeNs: toNs(a.mtimeSec, a.mtimeNsec),
    ctimeNs: toNs(a.ctimeSec, a.ctimeNsec),
    birthtimeNs: toNs(a.birthtimeSec, a.birthtimeNsec)
  })

/**
 * The file system's own answer for `path` without following the last link, looked up component by
 * component with calls that change nothing; `undefined` when a directory on the way is a symbolic
 * link (following it is the VFS's job, not this oracle's).
 */
const truth = (fs: Protocol.Client<FsProtocol["operations"]>, path: string) =>
  Effect.gen(function* () {
    let a = yield* fs.root()
    for (const name of path.split("/").filter((c) => c !== "")) {
      if (a.type === "symlink") return undefined
      if (a.type !== "dir") return "ENOTDIR"
      const next = yield* Effect.either(fs.lookup({ dir: a.ino, name }))
      if (Either.isLeft(next)) return (next.left as { code?: string }).code ?? "EIO"
      a = next.right
    }
    return truthOf(a)
  })

/** A seeded generator (mulberry32), so a failure can be replayed. */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const PATHS = ["/a", "/b", "/d", "/d/x", "/d/y", "/e", "/e/z", "/l"]

/** One random operation on the VFS from a client; its failure, if any, is ignored (the state after it is what is compared). */
const randomOp = (vfs: Vfs.Vfs, r: () => number): Effect.Effect<unknown, never, Process.Process> => {
  const pick = () => PATHS[Math.floor(r() * PATHS.length)]!
  const p = pick()
  const q = pick()
  const ops: Array<() => Effect.Effect<unknown, unknown, Process.Process>> = [
    () => Vfs.writeFile(vfs, p, enc("x".repeat(Math.floor(r() * 9000))), r() < 0.5 ? "w" : "a"),
    () => Vfs.readFile(vfs, p),
    () => vfs.mkdir({ path: p, mode: 0o755, recursive: false }),
    () => vfs.rmdir({ path: p }),
    () => vfs.unlink({ path: p }),
    () => vfs.rename({ from: p, to: q }),
    () => vfs.link({ existing: p, path: q }),
    () => vfs.symlink({ target: q, path: p }),
    () => vfs.setattr({ path: p, follow: r() < 0.5, mode: Math.floor(r() * 0o777) | 0o500 }),
    () => vfs.setattr({ path: p, follow: true, atimeNs: BigInt(Math.floor(r() * 1e12)), mtimeNs: BigInt(Math.floor(r() * 1e12)) }),
    () => vfs.setattr({ path: p, follow: true, now: true }),
    () => vfs.truncate({ path: p, size: Math.floor(r() * 5000) }),
    () => Vfs.readdirAll(vfs, p),
    () => Vfs.stat(vfs, p, r() < 0.5),
    () =>
      Effect.flatMap(vfs.open({ path: p, flags: "r+", mode: 0 }), ({ fd }) =>
        Effect.ensuring(Vfs.writeBytes(vfs, fd, enc("yz"), 3), Effect.ignore(vfs.close({ fd })))
      )
  ]
  return Effect.ignore(ops[Math.floor(r() * ops.length)]!())
}

describe("the cache in the VFS", () => {
  it.effect("CACHE-0005 a cached path costs the file system nothing: stat, access, open and close make no call; readFile and writeFile one each", () =>
    Effect.gen(function* () {
      const sys = yield* System.start()
      const r = yield* asClient(sys, (vfs) =>
        Effect.gen(function* () {
          yield* vfs.mkdir({ path: "/d", mode: 0o755, recursive: false })
          yield* Vfs.writeFile(vfs, "/d/f", enc("hello"))
          yield* Vfs.stat(vfs, "/d/f")
          const before = snapshot(sys)
          for (let i = 0; i < 5; i++) {
            yield* Vfs.stat(vfs, "/d/f")
            yield* vfs.access({ path: "/d/f", mode: 4 })
            const { fd } = yield* vfs.open({ path: "/d/f", flags: "r", mode: 0 })
            yield* vfs.close({ fd })
          }
          const quiet = fsCalls(sys, before)
          const beforeRead = snapshot(sys)
          yield* Vfs.readFile(vfs, "/d/f")
          const read = fsCalls(sys, beforeRead)
          const beforeWrite = snapshot(sys)
          yield* Vfs.writeFile(vfs, "/d/f", enc("world"))
          const write = fsCalls(sys, beforeWrite)
          return { quiet, read, write, text: new TextDecoder().decode(yield* Vfs.readFile(vfs, "/d/f")) }
        })
      )
      expect(r).toEqual({ quiet: {}, read: { read: 1 }, write: { write: 1 }, text: "world" })
    }).pipe(boot)
  )

  it.effect("CACHE-0006 exact under every kind of change, from two clients, in turn and at once: every stat equals the file system's own answer", () =>
    Effect.gen(function* () {
      const sys = yield* System.start()
      const fsPort = sys.fsPorts.get("/")!
      const rand = prng(20261201)
      const alice = { uid: 1000, gid: 1000 }
      yield* asClient(sys, (vfs) =>
        Effect.zipRight(vfs.mkdir({ path: "/e", mode: 0o777, recursive: false }), vfs.setattr({ path: "/e", follow: true, mode: 0o777 }))
      )
      const json = (x: unknown) => JSON.stringify(x, (_, v) => (typeof v === "bigint" ? `${v}n` : v))
      const mismatches: Array<unknown> = []
      let compared = 0
      for (let step = 0; step < 60; step++) {
        // Every third step, six clients at once; otherwise one.
        const n = step % 3 === 2 ? 6 : 1
        const seeds = Array.from({ length: n }, () => Math.floor(rand() * 2 ** 31))
        yield* Effect.forEach(seeds, (seed, i) => asClient(sys, (vfs) => randomOp(vfs, prng(seed)), i % 2 === 0 ? undefined : alice), {
          concurrency: "unbounded",
          discard: true
        })
        const seen = yield* asClient(sys, (vfs) =>
          Effect.forEach(PATHS, (p) => Effect.map(Effect.either(Vfs.stat(vfs, p, false)), (r) => (Either.isRight(r) ? shown(r.right) : r.left.code)))
        )
        const reader = yield* Kernel.spawn(
          Effect.forEach(PATHS, (p) => truth(Protocol.client(FsProtocol, 0), p)),
          { name: "truth", caps: [{ cap: fsPort, rights: Capability.Rights.send }] }
        )
        const exit = yield* reader.await
        if (exit._tag !== "Exited") return yield* Effect.dieMessage(`truth reader ended ${exit._tag}`)
        const real = exit.value as Array<unknown>
        PATHS.forEach((p, i) => {
          if (real[i] !== undefined && json(seen[i]) !== json(real[i])) mismatches.push({ step, p, seen: seen[i], real: real[i] })
        })
        compared += real.filter((x) => x !== undefined && typeof x !== "string").length
      }
      expect(mismatches.slice(0, 3)).toEqual([])
      // The run compares existing files, not only absences.
      expect(compared).toBeGreaterThan(100)
    }).pipe(boot)
  )

  it.effect("CACHE-0007 the root directory's attributes follow its changes (links, size, times)", () =>
    Effect.gen(function* () {
      const sys = yield* System.start()
      const r = yield* asClient(sys, (vfs) =>
        Effect.gen(function* () {
          const before = yield* Vfs.stat(vfs, "/")
          yield* vfs.mkdir({ path: "/sub", mode: 0o755, recursive: false })
          const after = yield* Vfs.stat(vfs, "/")
          return { links: after.nlink - before.nlink, grew: after.size > before.size, newer: after.mtimeNs > before.mtimeNs }
        })
      )
      expect(r).toEqual({ links: 1, grew: true, newer: true })
    }).pipe(boot)
  )

  it.effect("CACHE-0008 a dead mount answers EIO for a path the cache knows, and the rest of the namespace keeps working", () =>
    Effect.gen(function* () {
      const sys = yield* System.start(["/mnt"])
      yield* asClient(sys, (vfs) => Effect.zipRight(Vfs.writeFile(vfs, "/mnt/f", enc("x")), Vfs.stat(vfs, "/mnt/f")))
      yield* Kernel.kill(sys.servers.get("/mnt")!)
      const r = yield* asClient(sys, (vfs) =>
        Effect.all({
          dead: Effect.map(Effect.either(Vfs.stat(vfs, "/mnt/f")), (e) => (Either.isLeft(e) ? e.left.code : "ok")),
          alive: Effect.as(Vfs.stat(vfs, "/"), "ok")
        })
      )
      expect(r).toEqual({ dead: "EIO", alive: "ok" })
    }).pipe(boot)
  )

  it.effect(
    "CACHE-0009 held inodes never leak: a file unlinked while open lives until its last close; thousands opened, closed and removed leave no frame behind",
    () =>
      Effect.gen(function* () {
        const k = yield* Kernel.Kernel
        const sys = yield* System.start()
        // Warm up first: each process allocates its message buffer at its first long message, and keeps it.
        yield* asClient(sys, (vfs) => Effect.zipRight(Vfs.writeFile(vfs, "/warm", enc("up")), vfs.unlink({ path: "/warm" })))
        const baseline = k.stats().framesInUse
        const r = yield* asClient(sys, (vfs) =>
          Effect.gen(function* () {
            yield* Vfs.writeFile(vfs, "/held", enc("still here"))
            const { fd } = yield* vfs.open({ path: "/held", flags: "r", mode: 0 })
            yield* vfs.unlink({ path: "/held" })
            const gone = yield* Effect.either(Vfs.stat(vfs, "/held"))
            const text = new TextDecoder().decode(yield* Vfs.readBytes(vfs, fd, 64, 0))
            yield* vfs.close({ fd })
            for (let i = 0; i < 1500; i++) {
              yield* Vfs.writeFile(vfs, `/f${i}`, enc("data"))
              const o = yield* vfs.open({ path: `/f${i}`, flags: "r", mode: 0 })
              yield* vfs.close({ fd: o.fd })
            }
            for (let i = 0; i < 1500; i++) yield* vfs.unlink({ path: `/f${i}` })
            return { gone: Either.isLeft(gone) ? gone.left.code : "ok", text }
          })
        )
        expect(r).toEqual({ gone: "ENOENT", text: "still here" })
        expect(k.stats().framesInUse).toBe(baseline)
      }).pipe(boot)
  )
})
