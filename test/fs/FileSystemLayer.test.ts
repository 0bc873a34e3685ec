import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { describe, expect, it } from "@effect/vitest"
import { Effect, type Either, Option, Stream } from "effect"
import * as NodeFs from "node:fs"
import * as Os from "node:os"
import * as NodePath from "node:path"
import * as FileSystemLayer from "../../src/fs/FileSystemLayer.js"
import * as System from "../../src/root/FileSystemStack.js"
import * as TestKernel from "../../src/root/TestKernel.js"

const enc = (s: string) => new TextEncoder().encode(s)
const dec = (b: Uint8Array) => new TextDecoder().decode(b)

// ---------------------------------------------------------------------------------------------
// Programs written only against @effect/platform's FileSystem: no VFS or kernel import used here.
// ---------------------------------------------------------------------------------------------

/** The round trip of the issue: directories, strings, stat, listing, rename, File, copy, remove, NotFound. */
const roundTrip = (root: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const deep = `${root}/a/b/c`
    yield* fs.makeDirectory(deep, { recursive: true })
    yield* fs.writeFileString(`${deep}/hello.txt`, "hello, world")
    const text = yield* fs.readFileString(`${deep}/hello.txt`)
    const existed = yield* fs.exists(`${deep}/hello.txt`)
    const info = yield* fs.stat(`${deep}/hello.txt`)
    const dirInfo = yield* fs.stat(`${root}/a`)
    yield* fs.rename(`${deep}/hello.txt`, `${root}/a/moved.txt`)
    const existsAfterRename = yield* fs.exists(`${deep}/hello.txt`)
    const listing = (yield* fs.readDirectory(`${root}/a`)).sort()
    const file = yield* Effect.scoped(
      Effect.gen(function* () {
        const f = yield* fs.open(`${root}/a/data.bin`, { flag: "w+" })
        yield* f.writeAll(enc("0123456789"))
        yield* f.seek(3, "start")
        const buf = new Uint8Array(4)
        const n = yield* f.read(buf)
        yield* f.seek(1, "current")
        const rest = yield* f.readAlloc(16)
        const atEnd = yield* f.readAlloc(16)
        yield* f.seek(0, "start")
        yield* f.write(enc("AB"))
        yield* f.truncate(6)
        const size = (yield* f.stat).size
        return { n: Number(n), read: dec(buf), rest: Option.map(rest, dec), atEnd: Option.isNone(atEnd), size }
      })
    )
    const data = yield* fs.readFileString(`${root}/a/data.bin`)
    const streamed = yield* fs.stream(`${root}/a/moved.txt`, { chunkSize: 4 }).pipe(Stream.decodeText(), Stream.mkString)
    yield* fs.copyFile(`${root}/a/moved.txt`, `${root}/a/copy.txt`)
    const copied = yield* fs.readFileString(`${root}/a/copy.txt`)
    const missing = yield* Effect.flip(fs.readFile(`${root}/a/nope.txt`))
    yield* fs.remove(`${root}/a`, { recursive: true })
    const existsAfterRemove = yield* fs.exists(`${root}/a`)
    return {
      text,
      existed,
      info: { type: info.type, size: info.size, isFileMode: (info.mode & 0o170000) === 0o100000, mtime: Option.isSome(info.mtime) },
      dirType: dirInfo.type,
      existsAfterRename,
      listing,
      file,
      data,
      streamed,
      copied,
      missing: {
        tag: missing._tag,
        reason: missing._tag === "SystemError" ? missing.reason : "-",
        method: missing._tag === "SystemError" ? missing.method : "-"
      },
      existsAfterRemove
    }
  })

