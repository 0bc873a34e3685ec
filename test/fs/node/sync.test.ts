/**
 * The sync API (`src/fs/node/sync.ts`): every `*Sync` function of `node:fs` against the same call
 * on `node:fs` over the same tree (results, system errors with code, errno, syscall and path,
 * argument errors), and its failure mode: a sync call that cannot finish on the caller's stack
 * throws `EDEADLK` at once — never hangs — and a call that had not started never runs later.
 */
import { Deferred, Effect } from "effect"
import nodeFs from "node:fs"
import { describe, expect, it } from "vitest"
import * as Kernel from "../../../src/kernel/Kernel.js"
import { bootFileSystem, MAX_CALL_THREADS } from "../../../src/root/bootFileSystem.js"
import { normalise } from "../support/differential.js"
import { useSandbox } from "../support/sandbox.js"

const box = useSandbox()

/** The outcome of `f`: its value (normalised), or the error it threw (normalised: class, code, message, errno, syscall, path). */
const outcome = (f: () => unknown): unknown => {
  try {
    return { ok: normalise(f()) }
  } catch (e) {
    return { threw: normalise(e) }
  }
}

/** A `Stats` as the comparison sees it: what the file system does not choose on its own. */
const statOf = (s: nodeFs.Stats) => ({
  size: s.size,
  mode: s.mode.toString(8),
  nlink: s.nlink,
  file: s.isFile(),
  dir: s.isDirectory(),
  link: s.isSymbolicLink()
})

/** Runs `scenario` on both sides (Node's first) in a fresh directory named `name` under the base. */
const both = async <A>(name: string, scenario: (fs: typeof nodeFs, dir: string) => A) => {
  const [node, facade] = await box().both(async (fs, base) => {
    const dir = `${base}/${name}`
    fs.mkdirSync(dir)
    return scenario(fs, dir)
  })
  return { node, facade }
}

/** What a kernel error is, behind a sync call's `EDEADLK`. */
const causeTag = (e: unknown) => ((e as { cause?: { _tag?: string } }).cause ?? {})._tag

