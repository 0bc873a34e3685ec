/**
 * The facade's `FileHandle`: Node 20's methods, results, reference counting and closing, each
 * scenario run on `node:fs` and on the facade with the same results.
 */
import * as nodeFs from "node:fs"
import { describe, expect, it } from "vitest"
import { useSandbox } from "../support/sandbox.js"

const box$ = useSandbox()

const methodsOf = (o: object) =>
  Object.getOwnPropertyNames(Object.getPrototypeOf(o))
    .filter((k) => k !== "constructor")
    .sort()

describe("FileHandle", () => {
  it("FS-0300 has every method of Node 20's FileHandle, an own close, Symbol.asyncDispose, and is an EventEmitter", async () => {
    const [node, facade] = await box$().both(async (fs, base) => {
      await fs.promises.writeFile(`${base}/m`, "")
      const h = await fs.promises.open(`${base}/m`)
      const shape = {
        methods: methodsOf(h),
        ownClose: Object.hasOwn(h, "close"),
        dispose: typeof h[Symbol.asyncDispose],
        emitter: typeof h.on,
        fd: typeof h.fd
      }
      await h.close()
      return shape
    })
    expect(facade).toEqual(node)
    expect(facade.methods).toEqual(
      expect.arrayContaining([
        "createReadStream",
        "createWriteStream",
        "readableWebStream",
        "readLines",
        "readv",
        "writev",
        "chmod",
        "chown",
        "utimes",
        "datasync",
        "sync",
        "stat",
        "truncate"
      ])
    )
  })

  it("FS-0301 read and write in all their forms, readv/writev, with Node's results", async () => {
    const [node, facade] = await box$().both(async (fs, base) => {
      const h = await fs.promises.open(`${base}/rw`, "w+")
      const out: Array<unknown> = []
      const w = async (p: Promise<{ bytesWritten: number; buffer?: unknown; buffers?: unknown }>) => out.push((await p).bytesWritten)
      await w(h.write("hello "))
      await w(h.write(Buffer.from("world"), 0, 5, null))
      await w(h.write(Buffer.from("XYZ"), { offset: 1, length: 2, position: 0 }))
      await w(h.write("6869", 11, "hex"))
      await w(h.writev([Buffer.from("ab"), Buffer.from("cd")], 13))
      const r = async (p: Promise<{ bytesRead: number; buffer: Buffer }>) => {
        const { bytesRead, buffer } = await p
        out.push(buffer.subarray(0, bytesRead).toString())
      }
      await r(h.read(Buffer.alloc(5), 0, 5, 0))
      await r(h.read(Buffer.alloc(8), { position: 6 }))
      // Node 20 reads a bigint position through a FileHandle as the current one.
      await r(h.read({ buffer: Buffer.alloc(3), position: 1n }))
      const { bytesRead, buffers } = await h.readv([Buffer.alloc(2), Buffer.alloc(3)], 0)
      out.push(bytesRead, Buffer.concat(buffers).toString())
      out.push(await h.readFile("utf8"))
      await h.close()
      return out
    })
    expect(facade).toEqual(node)
    expect(facade).toEqual([6, 5, 2, 2, 4, "YZllo", "worldhia", "hia", 5, "YZllo", "bcd"])
  })

  it("FS-0302 stat ({ bigint }), truncate, chmod, chown, utimes, sync and datasync through the handle", async () => {
    const uid = process.getuid?.() ?? 0
    const gid = process.getgid?.() ?? 0
    const [node, facade] = await box$().both(async (fs, base) => {
      const h = await fs.promises.open(`${base}/attrs`, "w+")
      await h.writeFile("0123456789")
      await h.truncate(4)
      await h.chmod(0o640)
      await h.chown(uid, gid)
      await h.utimes(1_000_000, 2_000_000.5)
      await h.sync()
      await h.datasync()
      const s = await h.stat()
      const b = await h.stat({ bigint: true })
      await h.close()
      return { size: s.size, mode: s.mode & 0o777, mtimeMs: s.mtimeMs, atimeMs: s.atimeMs, bigint: typeof b.size, mtimeNs: String(b.mtimeNs) }
    })
    expect(facade).toEqual(node)
    expect(facade).toEqual({ size: 4, mode: 0o640, mtimeMs: 2_000_000_500, atimeMs: 1_000_000_000, bigint: "bigint", mtimeNs: "2000000500000000" })
  })

  it("FS-0303 close emits 'close', a second close resolves, later calls reject with EBADF 'file closed'; await using closes", async () => {
    const [node, facade] = await box$().both(async (fs, base) => {
      await fs.promises.writeFile(`${base}/c`, "x")
      const h = await fs.promises.open(`${base}/c`)
      let closes = 0
      h.on("close", () => closes++)
      await h.close()
      await h.close()
      const after = await h.stat().catch((e: { code: string; syscall: string; message: string }) => `${e.code}:${e.syscall}:${e.message}`)
      let fd = 0
      {
        await using d = await fs.promises.open(`${base}/c`)
        fd = d.fd
      }
      return { closes, fd: h.fd, after, opened: fd > 2 }
    })
    expect(facade).toEqual(node)
    expect(facade).toEqual({ closes: 1, fd: -1, after: "EBADF:fstat:file closed", opened: true })
  })

  it("FS-0304 readableWebStream (default and bytes) yields the file and locks the handle; readLines yields its lines", async () => {
    const [node, facade] = await box$().both(async (fs, base) => {
      await fs.promises.writeFile(`${base}/web`, "line one\nline two\r\nline three")
      const text = async (type?: "bytes") => {
        const h = await fs.promises.open(`${base}/web`)
        const parts: Array<string> = []
        for await (const c of h.readableWebStream(type === undefined ? {} : { type })) parts.push(Buffer.from(c as Uint8Array).toString())
        let locked = ""
        try {
          h.readableWebStream()
        } catch (e) {
          locked = (e as { code: string }).code
        }
        await h.close()
        return { text: parts.join(""), locked }
      }
      const h = await fs.promises.open(`${base}/web`)
      const lines: Array<string> = []
      for await (const l of h.readLines()) lines.push(l)
      return { plain: await text(), bytes: await text("bytes"), lines, closedAfterLines: h.fd }
    })
    expect(facade).toEqual(node)
    expect(facade.plain).toEqual({ text: "line one\nline two\r\nline three", locked: "ERR_INVALID_STATE" })
    expect(facade.lines).toEqual(["line one", "line two", "line three"])
  })

  it("FS-0305 the f* calls the VFS takes by path go through the path the descriptor was opened by; once that names another file, ESTALE", async () => {
    const fs = box$().facade.promises
    const h = await fs.open(`${box$().base}/fch`, "w")
    await h.chmod(0o600)
    expect((await fs.stat(`${box$().base}/fch`)).mode & 0o777).toBe(0o600)
    await fs.rename(`${box$().base}/fch`, `${box$().base}/fch-moved`)
    await expect(h.chmod(0o644)).rejects.toMatchObject({ code: "ESTALE", syscall: "fchmod" })
    await h.close()
    expect(nodeFs.constants.O_RDONLY).toBe(box$().facade.constants.O_RDONLY)
  })
})