/** The rest of the surface: links, realPath, chmod, utimes, truncate, copy, recursive listing, temp directories, error reasons. */
const moreOfTheSurface = (root: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const base = `${root}/more`
    yield* fs.makeDirectory(`${base}/tree/sub`, { recursive: true })
    yield* fs.writeFileString(`${base}/tree/one.txt`, "one")
    yield* fs.writeFileString(`${base}/tree/sub/two.txt`, "two")
    const recursive = (yield* fs.readDirectory(`${base}/tree`, { recursive: true })).sort()
    yield* fs.symlink(`${base}/tree/sub`, `${base}/alias`)
    const linkTarget = yield* fs.readLink(`${base}/alias`)
    const real = yield* fs.realPath(`${base}/alias/two.txt`)
    const realBase = yield* fs.realPath(base)
    yield* fs.link(`${base}/tree/one.txt`, `${base}/hard.txt`)
    const nlink = (yield* fs.stat(`${base}/tree/one.txt`)).nlink
    yield* fs.chmod(`${base}/tree/one.txt`, 0o600)
    const mode = (yield* fs.stat(`${base}/tree/one.txt`)).mode & 0o777
    yield* fs.utimes(`${base}/tree/one.txt`, new Date(1_000_000), new Date(2_000_000))
    const mtime = Option.map((yield* fs.stat(`${base}/tree/one.txt`)).mtime, (d) => d.getTime())
    yield* fs.truncate(`${base}/tree/sub/two.txt`, 2)
    const truncated = yield* fs.readFileString(`${base}/tree/sub/two.txt`)
    yield* fs.copy(`${base}/tree`, `${base}/copy`)
    const copiedTree = (yield* fs.readDirectory(`${base}/copy`, { recursive: true })).sort()
    yield* fs.writeFileString(`${base}/append.txt`, "a")
    yield* fs.writeFileString(`${base}/append.txt`, "b", { flag: "a" })
    const appended = yield* fs.readFileString(`${base}/append.txt`)
    const tempDir = yield* Effect.scoped(
      Effect.gen(function* () {
        const dir = yield* fs.makeTempDirectoryScoped({ directory: base, prefix: "tmp-" })
        return { dir, existed: yield* fs.exists(dir) }
      })
    )
    const tempGone = !(yield* fs.exists(tempDir.dir))
    const reason = (e: Effect.Effect<unknown, unknown>) =>
      Effect.map(Effect.flip(e), (x) => ((x as { _tag?: string })._tag === "SystemError" ? (x as { reason: string }).reason : "not a SystemError"))
    const reasons = {
      mkdirExisting: yield* reason(fs.makeDirectory(`${base}/tree`)),
      exclusiveWrite: yield* reason(fs.writeFileString(`${base}/append.txt`, "x", { flag: "wx" })),
      statMissing: yield* reason(fs.stat(`${base}/missing`)),
      readDirOfFile: yield* reason(fs.readDirectory(`${base}/append.txt`)),
      removeMissing: yield* reason(fs.remove(`${base}/missing`))
    }
    yield* fs.remove(`${base}/missing`, { force: true })
    yield* fs.remove(base, { recursive: true })
    return {
      recursive,
      linkTarget: linkTarget === `${base}/tree/sub`,
      real: real === `${realBase}/tree/sub/two.txt`,
      nlink,
      mode,
      mtime,
      truncated,
      copiedTree,
      appended,
      tempDir: { prefixed: NodePath.basename(tempDir.dir).startsWith("tmp-"), existed: tempDir.existed, gone: tempGone },
      reasons,
      gone: !(yield* fs.exists(base))
    }
  })

// ---------------------------------------------------------------------------------------------
// Harnesses: the VFS inside a client process, and Node's own file system in a temp directory.
// ---------------------------------------------------------------------------------------------

/** Runs `program("/data")` in a client process of a booted VFS + RAM FS, with the layer provided. */
const onVfs = <A, E>(program: (root: string) => Effect.Effect<A, E, FileSystem.FileSystem>) =>
  Effect.gen(function* () {
    const sys = yield* System.start()
    const pcb = yield* System.spawnClient(sys, Effect.either(Effect.provide(program("/data"), FileSystemLayer.layer(0))), "platform-fs-client")
    const exit = yield* pcb.await
    if (exit._tag !== "Exited") return yield* Effect.dieMessage(`client did not exit: ${exit._tag}`)
    return exit.value as Either.Either<A, E>
  }).pipe(Effect.provide(TestKernel.layer({ frames: 8192 })))

/** Runs `program(tmp)` against @effect/platform-node's FileSystem on a fresh temp directory. */
const onNode = <A, E>(program: (root: string) => Effect.Effect<A, E, FileSystem.FileSystem>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(Os.tmpdir(), "fslayer-"))),
    (root) => Effect.either(Effect.provide(program(root), NodeFileSystem.layer)),
    (root) => Effect.sync(() => NodeFs.rmSync(root, { recursive: true, force: true }))
  )

const right = <A, E>(e: Either.Either<A, E>): A => {
  if (e._tag === "Left") throw new Error(`program failed: ${String(e.left)}`)
  return e.right
}

