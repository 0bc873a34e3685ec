/**
 * The facade's surface and system calls against `node:fs`: the same functions and constants,
 * `Stats`/`BigIntStats`/`StatFs`/`Dirent`, time truncation, `readdir` order, bigint positions,
 * abort signals, the `f*` and `l*` families; and where it differs on purpose (descriptor limit,
 * relative paths), what it does instead. Also: `EIO` only once the VFS is gone, and nothing left
 * as an unhandled rejection.
 */
import { Effect } from "effect"
import * as nodeFs from "node:fs"
import { describe, expect, it } from "vitest"
import { bootFileSystem } from "../../../src/root/bootFileSystem.js"
import { useSandbox, viaCallbackArgs } from "../support/sandbox.js"

const box$ = useSandbox()

const cb = viaCallbackArgs

describe("the surface", () => {
  it("FS-0600 every function and class of node:fs but the *Sync ones and the watchers; every one of Node 20's fs.constants, and F_OK…X_OK", () => {
    const absent = (k: string) => k.endsWith("Sync") || k === "watch" || k === "watchFile" || k === "unwatchFile"
    const nodeKeys = Object.keys(nodeFs).filter((k) => !absent(k) && k !== "default")
    expect(nodeKeys.filter((k) => !(k in box$().facade))).toEqual([])
    expect(box$().facade.constants).toEqual(nodeFs.constants)
    expect([box$().facade.F_OK, box$().facade.R_OK, box$().facade.W_OK, box$().facade.X_OK]).toEqual(
      [0, 4, 2, 1].map((v, i) => ((nodeFs as unknown as Record<string, number>)[["F_OK", "R_OK", "W_OK", "X_OK"][i]!] === v ? v : -1))
    )
    const nodePromises = Object.keys(nodeFs.promises).filter((k) => k !== "watch")
    expect(nodePromises.filter((k) => !(k in box$().facade.promises))).toEqual([])
    expect(typeof box$().facade.realpath.native).toBe("function")
    expect(box$().facade.lchmod).toBe(nodeFs.lchmod)
  })

  it("FS-0601 Stats and BigIntStats have Node's fields in Node's order and serialise to JSON as Node's do; StatFs and Dirent as Node's", async () => {
    const [node, facade] = await box$().both(async (fs, base) => {
      await fs.promises.writeFile(`${base}/st`, "stat me")
      const s = await fs.promises.stat(`${base}/st`)
      const b = await fs.promises.stat(`${base}/st`, { bigint: true })
      const f = await fs.promises.statfs(`${base}/st`)
      const [d] = await fs.promises.readdir(base, { withFileTypes: true })
      return {
        keys: Object.keys(s),
        json: Object.keys(JSON.parse(JSON.stringify(s))),
        bigKeys: Object.keys(b),
        bigTypes: [typeof b.size, typeof b.mtimeNs, b.mtime instanceof Date],
        isStats: s instanceof fs.Stats,
        statfsKeys: Object.keys(f),
        direntKeys: Object.keys(d),
        methods: [s.isFile(), s.isDirectory(), b.isFile(), d.isFile()]
      }
    })
    expect(facade).toEqual(node)
  })

  it("FS-0602 utimes keeps whole microseconds, truncating the rest as Node's libuv does; a negative time is now; 'Infinity' or an invalid Date is EINVAL", async () => {
    const [node, facade] = await box$().both(async (fs, base) => {
      await fs.promises.writeFile(`${base}/t`, "")
      const out: Array<unknown> = []
      for (const [a, m] of [
        [1.0000005, 2.9999999],
        [1_700_000_000.123_456, 0.000_000_1],
        [new Date(1_234_567_890_123), "86400.5"]
      ]) {
        await fs.promises.utimes(`${base}/t`, a, m)
        const s = await fs.promises.stat(`${base}/t`, { bigint: true })
        out.push([String(s.atimeNs), String(s.mtimeNs)])
      }
      const before = Date.now()
      await fs.promises.utimes(`${base}/t`, -1, 5)
      out.push(Number((await fs.promises.stat(`${base}/t`)).atimeMs) >= before - 1000)
      out.push(await fs.promises.utimes(`${base}/t`, "Infinity", 1).catch((e: { code: string }) => e.code))
      out.push(await fs.promises.utimes(`${base}/t`, new Date(Number.NaN), 1).catch((e: { code: string }) => e.code))
      return out
    })
    expect(facade).toEqual(node)
    expect(facade.slice(0, 3)).toEqual([
      ["1000000000", "2999999000"],
      ["1700000000123456000", "0"],
      // Seconds are a double: a Date's whole milliseconds may lose a microsecond on the way, in Node too.
      ["1234567890122999000", "86400500000000"]
    ])
  })

  it("FS-0603 readdir lists names in UTF-8 byte order, as libuv sorts them (not the file system's order)", async () => {
    const names = ["b", "a", "é", "Z", "\u{1F600}", "\uFFFD", "aa", "A", "_"]
    const [node, facade] = await box$().both(async (fs, base) => {
      await fs.promises.mkdir(`${base}/order`)
      for (const n of names) await fs.promises.writeFile(`${base}/order/${n}`, "")
      return fs.promises.readdir(`${base}/order`)
    })
    expect(facade).toEqual(node)
    expect(facade).toEqual([...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))))
  })
})

