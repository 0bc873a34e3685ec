/**
 * `fs.ReadStream`/`fs.WriteStream` of the facade: Node's classes, events, properties and options,
 * each scenario run on `node:fs` and on the facade with the same results.
 */
import * as nodeFs from "node:fs"
import { pipeline } from "node:stream/promises"
import { describe, expect, it } from "vitest"
import { useSandbox } from "../support/sandbox.js"

const box$ = useSandbox()

/** Everything a read stream does until it closes: events in order, chunks, its properties along the way. */
const readAll = (fs: any, path: unknown, options?: unknown) =>
  new Promise<Record<string, unknown>>((resolve) => {
    const r = fs.createReadStream(path, options)
    const events: Array<unknown> = [`pending:${r.pending}`]
    const chunks: Array<unknown> = []
    r.on("open", (fd: unknown) => events.push(`open:${typeof fd}`))
    r.on("ready", () => events.push(`ready:pending=${r.pending}`))
    r.on("data", (c: unknown) => chunks.push(typeof c === "string" ? c : (c as Buffer).toString("hex")))
    r.on("end", () => events.push(`end:bytesRead=${r.bytesRead}`))
    r.on("error", (e: NodeJS.ErrnoException) => events.push(`error:${e.code}:${e.syscall}`))
    r.on("close", () => {
      events.push("close")
      resolve({ events, chunks, bytesRead: r.bytesRead, path: r.path, fd: r.fd, closed: r.closed })
    })
  })

describe("ReadStream", () => {
  it("FS-0200 fs.ReadStream is a class (Node's own, over this fs): new, instanceof, open → ready → data → end → close, path, fd, bytesRead, pending", async () => {
    const [node, facade] = await box$().both(async (fs, base) => {
      await fs.promises.writeFile(`${base}/r0`, "0123456789")
      const s = new fs.ReadStream(`${base}/r0`)
      const shape = { isNodeClass: s instanceof nodeFs.ReadStream, isOwn: s instanceof fs.ReadStream, same: fs.ReadStream === fs.FileReadStream }
      s.destroy()
      return { shape, run: await readAll(fs, `${base}/r0`) }
    })
    expect(facade).toEqual(node)
    expect(facade.shape).toEqual({ isNodeClass: true, isOwn: true, same: true })
    expect(facade.run["events"]).toEqual(["pending:true", "open:number", "ready:pending=false", "end:bytesRead=10", "close"])
  })

  it("FS-0201 options: the string form (encoding), { encoding: 'hex' } decodes, start and end inclusive, highWaterMark sizes the chunks", async () => {
    const [node, facade] = await box$().both(async (fs, base) => {
      await fs.promises.writeFile(`${base}/r1`, "héllo wörld")
      return [
        await readAll(fs, `${base}/r1`, "utf8"),
        await readAll(fs, `${base}/r1`, { encoding: "hex" }),
        await readAll(fs, `${base}/r1`, { start: 2, end: 5 }),
        await readAll(fs, `${base}/r1`, { highWaterMark: 4 }),
        await readAll(fs, `${base}/r1`, { start: 3, encoding: "latin1", highWaterMark: 2 })
      ]
    })
    expect(facade).toEqual(node)
    expect(facade[0]!["chunks"]).toEqual(["héllo wörld"])
    expect(facade[1]!["chunks"]).toEqual([Buffer.from("héllo wörld").toString("hex")])
    expect(facade[2]!["chunks"]).toEqual([Buffer.from("héllo wörld").subarray(2, 6).toString("hex")])
    expect((facade[3]!["chunks"] as Array<string>).every((c) => c.length <= 8)).toBe(true)
  })

  it("FS-0202 { fd } reads an open descriptor from its position; autoClose: false leaves it open; emitClose: false emits no 'close'", async () => {
    const [node, facade] = await box$().both(async (fs, base) => {
      await fs.promises.writeFile(`${base}/r2`, "abcdef")
      const fd: number = await new Promise((res, rej) => fs.open(`${base}/r2`, "r", (e: unknown, d: number) => (e ? rej(e) : res(d))))
      await new Promise((res) => fs.read(fd, Buffer.alloc(2), 0, 2, null, res))
      const chunks: Array<string> = []
      const events: Array<string> = []
      await new Promise<void>((res) => {
        const r = fs.createReadStream(null, { fd, autoClose: false, encoding: "utf8" })
        r.on("data", (c: string) => chunks.push(c))
        r.on("close", () => events.push("close"))
        r.on("end", () => setTimeout(res, 20))
      })
      const stillOpen = await new Promise((res) => fs.fstat(fd, (e: unknown) => res(e === null)))
      const quiet: Array<string> = []
      await new Promise<void>((res) => {
        const r = fs.createReadStream(`${base}/r2`, { emitClose: false })
        r.on("close", () => quiet.push("close"))
        r.on("end", () => setTimeout(res, 30))
        r.resume()
      })
      await new Promise((res) => fs.close(fd, res))
      return { chunks, events, stillOpen, quiet }
    })
    expect(facade).toEqual(node)
    expect(facade).toEqual({ chunks: ["cdef"], events: [], stillOpen: true, quiet: [] })
  })

  it("FS-0203 a missing file: 'error' (ENOENT, open), then 'close'; a bad start throws ERR_OUT_OF_RANGE at once", async () => {
    const [node, facade] = await box$().both(async (fs, base) => {
      const run = await readAll(fs, `${base}/missing`)
      let thrown: unknown
      try {
        fs.createReadStream(`${base}/r1`, { start: 5, end: 2 })
      } catch (e) {
        thrown = { code: (e as { code?: unknown }).code, message: (e as Error).message }
      }
      return { run, thrown }
    })
    expect(facade).toEqual(node)
    expect(facade.run["events"]).toEqual(["pending:true", "error:ENOENT:open", "close"])
    expect(facade.thrown).toMatchObject({ code: "ERR_OUT_OF_RANGE" })
  })
})