describe("@effect/platform FileSystem layer over the VFS", () => {
  it.effect("FSL-0001 a program written only against FileSystem runs in a client process", () =>
    Effect.gen(function* () {
      const r = right(yield* onVfs(roundTrip))
      expect(r).toEqual({
        text: "hello, world",
        existed: true,
        info: { type: "File", size: 12n, isFileMode: true, mtime: true },
        dirType: "Directory",
        existsAfterRename: false,
        listing: ["b", "moved.txt"],
        file: { n: 4, read: "3456", rest: Option.some("89"), atEnd: true, size: 6n },
        data: "AB2345",
        streamed: "hello, world",
        copied: "hello, world",
        missing: { tag: "SystemError", reason: "NotFound", method: "readFile" },
        existsAfterRemove: false
      })
    })
  )

  it.effect("FSL-0002 the same program on @effect/platform-node's FileSystem observes the same results", () =>
    Effect.gen(function* () {
      const onTheVfs = right(yield* onVfs(roundTrip))
      const onNodeFs = right(yield* onNode(roundTrip))
      expect(onTheVfs).toEqual(onNodeFs)
    })
  )

  it.effect("FSL-0003 links, realPath, chmod, utimes, copy, temp directories and error reasons agree with Node's", () =>
    Effect.gen(function* () {
      const onTheVfs = right(yield* onVfs(moreOfTheSurface))
      expect(onTheVfs).toEqual({
        recursive: ["one.txt", "sub", "sub/two.txt"],
        linkTarget: true,
        real: true,
        nlink: Option.some(2),
        mode: 0o600,
        mtime: Option.some(2_000_000),
        truncated: "tw",
        copiedTree: ["one.txt", "sub", "sub/two.txt"],
        appended: "ab",
        tempDir: { prefixed: true, existed: true, gone: true },
        reasons: {
          mkdirExisting: "AlreadyExists",
          exclusiveWrite: "AlreadyExists",
          statMissing: "NotFound",
          readDirOfFile: "BadResource",
          removeMissing: "NotFound"
        },
        gone: true
      })
      expect(right(yield* onNode(moreOfTheSurface))).toEqual(onTheVfs)
    })
  )

  it.effect("FSL-0004 what the VFS cannot do fails clearly: watch is a SystemError stream, errors carry module, method and path", () =>
    Effect.gen(function* () {
      const r = right(
        yield* onVfs((root) =>
          Effect.gen(function* () {
            const fs = yield* FileSystem.FileSystem
            const watched = yield* Effect.flip(Stream.runDrain(fs.watch(root)))
            const missing = yield* Effect.flip(fs.open(`${root}/none`).pipe(Effect.scoped))
            const tmp = yield* fs.makeTempFile({ prefix: "t-", suffix: ".txt" })
            yield* fs.chown(tmp, 1000, 1000)
            const owner = yield* fs.stat(tmp)
            return { watched, missing, tmp, uid: owner.uid, gid: owner.gid }
          })
        )
      )
      expect(r.watched).toMatchObject({ _tag: "SystemError", module: "FileSystem", method: "watch" })
      expect(r.watched.message).toContain("not supported")
      expect(r.missing).toMatchObject({ _tag: "SystemError", reason: "NotFound", module: "FileSystem", method: "open", pathOrDescriptor: "/data/none" })
      expect(r.tmp).toMatch(/^\/tmp\/t-[A-Za-z0-9]{6}\/[A-Za-z0-9]{12}\.txt$/)
      expect({ uid: r.uid, gid: r.gid }).toEqual({ uid: Option.some(1000), gid: Option.some(1000) })
    })
  )

  it.effect("FSL-0005 access checks readable/writable with the client's credentials: PermissionDenied", () =>
    Effect.gen(function* () {
      const sys = yield* System.start()
      const asRoot = yield* System.spawnClient(
        sys,
        Effect.provide(
          Effect.gen(function* () {
            const fs = yield* FileSystem.FileSystem
            yield* fs.writeFileString("/readonly", "r")
            yield* fs.chmod("/readonly", 0o444)
          }),
          FileSystemLayer.layer(0)
        )
      )
      expect((yield* asRoot.await)._tag).toBe("Exited")
      const pcb = yield* System.spawnClient(
        sys,
        Effect.provide(
          Effect.gen(function* () {
            const fs = yield* FileSystem.FileSystem
            const readable = yield* Effect.either(fs.access("/readonly", { readable: true }))
            const writable = yield* Effect.flip(fs.access("/readonly", { writable: true }))
            return {
              readable: readable._tag,
              writable: { reason: writable._tag === "SystemError" ? writable.reason : "?", method: writable._tag === "SystemError" ? writable.method : "?" }
            }
          }),
          FileSystemLayer.layer(0)
        ),
        "platform-fs-user",
        { uid: 1000, gid: 1000 }
      )
      const exit = yield* pcb.await
      expect(exit._tag === "Exited" ? exit.value : exit).toEqual({ readable: "Right", writable: { reason: "PermissionDenied", method: "access" } })
    }).pipe(Effect.provide(TestKernel.layer({ frames: 8192 })))
  )
})