describe("system calls", () => {
  it("FS-0604 fs.read takes a bigint position; fs.write takes only a number one (a bigint writes at the descriptor's position, as Node's does)", async () => {
    const [node, facade] = await box$().both(async (fs, base) => {
      await fs.promises.writeFile(`${base}/pos`, "0123456789")
      const [, fd] = (await cb(fs, "open")(`${base}/pos`, "r+")) as [unknown, number]
      const b = Buffer.alloc(3)
      const [, n] = await cb(fs, "read")(fd, b, 0, 3, 4n)
      await cb(fs, "write")(fd, Buffer.from("XY"), 0, 2, 7n)
      await cb(fs, "write")(fd, "Q", 8)
      await cb(fs, "close")(fd)
      return { n, read: b.toString(), after: await fs.promises.readFile(`${base}/pos`, "utf8") }
    })
    expect(facade).toEqual(node)
    expect(facade).toEqual({ n: 3, read: "456", after: "XY234567Q9" })
  })

  it("FS-0605 an aborted signal: readFile and writeFile reject with AbortError (ABORT_ERR, the reason as cause) and write nothing", async () => {
    const [node, facade] = await box$().both(async (fs, base) => {
      const c = new AbortController()
      c.abort(new Error("stop"))
      const read = await fs.promises
        .readFile(`${base}/none`, { signal: c.signal })
        .catch((e: Error & { code: string }) => [e.name, e.code, (e.cause as Error)?.message])
      const write = await fs.promises.writeFile(`${base}/aborted`, "x", { signal: c.signal }).catch((e: Error & { code: string }) => [e.name, e.code])
      const viaCallback = await cb(fs, "readFile")(`${base}/none`, { signal: c.signal })
      return { read, write, exists: nodeFs.existsSync(`${base}/aborted`) && fs === nodeFs, callback: (viaCallback[0] as { code: string }).code }
    })
    expect(facade).toEqual(node)
    expect(facade).toEqual({ read: ["AbortError", "ABORT_ERR", "stop"], write: ["AbortError", "ABORT_ERR"], exists: false, callback: "ABORT_ERR" })
  })

  it("FS-0606 the f* and l* families: lutimes and lchown act on the link itself, futimes/fchmod/fchown/fsync/fdatasync on a descriptor (EBADF naming the call on a bad one)", async () => {
    const uid = process.getuid?.() ?? 0
    const gid = process.getgid?.() ?? 0
    const [node, facade] = await box$().both(async (fs, base) => {
      await fs.promises.writeFile(`${base}/target`, "t")
      await fs.promises.symlink("target", `${base}/link`)
      await fs.promises.lutimes(`${base}/link`, 10, 20)
      await fs.promises.lchown(`${base}/link`, uid, gid)
      const link = await fs.promises.lstat(`${base}/link`)
      const target = await fs.promises.stat(`${base}/link`)
      const [, fd] = (await cb(fs, "open")(`${base}/target`, "r+")) as [unknown, number]
      const results = [
        await cb(fs, "futimes")(fd, 30, 40),
        await cb(fs, "fchmod")(fd, 0o600),
        await cb(fs, "fchown")(fd, uid, gid),
        await cb(fs, "fsync")(fd),
        await cb(fs, "fdatasync")(fd)
      ]
      const after = await fs.promises.stat(`${base}/target`)
      await cb(fs, "close")(fd)
      const bad = await Promise.all(
        ["fsync", "fdatasync", "fstat"].map(async (n) => ((await cb(fs, n)(2147483000))[0] as { code: string; syscall: string }).syscall)
      )
      return { link: [link.mtimeMs, link.isSymbolicLink()], targetKept: target.mtimeMs !== 20000, results, after: [after.mtimeMs, after.mode & 0o777], bad }
    })
    expect(facade).toEqual(node)
    expect(facade).toMatchObject({ link: [20000, true], targetKept: true, after: [40000, 0o600], bad: ["fsync", "fdatasync", "fstat"] })
  })

  it("FS-0607 fs.exists without a callback throws ERR_INVALID_ARG_TYPE at once; bad arguments to the promise API reject; neither leaves an unhandled rejection", async () => {
    const unhandled: Array<unknown> = []
    const listen = (e: unknown) => unhandled.push(e)
    process.on("unhandledRejection", listen)
    try {
      expect(() => (box$().facade.exists as unknown as (p: string) => void)("/x")).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARG_TYPE" }))
      const p = box$().facade.promises.chmod("/x", "zzz" as unknown as number)
      await expect(p).rejects.toMatchObject({ code: "ERR_INVALID_ARG_VALUE" })
      await expect(box$().facade.promises.truncate(`${box$().base}/none`, 1.5)).rejects.toMatchObject({ code: "ENOENT" })
      expect(() => box$().facade.truncate("/x", 1.5, () => undefined)).toThrow(expect.objectContaining({ code: "ERR_OUT_OF_RANGE" }))
      await new Promise((r) => setTimeout(r, 50))
    } finally {
      process.off("unhandledRejection", listen)
    }
    expect(unhandled).toEqual([])
  })

  it("FS-0608 EIO only once the VFS is gone: a killed VFS makes every call fail with EIO, argument errors stay Node's", async () => {
    const own = await bootFileSystem({ frames: 2048 })
    await own.fs.promises.writeFile("/f", "x")
    await own.fs.promises.chmod("/f", "zzz" as unknown as number).catch((e: { code: string }) => expect(e.code).toBe("ERR_INVALID_ARG_VALUE"))
    await Effect.runPromise(own.kernel.kill(own.system.vfs))
    await expect(own.fs.promises.readFile("/f")).rejects.toMatchObject({ code: "EIO" })
    await expect(own.fs.promises.chmod("/f", "zzz" as unknown as number)).rejects.toMatchObject({ code: "ERR_INVALID_ARG_VALUE" })
    await own.close()
  })

  it("FS-0609 descriptors: a client holds at most the VFS's maxFds (1,024) at once; the next open is EMFILE (open, the path); a close frees one", async () => {
    const own = await bootFileSystem({ frames: 4096 })
    const fs = own.fs.promises
    await fs.writeFile("/f", "")
    const handles = []
    for (;;) {
      const h = await fs.open("/f").catch((e: { code: string; syscall: string; path: string }) => e)
      if (!("fd" in h)) {
        expect(h).toMatchObject({ code: "EMFILE", syscall: "open", path: "/f" })
        break
      }
      handles.push(h)
    }
    expect(handles.length).toBe(1024)
    await handles.pop()!.close()
    const again = await fs.open("/f")
    await again.close()
    for (const h of handles) await h.close()
    await own.close()
  })

  it("FS-0610 a relative path resolves against /, the facade's working directory (Node resolves against process.cwd()); errors name it as given", async () => {
    const fs = box$().facade.promises
    await fs.writeFile("relative-file", "r")
    expect(await fs.readFile("/relative-file", "utf8")).toBe("r")
    expect(await new Promise((res) => box$().facade.realpath("relative-file", (e, p) => res(e ?? p)))).toBe("/relative-file")
    await expect(fs.readFile("no/such")).rejects.toMatchObject({ code: "ENOENT", path: "no/such" })
    await fs.unlink("relative-file")
  })
})
