/**
 * A review of the watchers (`src/fs/node/watchers.ts`) against Node 20's: many watchers on one
 * client, a listener that throws, an `'error'` nobody listens to, and argument checks that differ
 * from node:fs's.
 */
import nodeFs from "node:fs"
import { describe, expect, it } from "vitest"
import { MAX_CALL_THREADS } from "../../../src/root/bootFileSystem.js"
import { Effect } from "effect"
import * as Kernel from "../../../src/kernel/Kernel.js"
import { normalise } from "../support/differential.js"
import { useSandbox } from "../support/sandbox.js"
import { eventually, pause, withFs } from "../support/waiting.js"

const box = useSandbox()

/** What reached the process while `f` ran: uncaught exceptions and unhandled rejections, in order (the test runner's own handlers set aside). */
const escapes = async (f: () => Promise<void>): Promise<Array<string>> => {
  const kinds = ["uncaughtException", "unhandledRejection"] as const
  const saved = kinds.map((k) => process.listeners(k as "uncaughtException"))
  const seen: Array<string> = []
  for (const k of kinds) {
    process.removeAllListeners(k)
    process.on(k as "uncaughtException", (e: unknown) => seen.push(`${k} ${(e as Error).message}`))
  }
  try {
    await f()
    await pause(20)
  } finally {
    kinds.forEach((k, i) => {
      process.removeAllListeners(k)
      for (const l of saved[i]!) process.on(k as "uncaughtException", l as (e: Error) => void)
    })
  }
  return seen
}

/** The outcome of `f`: its value's kind, or the error it threw (normalised). */
const outcome = (f: () => unknown): unknown => {
  try {
    const r = f() as { close?: () => void; constructor?: { name?: string } } | undefined
    r?.close?.()
    return { ok: r?.constructor?.name }
  } catch (e) {
    return { threw: normalise(e) }
  }
}

describe("fs.watch under review", () => {
  it("FS-R0701 more watchers than the client has call threads (300): every fs.watch starts, other calls go on, and closing them ends every VFS watch", () =>
    withFs(async ({ fs, system }) => {
      fs.mkdirSync("/d")
      const count = MAX_CALL_THREADS + 44
      const unwatched = system.vfsCounters.operations.unwatch.calls
      const ws = Array.from({ length: count }, () => fs.watch("/d"))
      await pause(20)
      expect(await Promise.race([fs.promises.stat("/d").then(() => "answered"), pause(1000).then(() => "hung")])).toBe("answered")
      expect(fs.statSync("/d").isDirectory()).toBe(true)
      const seen: Array<string> = []
      ws[count - 1]!.on("change", (type, name) => seen.push(`${type} ${name}`))
      fs.writeFileSync("/d/f", "x")
      await eventually(() => seen.includes("rename f"))
      for (const w of ws) w.close()
      await eventually(() => system.vfsCounters.operations.unwatch.calls - unwatched === count)
      expect(fs.readdirSync("/d")).toEqual(["f"])
    }))

  it("FS-R0702 a 'change' listener that throws: an uncaught exception (as node:fs's), and the watcher goes on with the rest of the batch and later events", () =>
    withFs(async ({ fs }) => {
      fs.mkdirSync("/d")
      const seen: Array<string> = []
      let w: nodeFs.FSWatcher | undefined
      const escaped = await escapes(async () => {
        w = fs.watch("/d", (type, name) => {
          seen.push(`${type} ${name}`)
          if (name === "a" && type === "rename") throw new Error("listener failed")
        })
        fs.writeFileSync("/d/a", "x")
        await pause(30)
        fs.writeFileSync("/d/b", "y")
        await eventually(() => seen.includes("rename b"))
      })
      w?.close()
      expect(escaped).toEqual(["uncaughtException listener failed"])
      expect(seen).toEqual(["rename a", "change a", "rename b", "change b"])
    }))

  it("FS-R0703 the VFS gone and no 'error' listener: the error is an uncaught exception (as a Node handle's), not an unhandled rejection", () =>
    withFs(async ({ fs, system }) => {
      const escaped = await escapes(async () => {
        fs.watch("/")
        await pause(10)
        await Effect.runPromise(Kernel.kill(system.vfs))
        await pause(30)
      })
      expect(escaped).toEqual(["uncaughtException EIO: i/o error, watch"])
    }))

  it("FS-R0704 a watchFile listener that throws: an uncaught exception, not an unhandled rejection", () =>
    withFs(async ({ fs }) => {
      fs.writeFileSync("/f", "1")
      const escaped = await escapes(async () => {
        let calls = 0
        fs.watchFile("/f", { interval: 5 }, () => {
          calls++
          throw new Error("stat listener failed")
        })
        await pause(30)
        fs.appendFileSync("/f", "2")
        await eventually(() => calls > 0)
        fs.unwatchFile("/f")
      })
      expect(escaped).toEqual(["uncaughtException stat listener failed"])
    }))

  it("FS-R0705 argument checks as node:fs's: watch's truthy non-boolean recursive (and then persistent), watchFile/unwatchFile with a Buffer, promises.watch's 'buffer' encoding and non-AbortSignal signal", async () => {
    const [node, facade] = await box().both(async (fs: typeof nodeFs, base) => {
      const d = `${base}/args`
      fs.mkdirSync(d)
      /** How the first `next()` goes: it rejects, or it waits (then the watch is aborted). */
      const first = async (o: Record<string, unknown>) => {
        const ac = new AbortController()
        const iterator = fs.promises.watch(d, { signal: ac.signal, ...o } as never)[Symbol.asyncIterator]()
        const next = iterator.next()
        const r = await Promise.race([
          next.then(
            () => ({ ok: "event" }),
            (e: unknown) => ({ threw: normalise(e) })
          ),
          pause(50).then(() => ({ ok: "waiting" }))
        ])
        ac.abort()
        await next.catch(() => undefined)
        return r
      }
      return [
        outcome(() => fs.watch(d, { recursive: "yes" as never })),
        outcome(() => fs.watch(d, { recursive: 1 as never })),
        outcome(() => fs.watch(d, { recursive: 0 as never })),
        outcome(() => fs.watch(d, { recursive: true, persistent: "yes" as never })),
        outcome(() => fs.watchFile(Buffer.from(`${d}/f`) as never, () => {})),
        outcome(() => fs.unwatchFile(Buffer.from(`${d}/f`) as never)),
        await first({ encoding: "buffer" }),
        await first({ signal: 5 })
      ]
    })
    expect(facade).toEqual(node)
  })

  it("FS-R0706 fs.watch's persistent keeps the event loop only when it is true (Node's handle: 'yes' or 1 keep nothing alive; watchFile's any truthy value does)", () =>
    withFs(async ({ fs }) => {
      const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length
      const before = timers()
      const ws = [fs.watch("/", { persistent: "yes" as never }), fs.watch("/", { persistent: 1 as never })]
      const held = timers() - before
      for (const w of ws) w.close()
      expect(held).toBe(0)
    }))
})
