/**
 * The watchers (`src/fs/node/watchers.ts`): `fs.watch`, `fs.promises.watch` and
 * `fs.watchFile`/`fs.unwatchFile` over the VFS's change notifications — events arrive (as
 * node:fs's on the same changes), close stops them and lets the event loop go, and a watcher
 * whose VFS goes away ends instead of waiting for good.
 */
import { Effect } from "effect"
import nodeFs from "node:fs"
import { describe, expect, it } from "vitest"
import * as Kernel from "../../../src/kernel/Kernel.js"
import { normalise } from "../support/differential.js"
import { useSandbox } from "../support/sandbox.js"
import { eventually, pause, withFs } from "../support/waiting.js"

const box = useSandbox()

/** Referenced timers of this process (what keeps its event loop alive, among handles). */
const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length

describe("fs.watch", () => {
  it("FS-0720 a directory's watcher sees entries come, change and go, with their names, as node:fs's does on the same changes", async () => {
    const [node, facade] = await box().both(async (fs: typeof nodeFs, base) => {
      const dir = `${base}/watched`
      fs.mkdirSync(dir)
      const seen = new Set<string>()
      const w = fs.watch(dir, (type, name) => seen.add(`${type} ${name}`))
      fs.writeFileSync(`${dir}/a`, "x")
      await pause(30)
      fs.renameSync(`${dir}/a`, `${dir}/b`)
      await pause(30)
      fs.unlinkSync(`${dir}/b`)
      await eventually(() => seen.has("rename b") && seen.has("change a"))
      w.close()
      return [...seen].sort()
    })
    expect(facade).toEqual(node)
    expect(facade).toEqual(["change a", "rename a", "rename b"])
  })

  it("FS-0721 a missing path throws ENOENT synchronously (code, syscall 'watch', path, filename) as node:fs's; a bad encoding throws ERR_INVALID_ARG_VALUE", async () => {
    const [node, facade] = await box().both(async (fs: typeof nodeFs, base) => {
      const out: Array<unknown> = []
      for (const f of [() => fs.watch(`${base}/missing`), () => fs.watch(base, { encoding: "nope" as never })]) {
        try {
          f().close()
          out.push("watching")
        } catch (e) {
          out.push({ ...(normalise(e) as object), filename: (e as { filename?: unknown }).filename })
        }
      }
      return out
    })
    expect(facade).toEqual(node)
    expect(facade[0]).toMatchObject({ code: "ENOENT", syscall: "watch" })
  })

  it("FS-0722 close(): no event after it, 'close' once on the next tick, a second close does nothing, and the VFS watch is ended", () =>
    withFs(async ({ fs, system }) => {
      fs.mkdirSync("/d")
      const events: Array<string> = []
      const w = fs.watch("/d", (type, name) => events.push(`${type} ${name}`))
      w.on("close", () => events.push("close"))
      fs.writeFileSync("/d/a", "x")
      await eventually(() => events.includes("change a"))
      const unwatched = system.vfsCounters.operations.unwatch.calls
      w.close()
      w.close()
      expect(events.includes("close")).toBe(false)
      fs.writeFileSync("/d/b", "y")
      await pause(30)
      expect(events).toEqual(["rename a", "change a", "close"])
      expect(system.vfsCounters.operations.unwatch.calls - unwatched).toBe(1)
    }))

  it("FS-0723 recursive: changes below are named by their path relative to the watched directory", () =>
    withFs(async ({ fs }) => {
      fs.mkdirSync("/top/mid", { recursive: true })
      const events: Array<string> = []
      const w = fs.watch("/top", { recursive: true }, (type, name) => events.push(`${type} ${name}`))
      fs.writeFileSync("/top/mid/f", "x")
      await eventually(() => events.includes("change mid/f"))
      w.close()
      expect(events).toEqual(["rename mid/f", "change mid/f"])
    }))

  it("FS-0724 signal: aborting closes the watcher ('close'); an already-aborted signal closes it on the next tick; encoding 'buffer' gives Buffer names", () =>
    withFs(async ({ fs }) => {
      fs.mkdirSync("/s")
      const ac = new AbortController()
      const names: Array<unknown> = []
      const w = fs.watch("/s", { signal: ac.signal, encoding: "buffer" }, (_type, name) => names.push(name))
      let closed = 0
      w.on("close", () => closed++)
      fs.writeFileSync("/s/n", "")
      await eventually(() => names.length > 0)
      ac.abort()
      await eventually(() => closed === 1)
      expect(Buffer.isBuffer(names[0]) && names[0].toString()).toBe("n")
      const early = fs.watch("/s", { signal: AbortSignal.abort() })
      let earlyClosed = false
      early.on("close", () => (earlyClosed = true))
      await eventually(() => earlyClosed)
    }))

  it("FS-0725 a persistent watcher keeps the event loop alive until unref() or close(); persistent: false never does", () =>
    withFs(async ({ fs }) => {
      const before = timers()
      const w = fs.watch("/")
      const watching = timers()
      w.unref()
      const unrefd = timers()
      w.ref()
      const refd = timers()
      w.close()
      const closed = timers()
      const quiet = fs.watch("/", { persistent: false })
      const notPersistent = timers()
      quiet.close()
      expect([watching - before, unrefd - before, refd - before, closed - before, notPersistent - before]).toEqual([1, 0, 1, 0, 0])
    }))

  it("FS-0726 the VFS goes away: the watcher ends with an 'error' (EIO, syscall 'watch') and keeps nothing alive", () =>
    withFs(async ({ fs, system }) => {
      const w = fs.watch("/")
      const errors: Array<unknown> = []
      w.on("error", (e) => errors.push(normalise(e)))
      const before = timers()
      await Effect.runPromise(Kernel.kill(system.vfs))
      await eventually(() => errors.length > 0)
      expect(errors).toMatchObject([{ code: "EIO", syscall: "watch" }])
      expect(timers()).toBe(before - 1)
    }))
})

