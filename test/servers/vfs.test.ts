import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect } from "effect"
import { Capability, Caps, Kernel, Memory, Port, type Process } from "../../src/index.js"
import * as System from "../../src/root/FileSystemStack.js"
import * as Vfs from "../../src/fs/VfsClient.js"
import { O, parseFlags } from "../../src/servers/vfs/flags.js"
import { normalize, split } from "../../src/servers/vfs/path.js"
import { chownError, createMode, permits, R_OK, stickyAllows, utimesError, W_OK, X_OK } from "../../src/servers/vfs/permissions.js"
import * as TestKernel from "../../src/root/TestKernel.js"
import * as RamFs from "../../src/servers/ramfs/RamFs.js"
import * as FsProtocol from "../../src/lib/FsProtocol.js"
import * as VfsServer from "../../src/servers/vfs/VfsServer.js"
import { VfsProtocol } from "../../src/servers/vfs/VfsProtocol.js"
import * as Server from "../../src/lib/Server.js"
import { settle } from "../support/kernel.js"

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

/** Runs `program` as a VFS client process with `credentials` (see `asClient`). */
const asUser = <A, E>(sys: System.System, credentials: System.ClientCredentials, program: (vfs: Vfs.Vfs) => Effect.Effect<A, E, Process.Process>) =>
  Effect.gen(function* () {
    const pcb = yield* System.spawnClient(sys, Effect.either(program(Vfs.client(0))), `uid${credentials.uid}`, credentials)
    const exit = yield* pcb.await
    if (exit._tag !== "Exited") return yield* Effect.dieMessage(`client did not exit: ${exit._tag}`)
    return exit.value as import("effect").Either.Either<A, E>
  })
/** The value of a client that must have succeeded. */
const ok = <A, E>(r: import("effect").Either.Either<A, E>): A => {
  if (r._tag === "Left") throw new Error(`client failed: ${JSON.stringify(r.left)}`)
  return r.right
}
/** The POSIX code a VFS call fails with, or "ok". */
const codeOf = <A, E>(x: Effect.Effect<A, E, Process.Process>) => Effect.map(Effect.either(x), code)
const alice = { uid: 1000, gid: 1000 }
const bob = { uid: 1001, gid: 1001 }
/** As root: a world-writable sticky `/tmp` (mode set by chmod: mkdir's mode is masked by the umask). */
const stickyTmp = (vfs: Vfs.Vfs) =>
  Effect.zipRight(vfs.mkdir({ path: "/tmp", mode: 0o777, recursive: false }), vfs.setattr({ path: "/tmp", follow: true, mode: 0o1777 }))