describe("WriteStream", () => {
  it("FS-0204 { flags: 'r+', start: 1 } writes at 1; { encoding: 'hex' } writes the decoded bytes; open, ready, finish, close; bytesWritten", async () => {
    const [node, facade] = await box$().both(async (fs, base) => {
      await fs.promises.writeFile(`${base}/w0`, "0123456789")
      const events: Array<string> = []
      await new Promise<void>((res) => {
        const w = fs.createWriteStream(`${base}/w0`, { flags: "r+", start: 1 })
        for (const e of ["open", "ready", "finish", "close"]) w.on(e, () => events.push(e))
        w.on("close", () => res())
        w.write("ab")
        w.end("c")
        events.push(`pending:${w.pending}`)
      })
      await new Promise<void>((res) => {
        const w = fs.createWriteStream(`${base}/w1`, { encoding: "hex" })
        w.on("close", () => res())
        w.end("68c3a9")
      })
      const bytes = await new Promise<number>((res) => {
        const w = fs.createWriteStream(`${base}/w2`)
        w.on("close", () => res(w.bytesWritten))
        w.write(Buffer.alloc(100))
        w.end("xyz")
      })
      return { events, w0: await fs.promises.readFile(`${base}/w0`, "utf8"), w1: await fs.promises.readFile(`${base}/w1`, "utf8"), bytes }
    })
    expect(facade).toEqual(node)
    expect(facade).toMatchObject({ w0: "0abc456789", w1: "hé", bytes: 103 })
    expect(facade.events).toEqual(["pending:true", "open", "ready", "finish", "close"])
  })

  it("FS-0205 1 MiB through pipeline arrives whole in 37 VFS calls: 2 opens, 17 reads of 64 KiB (the last at the end), 16 writes, 2 closes", async () => {
    const fs = box$().facade
    const data = Buffer.alloc(1 << 20)
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + 3) & 0xff
    await fs.promises.writeFile(`${box$().base}/big`, data)
    const ops = box$().booted.system.vfsCounters.operations
    const before = { open: ops.open.calls, read: ops.read.calls, write: ops.write.calls, close: ops.close.calls }
    await pipeline(fs.createReadStream(`${box$().base}/big`), fs.createWriteStream(`${box$().base}/copy`))
    const calls = {
      open: ops.open.calls - before.open,
      read: ops.read.calls - before.read,
      write: ops.write.calls - before.write,
      close: ops.close.calls - before.close
    }
    expect(calls).toEqual({ open: 2, read: 17, write: 16, close: 2 })
    expect(Buffer.compare(await fs.promises.readFile(`${box$().base}/copy`), data)).toBe(0)
  })
})

describe("streams of a FileHandle", () => {
  it("FS-0206 handle.createReadStream/createWriteStream hold the handle open while they run and close it with them (autoClose); closing the handle ends a stream", async () => {
    const [node, facade] = await box$().both(async (fs, base) => {
      await fs.promises.writeFile(`${base}/h0`, "handle data")
      const h = await fs.promises.open(`${base}/h0`, "r")
      const text = await new Promise<string>((res) => {
        let s = ""
        const r = h.createReadStream({ encoding: "utf8" })
        r.on("data", (c: string) => (s += c))
        r.on("close", () => res(s))
      })
      const afterRead = h.fd
      const w = await fs.promises.open(`${base}/h1`, "w")
      await new Promise<void>((res) => {
        const ws = w.createWriteStream()
        ws.on("close", () => res())
        ws.end("written")
      })
      const r2 = await fs.promises.open(`${base}/h0`, "r")
      const ended = await new Promise<string>((res) => {
        const s = r2.createReadStream({ highWaterMark: 1 })
        s.once("data", () => void r2.close())
        s.on("close", () => res(`destroyed:${s.destroyed}`))
      })
      return { text, afterRead, h1: await fs.promises.readFile(`${base}/h1`, "utf8"), writerFd: w.fd, ended }
    })
    expect(facade).toEqual(node)
    expect(facade).toEqual({ text: "handle data", afterRead: -1, h1: "written", writerFd: -1, ended: "destroyed:true" })
  })
})