describe("fs.watch's listener", () => {
  it("FS-0733 a listener that is not a function throws ERR_INVALID_ARG_TYPE with node:fs's message, and the watcher it started keeps nothing alive", () =>
    withFs(async ({ fs, system }) => {
      const before = timers()
      const unwatched = system.vfsCounters.operations.unwatch.calls
      let thrown: unknown
      try {
        fs.watch("/", {}, 5 as never)
      } catch (e) {
        thrown = normalise(e)
      }
      // Node's own watcher goes on unseen after this error; the facade's is closed.
      expect(thrown).toMatchObject({
        class: "TypeError",
        code: "ERR_INVALID_ARG_TYPE",
        message: 'The "listener" argument must be of type function. Received type number (5)'
      })
      expect(timers()).toBe(before)
      await eventually(() => system.vfsCounters.operations.unwatch.calls - unwatched === 1)
    }))
})

describe("fs.promises.watch", () => {
  it("FS-0727 an async iterator of { eventType, filename }; breaking the loop ends the VFS watch", () =>
    withFs(async ({ fs, system }) => {
      fs.mkdirSync("/p")
      const unwatched = system.vfsCounters.operations.unwatch.calls
      const got: Array<string> = []
      const loop = (async () => {
        for await (const e of fs.promises.watch("/p")) {
          got.push(`${e.eventType} ${e.filename}`)
          if (got.length === 2) break
        }
      })()
      await pause(20)
      fs.writeFileSync("/p/x", "1")
      await loop
      expect(got).toEqual(["rename x", "change x"])
      await eventually(() => system.vfsCounters.operations.unwatch.calls - unwatched === 1)
    }))

  it("FS-0728 signal: an abort rejects the waiting iteration with AbortError; an aborted signal and a missing path reject the first next()", () =>
    withFs(async ({ fs }) => {
      const ac = new AbortController()
      const waiting = fs.promises.watch("/", { signal: ac.signal })[Symbol.asyncIterator]().next()
      await pause(20)
      ac.abort()
      await expect(waiting).rejects.toMatchObject({ name: "AbortError", code: "ABORT_ERR" })
      await expect(fs.promises.watch("/", { signal: AbortSignal.abort() })[Symbol.asyncIterator]().next()).rejects.toMatchObject({ name: "AbortError" })
      await expect(fs.promises.watch("/missing")[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: "ENOENT", syscall: "watch" })
    }))

  it("FS-0729 the VFS goes away: the waiting iteration rejects with EIO", () =>
    withFs(async ({ fs, system }) => {
      const waiting = fs.promises.watch("/")[Symbol.asyncIterator]().next()
      await pause(20)
      await Effect.runPromise(Kernel.kill(system.vfs))
      await expect(waiting).rejects.toMatchObject({ code: "EIO" })
    }))
})