describe("the sync API", () => {
  it("FS-0701 every *Sync function of node:fs is there, with Node's type (lchmodSync undefined, as on Linux; realpathSync.native)", () => {
    const fs = box().facade as unknown as Record<string, unknown>
    const names = Object.keys(nodeFs).filter((k) => k.endsWith("Sync"))
    expect(names.length).toBeGreaterThanOrEqual(42)
    expect(names.filter((k) => typeof fs[k] !== typeof (nodeFs as unknown as Record<string, unknown>)[k])).toEqual([])
    expect(fs["lchmodSync"]).toBeUndefined()
    expect(typeof (fs["realpathSync"] as { native?: unknown }).native).toBe("function")
  })

  it("FS-0702 files: writeFileSync, appendFileSync, readFileSync (buffer, encoding, flag, descriptor), copyFileSync, truncateSync, statSync, lstatSync as node:fs's", async () => {
    const { node, facade } = await both("files", (fs, d) => [
      outcome(() => fs.writeFileSync(`${d}/a`, "hello")),
      outcome(() => fs.appendFileSync(`${d}/a`, Buffer.from(" world"))),
      outcome(() => fs.readFileSync(`${d}/a`)),
      outcome(() => fs.readFileSync(`${d}/a`, "utf8")),
      outcome(() => fs.readFileSync(`${d}/a`, { encoding: "hex", flag: "r" })),
      outcome(() => fs.writeFileSync(`${d}/b`, "ffee", { encoding: "hex", mode: 0o600 })),
      outcome(() => statOf(fs.statSync(`${d}/b`))),
      outcome(() => fs.copyFileSync(`${d}/a`, `${d}/c`)),
      outcome(() => fs.copyFileSync(`${d}/a`, `${d}/c`, fs.constants.COPYFILE_EXCL)),
      outcome(() => fs.truncateSync(`${d}/c`, 4)),
      outcome(() => fs.readFileSync(`${d}/c`, "latin1")),
      outcome(() => {
        const fd = fs.openSync(`${d}/a`, "r")
        fs.readSync(fd, Buffer.alloc(2), 0, 2, null)
        const rest = fs.readFileSync(fd, "utf8")
        fs.closeSync(fd)
        return rest
      }),
      outcome(() => fs.statSync(`${d}/missing`, { throwIfNoEntry: false })),
      outcome(() => fs.lstatSync(`${d}/a/below`, { throwIfNoEntry: false })),
      outcome(() => typeof fs.statSync(`${d}/a`, { bigint: true }).size)
    ])
    expect(facade).toEqual(node)
    expect(facade[3]).toEqual({ ok: "hello world" })
  })

  it("FS-0703 descriptors: openSync, readSync (positional and options forms), writeSync (buffer and string), readvSync, writevSync, fstatSync, ftruncateSync, fsyncSync, fdatasyncSync, fchmodSync, fchownSync, futimesSync, closeSync as node:fs's", async () => {
    const uid = process.getuid?.() ?? 0
    const gid = process.getgid?.() ?? 0
    const { node, facade } = await both("fds", (fs, d) => {
      const fd = fs.openSync(`${d}/f`, "w+", 0o644)
      const b = Buffer.alloc(6, 0x2e)
      return [
        outcome(() => fs.writeSync(fd, Buffer.from("abcdef"), 0, 6, 0)),
        outcome(() => fs.writeSync(fd, "XY", 1, "utf8")),
        outcome(() => fs.writeSync(fd, Buffer.from("zz"), { offset: 0, length: 2, position: 10 } as never)),
        outcome(() => [fs.readSync(fd, b, 0, 6, 0), b.toString("latin1")]),
        outcome(() => [fs.readSync(fd, b, { position: 2, length: 3 }), b.toString("latin1")]),
        outcome(() => [fs.readSync(fd, b), b.toString("latin1")]),
        outcome(() => fs.writevSync(fd, [Buffer.from("12"), Buffer.from("34")], 0)),
        outcome(() => {
          const bs = [Buffer.alloc(3), Buffer.alloc(3)]
          return [fs.readvSync(fd, bs, 0), bs.map((x) => x.toString("latin1"))]
        }),
        outcome(() => statOf(fs.fstatSync(fd))),
        outcome(() => fs.ftruncateSync(fd, 5)),
        outcome(() => fs.fstatSync(fd).size),
        outcome(() => fs.fsyncSync(fd)),
        outcome(() => fs.fdatasyncSync(fd)),
        outcome(() => fs.fchmodSync(fd, 0o600)),
        outcome(() => fs.fchownSync(fd, uid, gid)),
        outcome(() => fs.futimesSync(fd, 1000, 2000)),
        outcome(() => fs.fstatSync(fd, { bigint: true }).mtimeMs),
        outcome(() => fs.closeSync(fd)),
        outcome(() => fs.closeSync(fd)),
        outcome(() => fs.readSync(fd, b))
      ]
    })
    expect(facade).toEqual(node)
    expect(facade[17]).toEqual({ ok: undefined })
    expect((facade[18] as { threw: { code: string } }).threw.code).toBe("EBADF")
  })

  it("FS-0704 names: mkdirSync (recursive: the first made), mkdtempSync, renameSync, linkSync, symlinkSync, readlinkSync, realpathSync (and .native), unlinkSync, rmdirSync, rmSync, cpSync, accessSync, chmodSync, chownSync, lchownSync, utimesSync, lutimesSync, statfsSync as node:fs's", async () => {
    const uid = process.getuid?.() ?? 0
    const gid = process.getgid?.() ?? 0
    const { node, facade } = await both("names", (fs, d) => [
      outcome(() => fs.mkdirSync(`${d}/x/y/z`, { recursive: true })?.slice(d.length)),
      outcome(() => fs.mkdirSync(`${d}/x/y/z`, { recursive: true })),
      outcome(() => fs.mkdirSync(`${d}/x/plain`, 0o700)),
      outcome(() => fs.mkdtempSync(`${d}/t-`).slice(d.length, -6)),
      outcome(() => fs.writeFileSync(`${d}/x/f`, "data")),
      outcome(() => fs.renameSync(`${d}/x/f`, `${d}/x/g`)),
      outcome(() => fs.linkSync(`${d}/x/g`, `${d}/x/hard`)),
      outcome(() => fs.lstatSync(`${d}/x/hard`).nlink),
      outcome(() => fs.symlinkSync("y", `${d}/x/ly`)),
      outcome(() => fs.readlinkSync(`${d}/x/ly`)),
      outcome(() => fs.readlinkSync(`${d}/x/ly`, "buffer")),
      outcome(() => fs.realpathSync(`${d}/x/ly/z`)),
      outcome(() => fs.realpathSync.native(`${d}/x/ly/../plain`)),
      outcome(() => fs.accessSync(`${d}/x/g`, fs.constants.R_OK | fs.constants.W_OK)),
      outcome(() => fs.chmodSync(`${d}/x/g`, "640")),
      outcome(() => fs.chownSync(`${d}/x/g`, uid, gid)),
      outcome(() => fs.lchownSync(`${d}/x/ly`, uid, gid)),
      outcome(() => fs.utimesSync(`${d}/x/g`, 5, new Date(7000))),
      outcome(() => fs.lutimesSync(`${d}/x/ly`, 3, 4)),
      outcome(() => [statOf(fs.statSync(`${d}/x/g`)), fs.statSync(`${d}/x/g`).mtimeMs, fs.lstatSync(`${d}/x/ly`).mtimeMs]),
      outcome(() => fs.cpSync(`${d}/x`, `${d}/copy`, { recursive: true, filter: (src) => !src.endsWith("hard") })),
      outcome(() => fs.readdirSync(`${d}/copy`, { recursive: true }).sort()),
      outcome(() => fs.cpSync(`${d}/x`, `${d}/copy2`, { recursive: true, filter: (async () => true) as never })),
      outcome(() => typeof fs.statfsSync(d).bsize),
      outcome(() => fs.unlinkSync(`${d}/x/hard`)),
      outcome(() => fs.rmdirSync(`${d}/x/y/z`)),
      outcome(() => fs.rmSync(`${d}/copy`, { recursive: true })),
      outcome(() => fs.rmSync(`${d}/copy`, { force: true })),
      outcome(() => fs.readdirSync(d).filter((n) => !n.startsWith("t-")))
    ])
    expect(facade).toEqual(node)
    expect(facade[0]).toEqual({ ok: "/x" })
  })

  it("FS-0705 directories: readdirSync (names, withFileTypes, recursive, buffer), opendirSync with Dir.readSync/closeSync (then ERR_DIR_CLOSED) as node:fs's", async () => {
    const { node, facade } = await both("dirs", (fs, d) => {
      fs.mkdirSync(`${d}/a/b`, { recursive: true })
      fs.writeFileSync(`${d}/a/f`, "")
      fs.writeFileSync(`${d}/a/b/g`, "")
      const dir = fs.opendirSync(`${d}/a`)
      const seen: Array<string> = []
      for (let e = dir.readSync(); e !== null; e = dir.readSync()) seen.push(`${e.name}:${e.isDirectory()}`)
      dir.closeSync()
      return [
        outcome(() => fs.readdirSync(`${d}/a`)),
        outcome(() => fs.readdirSync(`${d}/a`, { withFileTypes: true }).map((e) => [e.name, e.isFile(), e.parentPath.slice(d.length)])),
        outcome(() => fs.readdirSync(`${d}/a`, { recursive: true }).sort()),
        outcome(() => fs.readdirSync(`${d}/a`, "buffer")),
        seen.sort(),
        outcome(() => dir.readSync()),
        outcome(() => dir.closeSync()),
        outcome(() => fs.opendirSync(`${d}/missing`))
      ]
    })
    expect(facade).toEqual(node)
    expect(facade[4]).toEqual(["b:true", "f:false"])
  })

  it("FS-0706 system errors are thrown as node:fs's (ENOENT, EISDIR, ENOTDIR, EEXIST, ENOTEMPTY, ERR_FS_EISDIR): code, errno, syscall, path, dest, message", async () => {
    const { node, facade } = await both("errors", (fs, d) => {
      fs.mkdirSync(`${d}/dir/sub`, { recursive: true })
      fs.writeFileSync(`${d}/file`, "x")
      return [
        outcome(() => fs.readFileSync(`${d}/missing`)),
        outcome(() => fs.readFileSync(`${d}/dir`)),
        outcome(() => fs.statSync(`${d}/missing`)),
        outcome(() => fs.statSync(`${d}/file/below`)),
        outcome(() => fs.openSync(`${d}/missing/f`, "w")),
        outcome(() => fs.mkdirSync(`${d}/dir`)),
        outcome(() => fs.rmdirSync(`${d}/dir`)),
        outcome(() => fs.rmSync(`${d}/dir`)),
        outcome(() => fs.renameSync(`${d}/missing`, `${d}/other`)),
        outcome(() => fs.linkSync(`${d}/file`, `${d}/dir`)),
        outcome(() => fs.unlinkSync(`${d}/dir`)),
        outcome(() => fs.readlinkSync(`${d}/file`)),
        outcome(() => fs.accessSync(`${d}/missing`)),
        outcome(() => fs.writeFileSync(`${d}/dir`, "x"))
      ]
    })
    expect(facade).toEqual(node)
    expect((facade[0] as { threw: unknown }).threw).toMatchObject({ code: "ENOENT", errno: -2, syscall: "open" })
  })

  it("FS-0707 argument errors are thrown synchronously as node:fs's (TypeError, RangeError, codes and messages), before any I/O", async () => {
    const { node, facade } = await both("args", (fs, d) => [
      outcome(() => fs.readFileSync(123.5 as never)),
      outcome(() => fs.statSync(null as never)),
      outcome(() => fs.writeFileSync(`${d}/a`, 42 as never)),
      outcome(() => fs.openSync(`${d}/a`, "nope")),
      outcome(() => fs.readSync(-1, Buffer.alloc(1))),
      outcome(() => fs.readSync(2147483000, Buffer.alloc(1), "x" as never, 1, 0)),
      outcome(() => fs.mkdirSync(`${d}/m`, { recursive: "yes" as never })),
      outcome(() => fs.chmodSync(`${d}/a`, "rwx" as never)),
      outcome(() => fs.readdirSync(`${d}\u0000`)),
      outcome(() => fs.existsSync(`${d}/a`))
    ])
    expect(facade).toEqual(node)
    expect((facade[0] as { threw: { class: string } }).threw.class).toBe("TypeError")
  })

  it("FS-0708 existsSync never throws: an invalid path, a missing file, a path through a file are false; an existing one true", async () => {
    const { node, facade } = await both("exists", (fs, d) => {
      fs.writeFileSync(`${d}/f`, "")
      return [undefined, null, {}, 1.5, "", `${d}\u0000`, `${d}/missing`, `${d}/f/below`, `${d}/f`, d].map((p) => outcome(() => fs.existsSync(p as never)))
    })
    expect(facade).toEqual(node)
    expect(facade.map((o) => (o as { ok: boolean }).ok)).toEqual([false, false, false, false, false, false, false, false, true, true])
  })

  it("FS-0709 a sync call from inside a kernel fiber (a root-task drive, a client thread) throws EDEADLK (ReentrantRunSync) at once, and the call never runs", async () => {
    const booted = await bootFileSystem()
    try {
      const fs = booted.fs
      const fromDrive = booted.kernel.runSync(Effect.sync(() => outcome(() => fs.writeFileSync("/made-in-drive", "x"))))
      const fromClient = await booted.run(Effect.sync(() => outcome(() => fs.mkdirSync("/made-in-client"))))
      for (const o of [fromDrive, fromClient]) expect(o).toMatchObject({ threw: { code: "EDEADLK", errno: -35 } })
      let cause: unknown
      await booted.run(
        Effect.sync(() => {
          try {
            fs.statSync("/")
          } catch (e) {
            cause = causeTag(e)
          }
        })
      )
      expect(cause).toBe("ReentrantRunSync")
      await new Promise((r) => setTimeout(r, 20))
      expect([fs.existsSync("/made-in-drive"), fs.existsSync("/made-in-client")]).toEqual([false, false])
    } finally {
      await booted.close()
    }
  })

  it("FS-0710 a sync call that would wait on the host (every thread of the client held by a host promise) throws EDEADLK (WouldWaitOnHost) at once, and never runs after the host lets go", async () => {
    const booted = await bootFileSystem()
    try {
      const fs = booted.fs
      const gate = Effect.runSync(Deferred.make<void>())
      // Every thread of the client waits on the host (a real timer), so the sync call can only queue.
      const held = Array.from({ length: MAX_CALL_THREADS }, () => booted.run(Effect.zipRight(Deferred.await(gate), Effect.sleep("1 millis"))))
      await new Promise((r) => setTimeout(r, 20))
      const started = performance.now()
      let thrown: unknown
      try {
        fs.writeFileSync("/late", "must not be written")
      } catch (e) {
        thrown = e
      }
      expect(performance.now() - started).toBeLessThan(2000)
      expect(normalise(thrown)).toMatchObject({ code: "EDEADLK", syscall: "open" })
      expect(causeTag(thrown)).toBe("WouldWaitOnHost")
      Effect.runSync(Deferred.succeed(gate, undefined))
      await Promise.all(held)
      await new Promise((r) => setTimeout(r, 20))
      expect(fs.existsSync("/late")).toBe(false)
      // The entry is sound afterwards: sync and async calls go on.
      fs.writeFileSync("/after", "ok")
      expect(await fs.promises.readFile("/after", "utf8")).toBe("ok")
    } finally {
      await booted.close()
    }
  })

  it("FS-0711 rmSync's retries of a busy error sleep on the caller's stack, as Node's rimrafSync does (a host timer would need the host): the last error after the retries", async () => {
    const booted = await bootFileSystem()
    try {
      await booted.fs.promises.mkdir("/sticky", { mode: 0o1777 })
      await booted.fs.promises.chmod("/sticky", 0o1777)
      await booted.fs.promises.mkdir("/sticky/roots")
      const user = (await booted.spawnFs("user", { uid: 1000, gid: 1000 })).fs
      // Without retries: the sticky directory's EPERM, thrown as Node's.
      expect(outcome(() => user.rmSync("/sticky/roots", { recursive: true }))).toMatchObject({ threw: { code: "EPERM", syscall: "rmdir" } })
      // With retries, Node blocks between attempts (50, then 100 ms), and so does the sync form here.
      const started = performance.now()
      const o = outcome(() => user.rmSync("/sticky/roots", { recursive: true, maxRetries: 2, retryDelay: 50 }))
      expect(o).toMatchObject({ threw: { code: "EPERM", syscall: "rmdir" } })
      expect(performance.now() - started).toBeGreaterThanOrEqual(145)
      expect(performance.now() - started).toBeLessThan(2000)
      expect(booted.fs.existsSync("/sticky/roots")).toBe(true)
    } finally {
      await booted.close()
    }
  })

  it("FS-0712 the VFS gone: a sync call throws EIO at once", async () => {
    const booted = await bootFileSystem()
    try {
      booted.fs.writeFileSync("/f", "x")
      await Effect.runPromise(Kernel.kill(booted.system.vfs))
      expect(outcome(() => booted.fs.readFileSync("/f"))).toMatchObject({ threw: { code: "EIO" } })
      expect(booted.fs.existsSync("/f")).toBe(false)
    } finally {
      await booted.close()
    }
  })
})
