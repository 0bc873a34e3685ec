import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect } from "effect"
import { Kernel, Memory, type Process } from "../../src/index.js"
import * as System from "../../src/fs/System.js"
import * as Vfs from "../../src/fs/VfsClient.js"
import { normalize, parseFlags, split } from "../../src/servers/vfs/path.js"
import * as TestKernel from "../../src/testing/TestKernel.js"

const boot = Effect.provide(TestKernel.layer({ frames: 8192 }))
const enc = (s: string) => new TextEncoder().encode(s)
const dec = (b: Uint8Array) => new TextDecoder().decode(b)

/** Runs `program` as a VFS client process and returns its result (or its typed failure). */
const asClient = <A, E>(sys: System.System, program: (vfs: Vfs.Vfs) => Effect.Effect<A, E, Process.Process>) =>
  Effect.gen(function* () {
    const pcb = yield* System.spawnClient(sys, Effect.either(program(Vfs.client(0))))
    const exit = yield* pcb.await
    if (exit._tag !== "Exited") return yield* Effect.dieMessage(`client did not exit: ${exit._tag}`)
    return exit.value as import("effect").Either.Either<A, E>
  })
const code = (e: import("effect").Either.Either<unknown, unknown>) => (e._tag === "Left" ? (e.left as { code: string }).code : "ok")

describe("vfs paths", () => {
  it("VFS-0001 normalisation drops ., .., repeated and trailing slashes", () => {
    expect(normalize("//a/./b/../c//")).toBe("/a/c")
    expect(normalize("/../..")).toBe("/")
    expect(split("/a//b/./c/")).toEqual(["a", "b", "c"])
  })
  it("VFS-0002 open flags decode as Node's; unknown flags are refused", () => {
    expect(parseFlags("wx")).toMatchObject({ write: true, create: true, exclusive: true, truncate: true, read: false })
    expect(parseFlags("a+")).toMatchObject({ read: true, write: true, append: true, create: true })
    expect(parseFlags("r")).toMatchObject({ read: true, write: false, create: false })
    expect(parseFlags("bogus")).toBeUndefined()
  })
})