describe("fs.watchFile", () => {
  it("FS-0730 listener(current, previous) as Stats when the file changes and when it goes (current all zeros), as node:fs's; unwatchFile stops the calls", async () => {
    const [node, facade] = await box().both(async (fs: typeof nodeFs, base) => {
      const file = `${base}/polled`
      fs.writeFileSync(file, "1")
      const calls: Array<unknown> = []
      fs.watchFile(file, { interval: 10 }, (cur, prev) => calls.push([cur.size, prev.size, cur.constructor.name, cur.mtimeMs === 0]))
      // Past the first poll (the one that only takes the file's attributes as they are).
      await pause(150)
      // An append changes the size in one write (a rewrite could be polled between its truncation and its write).
      fs.appendFileSync(file, "23")
      await eventually(() => calls.length === 1)
      fs.unlinkSync(file)
      await eventually(() => calls.length === 2)
      fs.unwatchFile(file)
      fs.writeFileSync(file, "again")
      await pause(40)
      return calls
    })
    expect(facade).toEqual(node)
    expect(facade).toEqual([
      [3, 1, "Stats", false],
      [0, 3, "Stats", true]
    ])
  })

  it("FS-0731 listeners share one StatWatcher per path; the last one removed stops it ('stop'); bigint gives BigIntStats; persistent: false keeps nothing alive", () =>
    withFs(async ({ fs }) => {
      fs.writeFileSync("/f", "1")
      const a = () => undefined
      const b = () => undefined
      const w1 = fs.watchFile("/f", { interval: 10 }, a)
      const w2 = fs.watchFile("/f", b)
      expect(w1).toBe(w2)
      let stopped = false
      w1.on("stop", () => (stopped = true))
      fs.unwatchFile("/f", a)
      await pause(20)
      expect(stopped).toBe(false)
      fs.unwatchFile("/f", b)
      await eventually(() => stopped)
      const big: Array<string> = []
      fs.watchFile("/f", { interval: 10, bigint: true }, (cur) => big.push(cur.constructor.name))
      fs.writeFileSync("/f", "22")
      await eventually(() => big.length > 0)
      fs.unwatchFile("/f")
      expect(big[0]).toBe("BigIntStats")
      const before = timers()
      fs.watchFile("/g", { persistent: false }, () => undefined)
      expect(timers()).toBe(before)
      fs.unwatchFile("/g")
    }))

  it("FS-0732 the VFS goes away: the listener sees the file gone once, then the watcher stops ('stop') and polls no more", () =>
    withFs(async ({ fs, system }) => {
      fs.writeFileSync("/f", "1")
      const calls: Array<number> = []
      const w = fs.watchFile("/f", { interval: 10 }, (cur) => calls.push(cur.size))
      let stopped = false
      w.on("stop", () => (stopped = true))
      await pause(30)
      await Effect.runPromise(Kernel.kill(system.vfs))
      await eventually(() => stopped)
      await pause(40)
      expect(calls).toEqual([0])
    }))
})