describe("vfs paths", () => {
  it("VFS-0001 normalisation drops ., .., repeated and trailing slashes", () => {
    expect(normalize("//a/./b/../c//")).toBe("/a/c")
    expect(normalize("/../..")).toBe("/")
    expect(split("/a//b/./c/")).toEqual(["a", "b", "c"])
  })
  it("VFS-0063 split keeps .. and names that start with a dot; it drops only empty components and .", () => {
    expect(split("/")).toEqual([])
    expect(split("")).toEqual([])
    expect(split("/./.")).toEqual([])
    expect(split("a/..")).toEqual(["a", ".."])
    expect(split("//.x//..y/./..")).toEqual([".x", "..y", ".."])
    expect(split("/stat-me")).toEqual(["stat-me"])
  })
  it("VFS-0002 open flags decode as Node's; unknown flags are refused", () => {
    expect(parseFlags("wx")).toMatchObject({ write: true, create: true, exclusive: true, truncate: true, read: false })
    expect(parseFlags("a+")).toMatchObject({ read: true, write: true, append: true, create: true })
    expect(parseFlags("r")).toMatchObject({ read: true, write: false, create: false })
    expect(parseFlags("bogus")).toBeUndefined()
  })
  it("VFS-0003 numeric O_NOFOLLOW and O_DIRECTORY decode (Linux values, as fs.constants)", () => {
    expect(O.NOFOLLOW).toBe(0o400000)
    expect(O.DIRECTORY).toBe(0o200000)
    expect(parseFlags(O.RDONLY | O.NOFOLLOW)).toMatchObject({ read: true, nofollow: true, directory: false })
    expect(parseFlags(O.RDONLY | O.DIRECTORY)).toMatchObject({ read: true, nofollow: false, directory: true })
    expect(parseFlags("r")).toMatchObject({ nofollow: false, directory: false })
  })
  it("VFS-0004 permission rules: one class of bits, root's overrides, sticky, chown, utimes, umask", () => {
    const file = { type: "file" as const, mode: 0o640, uid: 1000, gid: 50 }
    const user = { uid: 1000, gid: 1000, groups: [], umask: 0o022 }
    const member = { uid: 1001, gid: 1001, groups: [50], umask: 0o022 }
    const other = { uid: 1002, gid: 1002, groups: [], umask: 0o022 }
    const root = { uid: 0, gid: 0, groups: [], umask: 0o022 }
    expect([permits(user, file, R_OK | W_OK), permits(member, file, R_OK), permits(member, file, W_OK), permits(other, file, R_OK)]).toEqual([
      true,
      true,
      false,
      false
    ])
    // The owner class applies alone, even when the group's or others' bits would allow more.
    expect(permits(user, { ...file, mode: 0o077 }, R_OK)).toBe(false)
    expect([permits(root, { ...file, mode: 0 }, R_OK | W_OK), permits(root, file, X_OK), permits(root, { ...file, mode: 0o001 }, X_OK)]).toEqual([
      true,
      false,
      true
    ])
    expect(permits(root, { type: "dir", mode: 0, uid: 5, gid: 5 }, X_OK)).toBe(true)
    const tmp = { type: "dir" as const, mode: 0o1777, uid: 0, gid: 0 }
    expect([
      stickyAllows(user, tmp, 1000),
      stickyAllows(other, tmp, 1000),
      stickyAllows(root, tmp, 1000),
      stickyAllows(other, { ...tmp, mode: 0o777 }, 1000)
    ]).toEqual([true, false, true, true])
    expect([chownError(user, file, -1, 1000), chownError(user, file, 1001, -1), chownError(member, file, undefined, 50), chownError(root, file, 7, 7)]).toEqual(
      [undefined, "EPERM", "EPERM", undefined]
    )
    expect([utimesError(other, { ...file, mode: 0o666 }, true), utimesError(other, { ...file, mode: 0o666 }, false), utimesError(other, file, true)]).toEqual([
      undefined,
      "EPERM",
      "EACCES"
    ])
    expect([createMode(0o666, 0o022, false), createMode(0o777, 0o077, true), createMode(0o7777, 0, true)]).toEqual([0o644, 0o700, 0o1777])
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
        enoent: "ENOENT",
        eexist: "EEXIST",
        eexistWx: "EEXIST",
        enotdir: "ENOTDIR",
        eisdir: "EISDIR",
        enotempty: "ENOTEMPTY",
        ebadf: "EBADF",
        einval: "EINVAL",
        eloop: "ELOOP",
        unlinkDir: "EISDIR"
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
        viaDots: "deep",
        viaRel: "deep",
        viaAbs: "deep",
        real: "/a/b/c",
        lstType: "symlink",
        names: ["b", "moved", "rel"]
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

  it.effect(
    "VFS-0060 readFile is one call to the VFS for a file up to READ_FILE_CHUNK; a longer one is read whole through the descriptor it leaves, then closed",
    () =>
      Effect.gen(function* () {
        const sys = yield* System.start()
        const big = new Uint8Array(Vfs.READ_FILE_CHUNK * 2 + 123).map((_, i) => i % 251)
        const calls = () => {
          const o = sys.vfsCounters.operations
          return { readFile: o.readFile.calls, open: o.open.calls, read: o.read.calls, close: o.close.calls }
        }
        const r = yield* asClient(sys, (vfs) =>
          Effect.gen(function* () {
            yield* Vfs.writeFile(vfs, "/small", enc("small file"))
            yield* Vfs.writeFile(vfs, "/big", big)
            yield* Vfs.writeFile(vfs, "/exact", new Uint8Array(Vfs.READ_FILE_CHUNK).fill(9))
            const c0 = calls()
            const small = dec(yield* Vfs.readFile(vfs, "/small"))
            const c1 = calls()
            const back = yield* Vfs.readFile(vfs, "/big")
            const c2 = calls()
            const exact = yield* Vfs.readFile(vfs, "/exact")
            const empty = yield* Vfs.readFile(vfs, "/small", "w+")
            // Every descriptor the reads opened is closed again: the table fills only with the caller's own.
            const fds = yield* Effect.forEach(Array.from({ length: 3 }), () => Effect.map(vfs.open({ path: "/small", flags: "r", mode: 0 }), (o) => o.fd))
            return {
              small,
              one: [c1.readFile - c0.readFile, c1.open - c0.open, c1.read - c0.read, c1.close - c0.close],
              bigWhole: back.length === big.length && back.every((b, i) => b === big[i]),
              bigCalls: [c2.readFile - c1.readFile, c2.read - c1.read > 0, c2.close - c1.close],
              exact: exact.length,
              empty: empty.length,
              fds,
              dir: yield* Effect.map(Effect.either(Vfs.readFile(vfs, "/")), (e) => (e._tag === "Left" ? [e.left.code, e.left.syscall] : "ok")),
              missing: yield* Effect.map(Effect.either(Vfs.readFile(vfs, "/nope")), (e) =>
                e._tag === "Left" ? [e.left.code, e.left.syscall, e.left.path] : "ok"
              )
            }
          })
        )
        expect(ok(r)).toEqual({
          small: "small file",
          one: [1, 0, 0, 0],
          bigWhole: true,
          bigCalls: [1, true, 1],
          exact: Vfs.READ_FILE_CHUNK,
          empty: 0,
          fds: [3, 4, 5],
          dir: ["EISDIR", "read"],
          missing: ["ENOENT", "open", "/nope"]
        })
      }).pipe(boot)
  )

  it.effect(
    "VFS-0061 writeFile is one call: w creates and truncates in one step with the write, a appends, wx refuses an existing file; each byte copied once, by the file system",
    () =>
      Effect.gen(function* () {
        const sys = yield* System.start()
        const k = yield* Kernel.Kernel
        const size = 64 * 1024
        const r = yield* asClient(sys, (vfs) =>
          Effect.gen(function* () {
            yield* Vfs.writeFile(vfs, "/f", enc("a long first version"))
            yield* Vfs.writeFile(vfs, "/f", enc("short"))
            const short = dec(yield* Vfs.readFile(vfs, "/f"))
            yield* Vfs.writeFile(vfs, "/f", enc("+more"), "a")
            const appended = dec(yield* Vfs.readFile(vfs, "/f"))
            const wx = yield* Effect.map(Effect.either(Vfs.writeFile(vfs, "/f", enc("no"), "wx")), code)
            const readOnly = yield* Effect.map(Effect.either(Vfs.writeFile(vfs, "/f", enc("no"), "r")), code)
            const calls = sys.vfsCounters.operations.writeFile.calls
            const before = k.stats().bytesCopied
            yield* Vfs.writeFile(vfs, "/big", new Uint8Array(size).fill(3))
            const copied = k.stats().bytesCopied - before
            return {
              short,
              appended,
              wx,
              readOnly,
              calls: sys.vfsCounters.operations.writeFile.calls - calls,
              copied,
              after: dec(yield* Vfs.readFile(vfs, "/f"))
            }
          })
        )
        expect(ok(r)).toEqual({ short: "short", appended: "short+more", wx: "EEXIST", readOnly: "EBADF", calls: 1, copied: size, after: "short+more" })
        expect(sys.vfs.bytesCopied).toBe(0)
      }).pipe(boot)
  )

  it.effect("VFS-0062 readdir pages by bytes: a thousand long names come in a few pages, each once, in creation order, with their types", () =>
    Effect.gen(function* () {
      const sys = yield* System.start()
      const name = (i: number) => `entry-${String(i).padStart(4, "0")}-${"n".repeat(60)}`
      const r = yield* asClient(sys, (vfs) =>
        Effect.gen(function* () {
          yield* vfs.mkdir({ path: "/d", mode: 0o755, recursive: false })
          for (let i = 0; i < 1000; i++) {
            if (i % 10 === 0) yield* vfs.mkdir({ path: `/d/${name(i)}`, mode: 0o755, recursive: false })
            else yield* Vfs.writeFile(vfs, `/d/${name(i)}`, enc(""))
          }
          const pages = sys.vfsCounters.operations.readdir.calls
          const all = yield* Vfs.readdirAll(vfs, "/d")
          return { pages: sys.vfsCounters.operations.readdir.calls - pages, all }
        })
      )
      const { pages, all } = ok(r)
      expect(all.map((e) => e.name)).toEqual(Array.from({ length: 1000 }, (_, i) => name(i)))
      expect(all.filter((e) => e.type === "dir").length).toBe(100)
      expect(pages).toBeGreaterThan(1)
      expect(pages).toBeLessThanOrEqual(30)
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
      const lines =
        log._tag === "Right"
          ? dec(log.right)
              .split("\n")
              .filter((l) => l !== "")
          : []
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

describe("vfs permissions", () => {
  it.effect("VFS-0040 a non-root client cannot read another user's 0600 file (EACCES); root can", () =>
    Effect.gen(function* () {
      const sys = yield* System.start()
      ok(yield* asClient(sys, (vfs) => Effect.zipRight(stickyTmp(vfs), vfs.mkdir({ path: "/home", mode: 0o755, recursive: false }))))
      ok(yield* asUser(sys, alice, (vfs) => Vfs.writeFile(vfs, "/tmp/secret", enc("alice's"), "w", 0o600)))
      const byBob = yield* asUser(sys, bob, (vfs) =>
        Effect.all({ read: codeOf(Vfs.readFile(vfs, "/tmp/secret")), write: codeOf(vfs.open({ path: "/tmp/secret", flags: "r+", mode: 0 })) })
      )
      const byRoot = yield* asClient(sys, (vfs) => Vfs.readFile(vfs, "/tmp/secret"))
      const byAlice = yield* asUser(sys, alice, (vfs) => Vfs.readFile(vfs, "/tmp/secret"))
      expect(ok(byBob)).toEqual({ read: "EACCES", write: "EACCES" })
      expect(dec(ok(byRoot))).toBe("alice's")
      expect(dec(ok(byAlice))).toBe("alice's")
    }).pipe(boot)
  )

  it.effect("VFS-0041 open checks what its flags need: r needs read, w/r+/a write, O_TRUNC write (EACCES), not on a file just created", () =>
    Effect.gen(function* () {
      const sys = yield* System.start()
      ok(yield* asClient(sys, (vfs) => Effect.zipRight(stickyTmp(vfs), Vfs.writeFile(vfs, "/tmp/ro", enc("x"), "w", 0o444))))
      ok(yield* asClient(sys, (vfs) => Effect.zipRight(Vfs.writeFile(vfs, "/tmp/wo", enc("x")), vfs.setattr({ path: "/tmp/wo", follow: true, mode: 0o222 }))))
      const r = yield* asUser(sys, alice, (vfs) =>
        Effect.all(
          {
            readRo: codeOf(vfs.open({ path: "/tmp/ro", flags: "r", mode: 0 })),
            truncRo: codeOf(vfs.open({ path: "/tmp/ro", flags: O.WRONLY | O.TRUNC, mode: 0 })),
            appendRo: codeOf(vfs.open({ path: "/tmp/ro", flags: "a", mode: 0 })),
            truncateRo: codeOf(vfs.truncate({ path: "/tmp/ro", size: 0 })),
            readWo: codeOf(vfs.open({ path: "/tmp/wo", flags: "r", mode: 0 })),
            writeWo: codeOf(vfs.open({ path: "/tmp/wo", flags: "w", mode: 0 })),
            // Creating a file with mode 0o444 still opens it for writing.
            created: codeOf(Vfs.writeFile(vfs, "/tmp/mine", enc("mine"), "wx", 0o444))
          },
          { concurrency: 1 }
        )
      )
      expect(ok(r)).toEqual({ readRo: "ok", truncRo: "EACCES", appendRo: "EACCES", truncateRo: "EACCES", readWo: "EACCES", writeWo: "ok", created: "ok" })
    }).pipe(boot)
  )

  it.effect("VFS-0042 no search permission on a directory: EACCES for every path through it; search without read lists nothing", () =>
    Effect.gen(function* () {
      const sys = yield* System.start()
      ok(
        yield* asClient(sys, (vfs) =>
          Effect.gen(function* () {
            yield* vfs.mkdir({ path: "/locked/inner", mode: 0o755, recursive: true })
            yield* Vfs.writeFile(vfs, "/locked/inner/f", enc("x"), "w", 0o644)
            yield* vfs.setattr({ path: "/locked", follow: true, mode: 0o744 })
            yield* vfs.mkdir({ path: "/blind", mode: 0o711, recursive: false })
            yield* Vfs.writeFile(vfs, "/blind/known", enc("y"), "w", 0o644)
            yield* vfs.symlink({ target: "/locked/inner", path: "/via" })
          })
        )
      )
      const r = yield* asUser(sys, alice, (vfs) =>
        Effect.all(
          {
            stat: codeOf(vfs.stat({ path: "/locked/inner/f", follow: true })),
            open: codeOf(vfs.open({ path: "/locked/inner/f", flags: "r", mode: 0 })),
            exists: codeOf(vfs.access({ path: "/locked/inner", mode: 0 })),
            viaLink: codeOf(vfs.stat({ path: "/via/f", follow: true })),
            dotdot: codeOf(vfs.stat({ path: "/locked/../blind/known", follow: true })),
            listLocked: codeOf(vfs.readdir({ path: "/locked", cookie: 0 })),
            listBlind: codeOf(vfs.readdir({ path: "/blind", cookie: 0 })),
            readKnown: Effect.map(Vfs.readFile(vfs, "/blind/known"), dec)
          },
          { concurrency: 1 }
        )
      )
      expect(ok(r)).toEqual({
        stat: "EACCES",
        open: "EACCES",
        exists: "EACCES",
        viaLink: "EACCES",
        dotdot: "EACCES",
        listLocked: "ok",
        listBlind: "EACCES",
        readKnown: "y"
      })
      const asRoot = yield* asClient(sys, (vfs) => codeOf(vfs.stat({ path: "/locked/inner/f", follow: true })))
      expect(ok(asRoot)).toBe("ok")
    }).pipe(boot)
  )

  it.effect("VFS-0043 creating or removing in a read-only directory: EACCES (open, mkdir, symlink, link, unlink, rename)", () =>
    Effect.gen(function* () {
      const sys = yield* System.start()
      ok(
        yield* asClient(sys, (vfs) =>
          Effect.gen(function* () {
            yield* stickyTmp(vfs)
            yield* vfs.mkdir({ path: "/ro", mode: 0o755, recursive: false })
            yield* Vfs.writeFile(vfs, "/ro/f", enc("x"))
            yield* vfs.setattr({ path: "/ro/f", follow: true, mode: 0o666 })
          })
        )
      )
      const r = yield* asUser(sys, alice, (vfs) =>
        Effect.all(
          {
            create: codeOf(vfs.open({ path: "/ro/new", flags: "w", mode: 0o644 })),
            mkdir: codeOf(vfs.mkdir({ path: "/ro/d", mode: 0o755, recursive: false })),
            mkdirP: codeOf(vfs.mkdir({ path: "/ro/a/b", mode: 0o755, recursive: true })),
            symlink: codeOf(vfs.symlink({ target: "/tmp", path: "/ro/l" })),
            link: codeOf(vfs.link({ existing: "/ro/f", path: "/ro/g" })),
            unlink: codeOf(vfs.unlink({ path: "/ro/f" })),
            renameOut: codeOf(vfs.rename({ from: "/ro/f", to: "/tmp/f" })),
            // The file itself is writable: its data may change, the directory may not.
            writeExisting: codeOf(Vfs.writeFile(vfs, "/ro/f", enc("changed")))
          },
          { concurrency: 1 }
        )
      )
      expect(ok(r)).toEqual({
        create: "EACCES",
        mkdir: "EACCES",
        mkdirP: "EACCES",
        symlink: "EACCES",
        link: "EACCES",
        unlink: "EACCES",
        renameOut: "EACCES",
        writeExisting: "ok"
      })
    }).pipe(boot)
  )

  it.effect("VFS-0044 sticky directory: user B cannot unlink or rename user A's file (EPERM); A can, and so can root", () =>
    Effect.gen(function* () {
      const sys = yield* System.start()
      ok(yield* asClient(sys, stickyTmp))
      ok(
        yield* asUser(sys, alice, (vfs) =>
          Effect.all([Vfs.writeFile(vfs, "/tmp/a1", enc("1")), Vfs.writeFile(vfs, "/tmp/a2", enc("2")), Vfs.writeFile(vfs, "/tmp/a3", enc("3"))], {
            concurrency: 1
          })
        )
      )
      ok(yield* asUser(sys, bob, (vfs) => Vfs.writeFile(vfs, "/tmp/b1", enc("b"))))
      const byBob = yield* asUser(sys, bob, (vfs) =>
        Effect.all(
          {
            unlink: codeOf(vfs.unlink({ path: "/tmp/a1" })),
            renameAway: codeOf(vfs.rename({ from: "/tmp/a1", to: "/tmp/mine" })),
            renameOnto: codeOf(vfs.rename({ from: "/tmp/b1", to: "/tmp/a1" })),
            ownFile: codeOf(vfs.unlink({ path: "/tmp/b1" }))
          },
          { concurrency: 1 }
        )
      )
      expect(ok(byBob)).toEqual({ unlink: "EPERM", renameAway: "EPERM", renameOnto: "EPERM", ownFile: "ok" })
      const byAlice = yield* asUser(sys, alice, (vfs) =>
        Effect.all([codeOf(vfs.unlink({ path: "/tmp/a1" })), codeOf(vfs.rename({ from: "/tmp/a2", to: "/tmp/a4" }))])
      )
      expect(ok(byAlice)).toEqual(["ok", "ok"])
      const byRoot = yield* asClient(sys, (vfs) => codeOf(vfs.unlink({ path: "/tmp/a3" })))
      expect(ok(byRoot)).toBe("ok")
      // Without the sticky bit, write permission on the directory is enough.
      ok(yield* asClient(sys, (vfs) => vfs.setattr({ path: "/tmp", follow: true, mode: 0o777 })))
      const unsticky = yield* asUser(sys, bob, (vfs) => codeOf(vfs.unlink({ path: "/tmp/a4" })))
      expect(ok(unsticky)).toBe("ok")
    }).pipe(boot)
  )

  it.effect("VFS-0045 chmod by a non-owner: EPERM; the owner and root may", () =>
    Effect.gen(function* () {
      const sys = yield* System.start()
      ok(yield* asClient(sys, stickyTmp))
      ok(yield* asUser(sys, alice, (vfs) => Vfs.writeFile(vfs, "/tmp/f", enc("x"), "w", 0o666)))
      const byBob = yield* asUser(sys, bob, (vfs) => codeOf(vfs.setattr({ path: "/tmp/f", follow: true, mode: 0o777 })))
      const byAlice = yield* asUser(sys, alice, (vfs) => codeOf(vfs.setattr({ path: "/tmp/f", follow: true, mode: 0o600 })))
      const mode = yield* asClient(sys, (vfs) => Effect.map(Vfs.stat(vfs, "/tmp/f"), (s) => s.mode))
      expect([ok(byBob), ok(byAlice), ok(mode)]).toEqual(["EPERM", "ok", 0o600])
      const byRoot = yield* asClient(sys, (vfs) => codeOf(vfs.setattr({ path: "/tmp/f", follow: true, mode: 0o640 })))
      expect(ok(byRoot)).toBe("ok")
    }).pipe(boot)
  )

  it.effect("VFS-0046 chown by a non-root: EPERM, except the owner giving the file to one of its own groups; root may", () =>
    Effect.gen(function* () {
      const sys = yield* System.start()
      ok(yield* asClient(sys, stickyTmp))
      const carol = { uid: 1002, gid: 1002, groups: [50] }
      ok(yield* asUser(sys, carol, (vfs) => Vfs.writeFile(vfs, "/tmp/f", enc("x"))))
      const r = yield* asUser(sys, carol, (vfs) =>
        Effect.all(
          {
            giveAway: codeOf(vfs.setattr({ path: "/tmp/f", follow: true, uid: 1001, gid: -1 })),
            foreignGroup: codeOf(vfs.setattr({ path: "/tmp/f", follow: true, uid: -1, gid: 60 })),
            ownGroup: codeOf(vfs.setattr({ path: "/tmp/f", follow: true, uid: -1, gid: 50 })),
            stat: Effect.map(Vfs.stat(vfs, "/tmp/f"), (s) => [s.uid, s.gid])
          },
          { concurrency: 1 }
        )
      )
      expect(ok(r)).toEqual({ giveAway: "EPERM", foreignGroup: "EPERM", ownGroup: "ok", stat: [1002, 50] })
      const byOther = yield* asUser(sys, { uid: 1003, gid: 50 }, (vfs) => codeOf(vfs.setattr({ path: "/tmp/f", follow: true, uid: -1, gid: 50 })))
      expect(ok(byOther)).toBe("EPERM")
      const byRoot = yield* asClient(sys, (vfs) => Effect.zipRight(vfs.setattr({ path: "/tmp/f", follow: true, uid: 7, gid: 8 }), Vfs.stat(vfs, "/tmp/f")))
      expect([ok(byRoot).uid, ok(byRoot).gid]).toEqual([7, 8])
    }).pipe(boot)
  )

  it.effect('VFS-0047 utimes: explicit times by the owner or root only (EPERM); "now" also by a writer (else EACCES)', () =>
    Effect.gen(function* () {
      const sys = yield* System.start()
      ok(yield* asClient(sys, stickyTmp))
      ok(
        yield* asUser(sys, alice, (vfs) =>
          Effect.all([
            Vfs.writeFile(vfs, "/tmp/shared", enc("x")),
            vfs.setattr({ path: "/tmp/shared", follow: true, mode: 0o666 }),
            Vfs.writeFile(vfs, "/tmp/private", enc("x"))
          ])
        )
      )
      const r = yield* asUser(sys, bob, (vfs) =>
        Effect.all(
          {
            explicit: codeOf(vfs.setattr({ path: "/tmp/shared", follow: true, atimeNs: 1n, mtimeNs: 2n })),
            nowWritable: codeOf(vfs.setattr({ path: "/tmp/shared", follow: true, now: true })),
            nowReadOnly: codeOf(vfs.setattr({ path: "/tmp/private", follow: true, now: true }))
          },
          { concurrency: 1 }
        )
      )
      expect(ok(r)).toEqual({ explicit: "EPERM", nowWritable: "ok", nowReadOnly: "EACCES" })
      const byOwner = yield* asUser(sys, alice, (vfs) =>
        Effect.zipRight(vfs.setattr({ path: "/tmp/private", follow: true, atimeNs: 1000n, mtimeNs: 2000n }), Vfs.stat(vfs, "/tmp/private"))
      )
      expect(ok(byOwner).mtimeNs).toBe(2000n)
    }).pipe(boot)
  )

  it.effect("VFS-0048 new files and directories: the creator's uid/gid and mode & ~umask (0o644/0o755 by default, 0o600/0o700 with umask 0o077)", () =>
    Effect.gen(function* () {
      const sys = yield* System.start()
      ok(yield* asClient(sys, stickyTmp))
      const made = (vfs: Vfs.Vfs, name: string) =>
        Effect.gen(function* () {
          yield* Vfs.writeFile(vfs, `/tmp/${name}`, enc("x"))
          yield* vfs.mkdir({ path: `/tmp/${name}.d`, mode: 0o777, recursive: false })
          const f = yield* Vfs.stat(vfs, `/tmp/${name}`)
          const d = yield* Vfs.stat(vfs, `/tmp/${name}.d`)
          return { file: f.mode, dir: d.mode, owner: [f.uid, f.gid, d.uid, d.gid] }
        })
      const byDefault = yield* asUser(sys, alice, (vfs) => made(vfs, "default"))
      const strict = yield* asUser(sys, { ...bob, umask: 0o077 }, (vfs) => made(vfs, "strict"))
      const byRoot = yield* asClient(sys, (vfs) => made(vfs, "root"))
      expect(ok(byDefault)).toEqual({ file: 0o644, dir: 0o755, owner: [1000, 1000, 1000, 1000] })
      expect(ok(strict)).toEqual({ file: 0o600, dir: 0o700, owner: [1001, 1001, 1001, 1001] })
      expect(ok(byRoot)).toEqual({ file: 0o644, dir: 0o755, owner: [0, 0, 0, 0] })
    }).pipe(boot)
  )

  it.effect("VFS-0049 a client sets its own umask (the old one comes back); it applies to what it creates next", () =>
    Effect.gen(function* () {
      const sys = yield* System.start()
      ok(yield* asClient(sys, stickyTmp))
      const r = yield* asUser(sys, alice, (vfs) =>
        Effect.gen(function* () {
          const before = yield* vfs.umask({})
          const old = yield* vfs.umask({ mask: 0o027 })
          const now = yield* vfs.umask({})
          const bad = yield* codeOf(vfs.umask({ mask: 0o1000 }))
          yield* Vfs.writeFile(vfs, "/tmp/f", enc("x"))
          return { before, old, now, bad, mode: (yield* Vfs.stat(vfs, "/tmp/f")).mode }
        })
      )
      expect(ok(r)).toEqual({ before: 0o022, old: 0o022, now: 0o027, bad: "EINVAL", mode: 0o640 })
      // Another client's umask is its own.
      const other = yield* asUser(sys, alice, (vfs) => vfs.umask({}))
      expect(ok(other)).toBe(0o022)
    }).pipe(boot)
  )

  it.effect(
    "VFS-0050 access(R_OK|W_OK|X_OK) with the caller's credentials: W_OK on a 0o444 file is EACCES for non-root; root writes, executes only an executable",
    () =>
      Effect.gen(function* () {
        const sys = yield* System.start()
        ok(yield* asClient(sys, (vfs) => Effect.zipRight(Vfs.writeFile(vfs, "/ro", enc("x")), vfs.setattr({ path: "/ro", follow: true, mode: 0o444 }))))
        ok(yield* asClient(sys, (vfs) => Effect.zipRight(Vfs.writeFile(vfs, "/tool", enc("x")), vfs.setattr({ path: "/tool", follow: true, mode: 0o755 }))))
        const probe = (vfs: Vfs.Vfs) =>
          Effect.all(
            {
              exists: codeOf(vfs.access({ path: "/ro", mode: 0 })),
              read: codeOf(vfs.access({ path: "/ro", mode: R_OK })),
              write: codeOf(vfs.access({ path: "/ro", mode: W_OK })),
              exec: codeOf(vfs.access({ path: "/ro", mode: X_OK })),
              execTool: codeOf(vfs.access({ path: "/tool", mode: R_OK | X_OK })),
              missing: codeOf(vfs.access({ path: "/nope", mode: 0 })),
              badMode: codeOf(vfs.access({ path: "/ro", mode: 8 }))
            },
            { concurrency: 1 }
          )
        expect(ok(yield* asUser(sys, alice, probe))).toEqual({
          exists: "ok",
          read: "ok",
          write: "EACCES",
          exec: "EACCES",
          execTool: "ok",
          missing: "ENOENT",
          badMode: "EINVAL"
        })
        expect(ok(yield* asClient(sys, probe))).toEqual({
          exists: "ok",
          read: "ok",
          write: "ok",
          exec: "EACCES",
          execTool: "ok",
          missing: "ENOENT",
          badMode: "EINVAL"
        })
      }).pipe(boot)
  )

  it.effect("VFS-0051 a client calling setCredentials itself gets EPERM, and nothing changes", () =>
    Effect.gen(function* () {
      const sys = yield* System.start()
      ok(yield* asClient(sys, (vfs) => Effect.zipRight(stickyTmp(vfs), Vfs.writeFile(vfs, "/tmp/secret", enc("s"), "w", 0o600))))
      const r = yield* asUser(sys, alice, (vfs) =>
        Effect.gen(function* () {
          const { badge } = yield* Caps.inspect(0)
          const self = yield* codeOf(vfs.setCredentials({ badge, credentials: { uid: 0, gid: 0, groups: [], umask: 0 } }))
          const other = yield* codeOf(vfs.setCredentials({ badge: badge + 1, credentials: { uid: 0, gid: 0, groups: [], umask: 0 } }))
          const read = yield* codeOf(Vfs.readFile(vfs, "/tmp/secret"))
          yield* Vfs.writeFile(vfs, "/tmp/mine", enc("m"))
          const st = yield* Vfs.stat(vfs, "/tmp/mine")
          return { self, other, read, owner: [st.uid, st.gid], mode: st.mode }
        })
      )
      expect(ok(r)).toEqual({ self: "EPERM", other: "EPERM", read: "EACCES", owner: [1000, 1000], mode: 0o644 })
    }).pipe(boot)
  )

  it.effect("VFS-0052 O_NOFOLLOW on a symbolic link: ELOOP (with and without O_CREAT); a plain file opens", () =>
    Effect.gen(function* () {
      const sys = yield* System.start()
      const r = yield* asClient(sys, (vfs) =>
        Effect.gen(function* () {
          yield* Vfs.writeFile(vfs, "/target", enc("t"))
          yield* vfs.symlink({ target: "/target", path: "/link" })
          yield* vfs.symlink({ target: "/nowhere", path: "/dangling" })
          return {
            read: yield* codeOf(vfs.open({ path: "/link", flags: O.RDONLY | O.NOFOLLOW, mode: 0 })),
            create: yield* codeOf(vfs.open({ path: "/link", flags: O.WRONLY | O.CREAT | O.NOFOLLOW, mode: 0o644 })),
            dangling: yield* codeOf(vfs.open({ path: "/dangling", flags: O.WRONLY | O.CREAT | O.NOFOLLOW, mode: 0o644 })),
            plain: yield* codeOf(vfs.open({ path: "/target", flags: O.RDONLY | O.NOFOLLOW, mode: 0 })),
            followed: yield* codeOf(vfs.open({ path: "/link", flags: O.RDONLY, mode: 0 }))
          }
        })
      )
      expect(ok(r)).toEqual({ read: "ELOOP", create: "ELOOP", dangling: "ELOOP", plain: "ok", followed: "ok" })
    }).pipe(boot)
  )

  it.effect("VFS-0053 O_DIRECTORY on a file: ENOTDIR; on a directory (or a link to one) it opens; with O_CREAT: EINVAL", () =>
    Effect.gen(function* () {
      const sys = yield* System.start()
      const r = yield* asClient(sys, (vfs) =>
        Effect.gen(function* () {
          yield* Vfs.writeFile(vfs, "/file", enc("f"))
          yield* vfs.mkdir({ path: "/dir", mode: 0o755, recursive: false })
          yield* vfs.symlink({ target: "/dir", path: "/dirlink" })
          return {
            file: yield* codeOf(vfs.open({ path: "/file", flags: O.RDONLY | O.DIRECTORY, mode: 0 })),
            dir: yield* codeOf(vfs.open({ path: "/dir", flags: O.RDONLY | O.DIRECTORY, mode: 0 })),
            viaLink: yield* codeOf(vfs.open({ path: "/dirlink", flags: O.RDONLY | O.DIRECTORY, mode: 0 })),
            create: yield* codeOf(vfs.open({ path: "/new", flags: O.RDONLY | O.CREAT | O.DIRECTORY, mode: 0o755 }))
          }
        })
      )
      expect(ok(r)).toEqual({ file: "ENOTDIR", dir: "ok", viaLink: "ok", create: "EINVAL" })
    }).pipe(boot)
  )

  it.effect("VFS-0054 credentials are forgotten when the client dies: a process holding its badge again acts as nobody, not as the dead client nor root", () =>
    Effect.gen(function* () {
      const sys = yield* System.start()
      ok(yield* asClient(sys, stickyTmp))
      const first = yield* asUser(sys, alice, (vfs) =>
        Effect.gen(function* () {
          yield* Vfs.writeFile(vfs, "/tmp/alice", enc("a"), "w", 0o600)
          return (yield* Caps.inspect(0)).badge
        })
      )
      const badge = ok(first)
      // The disconnect reaches the VFS before the probe's calls are answered.
      ok(yield* asClient(sys, (vfs) => Effect.zipRight(vfs.stat({ path: "/", follow: true }), vfs.stat({ path: "/tmp", follow: true }))))
      // Badges are never reused by System; the root task mints the dead client's badge again by hand.
      const reused = yield* Kernel.spawn(
        Effect.either(
          Effect.gen(function* () {
            const vfs = Vfs.client(0)
            const read = yield* codeOf(Vfs.readFile(vfs, "/tmp/alice"))
            yield* Vfs.writeFile(vfs, "/tmp/who", enc("?"))
            const st = yield* Vfs.stat(vfs, "/tmp/who")
            return { read, owner: [st.uid, st.gid] }
          })
        ),
        { name: "reused", caps: [{ cap: sys.vfsPort, rights: Capability.Rights.send, badge }] }
      )
      const exit = yield* reused.await
      expect(exit._tag).toBe("Exited")
      expect(exit._tag === "Exited" ? ok(exit.value as import("effect").Either.Either<unknown, unknown>) : undefined).toEqual({
        read: "EACCES",
        owner: [65534, 65534]
      })
    }).pipe(boot)
  )

  it.effect("VFS-0055 a directory moving to another parent needs write permission on itself (its .. changes); within one parent it does not", () =>
    Effect.gen(function* () {
      const sys = yield* System.start()
      ok(
        yield* asClient(sys, (vfs) =>
          Effect.zipRight(vfs.mkdir({ path: "/w", mode: 0o777, recursive: false }), vfs.setattr({ path: "/w", follow: true, mode: 0o777 }))
        )
      )
      const r = yield* asUser(sys, alice, (vfs) =>
        Effect.gen(function* () {
          yield* vfs.mkdir({ path: "/w/a", mode: 0o755, recursive: false })
          yield* vfs.mkdir({ path: "/w/ro", mode: 0o755, recursive: false })
          yield* vfs.setattr({ path: "/w/ro", follow: true, mode: 0o555 })
          return {
            across: yield* codeOf(vfs.rename({ from: "/w/ro", to: "/w/a/ro" })),
            within: yield* codeOf(vfs.rename({ from: "/w/ro", to: "/w/ro2" }))
          }
        })
      )
      expect(ok(r)).toEqual({ across: "EACCES", within: "ok" })
    }).pipe(boot)
  )

  it.effect("VFS-0056 O_CREAT through a dangling symbolic link creates its target (as Linux), checked as any create", () =>
    Effect.gen(function* () {
      const sys = yield* System.start()
      ok(
        yield* asClient(sys, (vfs) =>
          Effect.gen(function* () {
            yield* stickyTmp(vfs)
            yield* vfs.mkdir({ path: "/ro", mode: 0o755, recursive: false })
            yield* vfs.symlink({ target: "made", path: "/tmp/rel" })
            yield* vfs.symlink({ target: "/ro/new", path: "/tmp/intoRo" })
          })
        )
      )
      const r = yield* asUser(sys, alice, (vfs) =>
        Effect.gen(function* () {
          yield* Vfs.writeFile(vfs, "/tmp/rel", enc("through the link"))
          const made = yield* Vfs.stat(vfs, "/tmp/made")
          const denied = yield* Effect.either(vfs.open({ path: "/tmp/intoRo", flags: "w", mode: 0o644 }))
          return {
            text: dec(yield* Vfs.readFile(vfs, "/tmp/made")),
            owner: made.uid,
            denied: denied._tag === "Left" ? [(denied.left as { code?: string }).code, (denied.left as { path?: string }).path] : "ok"
          }
        })
      )
      expect(ok(r)).toEqual({ text: "through the link", owner: 1000, denied: ["EACCES", "/tmp/intoRo"] })
    }).pipe(boot)
  )

  it.effect("VFS-0057 the RAM file system's guards: unlink, rmdir and rename act only on the inode the VFS checked (else ESTALE, nothing changes)", () =>
    Effect.gen(function* () {
      const server = yield* TestKernel.serve(FsProtocol.FsProtocol, RamFs.handlers)
      const r = yield* TestKernel.withClient(server, (fs) =>
        Effect.gen(function* () {
          const root = yield* fs.root()
          const a = yield* fs.create({ dir: root.ino, name: "a", mode: 0o644, uid: 1, gid: 1, exclusive: true, truncate: false })
          const b = yield* fs.create({ dir: root.ino, name: "b", mode: 0o644, uid: 2, gid: 2, exclusive: true, truncate: false })
          const d = yield* fs.mkdir({ dir: root.ino, name: "d", mode: 0o755, uid: 1, gid: 1 })
          const stale = {
            unlink: yield* codeOf(fs.unlink({ dir: root.ino, name: "a", ino: b.ino })),
            rmdir: yield* codeOf(fs.rmdir({ dir: root.ino, name: "d", ino: a.ino })),
            renameFrom: yield* codeOf(fs.rename({ fromDir: root.ino, fromName: "a", toDir: root.ino, toName: "c", fromIno: b.ino })),
            renameOntoAbsent: yield* codeOf(fs.rename({ fromDir: root.ino, fromName: "a", toDir: root.ino, toName: "b", toIno: 0 })),
            renameOnto: yield* codeOf(fs.rename({ fromDir: root.ino, fromName: "a", toDir: root.ino, toName: "b", toIno: a.ino }))
          }
          const names = (yield* fs.readdir({ dir: root.ino, cookie: 0 })).names.split("/")
          const held = {
            unlink: yield* codeOf(fs.unlink({ dir: root.ino, name: "a", ino: a.ino })),
            rmdir: yield* codeOf(fs.rmdir({ dir: root.ino, name: "d", ino: d.ino })),
            rename: yield* codeOf(fs.rename({ fromDir: root.ino, fromName: "b", toDir: root.ino, toName: "c", fromIno: b.ino, toIno: 0 }))
          }
          return { stale, names, held, after: (yield* fs.readdir({ dir: root.ino, cookie: 0 })).names.split("/") }
        })
      )
      expect(r).toEqual({
        stale: { unlink: "ESTALE", rmdir: "ESTALE", renameFrom: "ESTALE", renameOntoAbsent: "ESTALE", renameOnto: "ESTALE" },
        names: ["a", "b", "d"],
        held: { unlink: "ok", rmdir: "ok", rename: "ok" },
        after: ["c"]
      })
    }).pipe(Effect.provide(TestKernel.layer()))
  )
})

describe("VFS workers", () => {
  // Live: the file system's clock is the process's Effect clock, and ctime is compared with a wall time.
  it.live(
    "VFS-0059 times cross the wire as seconds and nanoseconds, exact: set before and after the epoch, read back to the nanosecond; the clock never goes back",
    () =>
      Effect.gen(function* () {
        const sys = yield* System.start()
        const late = 1_733_000_000_123_456_789n
        const early = -1_500_000_001n
        const r = ok(
          yield* asClient(sys, (vfs) =>
            Effect.gen(function* () {
              yield* Vfs.writeFile(vfs, "/t", enc("x"))
              yield* vfs.setattr({ path: "/t", follow: true, atimeNs: early, mtimeNs: late })
              const set = yield* Vfs.stat(vfs, "/t")
              yield* vfs.mkdir({ path: "/d", mode: 0o755, recursive: false })
              const before = (yield* Vfs.stat(vfs, "/d")).mtimeNs
              yield* Vfs.writeFile(vfs, "/d/u", enc("y"))
              const after = (yield* Vfs.stat(vfs, "/d")).mtimeNs
              return { atime: set.atimeNs, mtime: set.mtimeNs, ctimeAfterEpoch: set.ctimeNs > late, advanced: after > before }
            })
          )
        )
        expect(r).toEqual({ atime: early, mtime: late, ctimeAfterEpoch: true, advanced: true })
        expect([FsProtocol.fromNs(early), FsProtocol.fromNs(late), FsProtocol.toNs(-2, 499_999_999)]).toEqual([
          [-2, 499_999_999],
          [1_733_000_000, 123_456_789],
          early
        ])
      }).pipe(boot)
  )

  it.effect("VFS-0058 a slow mount holds up only the calls waiting on it: the VFS's worker pool grows and other mounts are served meanwhile", () =>
    Effect.gen(function* () {
      const k = yield* Kernel.Kernel
      const release = yield* Deferred.make<void>()
      // "/" is a RAM FS; "/slow" is a RAM FS whose lookups wait until `release`.
      const fast = yield* k.create({ name: "ramfs/" })
      const fastPort = yield* Port.createFor(fast)
      yield* k.start(fast, RamFs.program(fastPort.slot))
      const slow = yield* k.create({ name: "ramfs/slow" })
      const slowPort = yield* Port.createFor(slow)
      const stalled = Effect.map(RamFs.handlers, (h): Server.Handlers<FsProtocol.FsProtocol["operations"]> => ({
        ...h,
        lookup: (payload, call) => Effect.zipRight(Deferred.await(release), h.lookup(payload, call))
      }))
      yield* k.start(slow, Server.serve(FsProtocol.FsProtocol, stalled, slowPort.slot, { workers: 8 }))
      const vfs = yield* k.create({
        name: "vfs",
        caps: [
          { cap: fastPort, rights: Capability.Rights.send },
          { cap: slowPort, rights: Capability.Rights.send }
        ]
      })
      const vfsPort = yield* Port.createFor(vfs)
      const counters = Server.counters(VfsProtocol)
      yield* k.start(
        vfs,
        VfsServer.program({
          port: vfsPort.slot,
          mounts: [
            { path: "/", slot: 0 },
            { path: "/slow", slot: 1 }
          ],
          counters
        })
      )
      const client = (program: Effect.Effect<unknown, unknown, Process.Process>) =>
        Kernel.spawn(program, { caps: [{ cap: vfsPort, rights: Capability.Rights.send }] })
      // Calls handed to the VFS's workers (a direct call runs on the caller's thread and needs no worker).
      const waiting = yield* Effect.forEach(Array.from({ length: 6 }), () =>
        client(Effect.either(Vfs.client(0, { direct: false }).stat({ path: "/slow/x", follow: true })))
      )
      yield* settle
      // Six calls wait on the slow mount; a call to "/" is answered all the same.
      const quick = yield* client(Vfs.writeFile(Vfs.client(0, { direct: false }), "/quick", enc("served")))
      expect((yield* quick.await)._tag).toBe("Exited")
      expect(counters.workers).toBeGreaterThanOrEqual(7)
      yield* Deferred.succeed(release, undefined)
      for (const w of waiting) {
        const exit = yield* w.await
        expect(exit._tag === "Exited" ? code(exit.value as import("effect").Either.Either<unknown, unknown>) : exit._tag).toBe("ENOENT")
      }
    }).pipe(boot)
  )
})