describe("vfs + ramfs", () => {
  it.effect("VFS-0010 write then read through a lease; stat reports size and type", () =>
    Effect.gen(function* () {
      const sys = yield* System.start()
      const r = yield* asClient(sys, (vfs) =>
        Effect.gen(function* () {
          yield* Vfs.writeFile(vfs, "/hello.txt", enc("hello, world"))
          const text = dec(yield* Vfs.readFile(vfs, "/hello.txt"))
          const st = yield* Vfs.stat(vfs, "/hello.txt")
          return { text, size: st.size, type: st.type }
        })
      )
      expect(r._tag === "Right" ? r.right : r).toEqual({ text: "hello, world", size: 12, type: "file" })
    }).pipe(boot)
  )

  it.effect("VFS-0011 POSIX errors: ENOENT, EEXIST, ENOTDIR, EISDIR, ENOTEMPTY, EBADF, EINVAL, ELOOP", () =>
    Effect.gen(function* () {
      const sys = yield* System.start()
      const codes = yield* asClient(sys, (vfs) =>
        Effect.gen(function* () {
          const e = <A, E>(x: Effect.Effect<A, E, Process.Process>) => Effect.map(Effect.either(x), code)
          yield* vfs.mkdir({ path: "/d", mode: 0o755, recursive: false })
          yield* Vfs.writeFile(vfs, "/d/f", enc("x"))
          yield* vfs.symlink({ target: "/loop2", path: "/loop1" })
          yield* vfs.symlink({ target: "/loop1", path: "/loop2" })
          return {
            enoent: yield* e(vfs.open({ path: "/nope", flags: "r", mode: 0 })),
            eexist: yield* e(vfs.mkdir({ path: "/d", mode: 0o755, recursive: false })),
            eexistWx: yield* e(vfs.open({ path: "/d/f", flags: "wx", mode: 0o644 })),
            enotdir: yield* e(vfs.stat({ path: "/d/f/g", follow: true })),
            eisdir: yield* e(vfs.open({ path: "/d", flags: "w", mode: 0 })),
            enotempty: yield* e(vfs.rmdir({ path: "/d" })),
            ebadf: yield* e(vfs.close({ fd: 99 })),
            einval: yield* e(vfs.open({ path: "/d/f", flags: "zz", mode: 0 })),
            eloop: yield* e(vfs.stat({ path: "/loop1", follow: true })),
            unlinkDir: yield* e(vfs.unlink({ path: "/d" }))
          }
        })
      )
      expect(codes._tag === "Right" ? codes.right : codes).toEqual({
        enoent: "ENOENT", eexist: "EEXIST", eexistWx: "EEXIST", enotdir: "ENOTDIR", eisdir: "EISDIR",
        enotempty: "ENOTEMPTY", ebadf: "EBADF", einval: "EINVAL", eloop: "ELOOP", unlinkDir: "EISDIR"
      })
    }).pipe(boot)
  )

  it.effect("VFS-0012 resolution: ., .., repeated slashes, relative and absolute symlinks; rename and readdir", () =>
    Effect.gen(function* () {
      const sys = yield* System.start()
      const r = yield* asClient(sys, (vfs) =>
        Effect.gen(function* () {
          yield* vfs.mkdir({ path: "/a/b/c", mode: 0o755, recursive: true })
          yield* Vfs.writeFile(vfs, "/a/b/c/file", enc("deep"))
          yield* vfs.symlink({ target: "b/c", path: "/a/rel" })
          yield* vfs.symlink({ target: "/a/b", path: "/abs" })
          const viaDots = dec(yield* Vfs.readFile(vfs, "//a/./b/../b/c//file"))
          const viaRel = dec(yield* Vfs.readFile(vfs, "/a/rel/file"))
          const viaAbs = dec(yield* Vfs.readFile(vfs, "/abs/c/../c/file"))
          const real = yield* vfs.realpath({ path: "/abs/c/" })
          const lst = yield* Vfs.stat(vfs, "/abs", false)
          yield* vfs.rename({ from: "/a/b/c/file", to: "/a/moved" })
          const names = (yield* Vfs.readdirAll(vfs, "/a")).map((d) => d.name).sort()
          return { viaDots, viaRel, viaAbs, real, lstType: lst.type, names }
        })
      )
      expect(r._tag === "Right" ? r.right : r).toEqual({
        viaDots: "deep", viaRel: "deep", viaAbs: "deep", real: "/a/b/c", lstType: "symlink", names: ["b", "moved", "rel"]
      })
    }).pipe(boot)
  )

  it.effect("VFS-0013 descriptors are per badge: another client's fd number is EBADF for it", () =>
    Effect.gen(function* () {
      const sys = yield* System.start()
      const opened = yield* asClient(sys, (vfs) => Effect.map(vfs.open({ path: "/x", flags: "w", mode: 0o644 }), (o) => o.fd))
      const fd = opened._tag === "Right" ? opened.right : -1
      const other = yield* asClient(sys, (vfs) => vfs.fstat({ fd }))
      expect(fd).toBeGreaterThanOrEqual(3)
      expect(code(other)).toBe("EBADF")
    }).pipe(boot)
  )

  it.effect("VFS-0020 counters: lease writes copy each byte once (in the file system), the VFS copies 0; grants copy 0", () =>
    Effect.gen(function* () {
      const sys = yield* System.start()
      const k = yield* Kernel.Kernel
      const size = 256 * 1024
      const r = yield* asClient(sys, (vfs) =>
        Effect.gen(function* () {
          const { fd } = yield* vfs.open({ path: "/big", flags: "w+", mode: 0o644 })
          const buf = yield* Memory.allocate(size / 4096)
          yield* Memory.write(buf, new Uint8Array(size).fill(7))
          const before = k.stats().bytesCopied
          const n = yield* Vfs.writeFrom(vfs, fd, buf, size)
          const leaseCopied = k.stats().bytesCopied - before
          const before2 = k.stats().bytesCopied
          const g = yield* Vfs.writeGranted(vfs, fd, buf, size, size)
          const grantCopied = k.stats().bytesCopied - before2
          const back = yield* Vfs.readBytes(vfs, fd, 2 * size, 0)
          return { n, g, leaseCopied, grantCopied, backLength: back.length, allSevens: back.every((b) => b === 7) }
        })
      )
      expect(r._tag === "Right" ? r.right : r).toEqual({ n: size, g: size, leaseCopied: size, grantCopied: 0, backLength: 2 * size, allSevens: true })
      expect(sys.vfs.bytesCopied).toBe(0)
      expect(sys.servers.get("/")!.bytesCopied).toBeGreaterThanOrEqual(size)
    }).pipe(boot)
  )

  it.effect("VFS-0030 64 client processes: one exclusive-create winner, one mkdir winner, whole appends, own files intact", () =>
    Effect.gen(function* () {
      const sys = yield* System.start()
      const n = 64
      const line = (i: number) => `p${i}:`.padEnd(100, "x") + "\n"
      const results = yield* Effect.all(
        Array.from({ length: n }, (_, i) =>
          asClient(sys, (vfs) =>
            Effect.gen(function* () {
              const e = <A, E>(x: Effect.Effect<A, E, Process.Process>) => Effect.map(Effect.either(x), code)
              const wx = yield* e(vfs.open({ path: "/winner", flags: "wx", mode: 0o644 }))
              const md = yield* e(vfs.mkdir({ path: "/dir", mode: 0o755, recursive: false }))
              yield* Vfs.writeFile(vfs, "/log", enc(line(i)), "a")
              yield* Vfs.writeFile(vfs, `/own${i}`, enc(`mine ${i}`))
              const own = dec(yield* Vfs.readFile(vfs, `/own${i}`))
              return { wx, md, own }
            })
          )
        ),
        { concurrency: "unbounded" }
      )
      const ok = results.map((r) => (r._tag === "Right" ? r.right : { wx: "?", md: "?", own: "?" }))
      expect(ok.filter((r) => r.wx === "ok")).toHaveLength(1)
      expect(ok.filter((r) => r.wx === "EEXIST")).toHaveLength(n - 1)
      expect(ok.filter((r) => r.md === "ok")).toHaveLength(1)
      expect(ok.filter((r) => r.md === "EEXIST")).toHaveLength(n - 1)
      expect(ok.map((r) => r.own)).toEqual(Array.from({ length: n }, (_, i) => `mine ${i}`))
      const log = yield* asClient(sys, (vfs) => Vfs.readFile(vfs, "/log"))
      const lines = log._tag === "Right" ? dec(log.right).split("\n").filter((l) => l !== "") : []
      expect(lines.sort()).toEqual(Array.from({ length: n }, (_, i) => line(i).slice(0, -1)).sort())
    }).pipe(boot)
  )

  it.effect("VFS-0031 a killed file-system server: its mount answers EIO, the other mount keeps working, EXDEV across mounts", () =>
    Effect.gen(function* () {
      const sys = yield* System.start(["/mnt"])
      const setup = yield* asClient(sys, (vfs) =>
        Effect.gen(function* () {
          yield* Vfs.writeFile(vfs, "/mnt/f", enc("on mnt"))
          yield* Vfs.writeFile(vfs, "/g", enc("on root"))
          const exdev = code(yield* Effect.either(vfs.rename({ from: "/g", to: "/mnt/g" })))
          const up = yield* Vfs.readFile(vfs, "/mnt/../mnt/f")
          return { exdev, up: dec(up) }
        })
      )
      expect(setup._tag === "Right" ? setup.right : setup).toEqual({ exdev: "EXDEV", up: "on mnt" })
      yield* Kernel.kill(sys.servers.get("/mnt")!)
      const after = yield* asClient(sys, (vfs) =>
        Effect.gen(function* () {
          const dead = code(yield* Effect.either(Vfs.readFile(vfs, "/mnt/f")))
          const alive = dec(yield* Vfs.readFile(vfs, "/g"))
          return { dead, alive }
        })
      )
      expect(after._tag === "Right" ? after.right : after).toEqual({ dead: "EIO", alive: "on root" })
    }).pipe(boot)
  )

  it.effect("VFS-0032 a client that dies with a file open: the VFS releases it, and an unlinked file's pages are freed", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const sys = yield* System.start()
      const baseline = k.stats().framesInUse
      const holding = yield* Deferred.make<void>()
      const client = yield* System.spawnClient(
        sys,
        Effect.gen(function* () {
          const vfs = Vfs.client(0)
          const { fd } = yield* vfs.open({ path: "/big", flags: "w+", mode: 0o644 })
          yield* Vfs.writeBytes(vfs, fd, new Uint8Array(64 * 1024).fill(7), 0)
          yield* vfs.unlink({ path: "/big" })
          yield* Deferred.succeed(holding, undefined)
          yield* Effect.never
        })
      )
      yield* Deferred.await(holding)
      const held = k.stats().framesInUse
      expect(held).toBeGreaterThanOrEqual(baseline + 16)
      yield* Kernel.kill(client)
      // The disconnect reaches the VFS, which releases the descriptor; the file system then frees it.
      const probe = yield* asClient(sys, (vfs) => vfs.stat({ path: "/", follow: true }))
      expect(probe._tag).toBe("Right")
      expect(k.stats().framesInUse).toBeLessThanOrEqual(held - 16)
    }).pipe(boot)
  )
})

