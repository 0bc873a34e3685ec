/**
 * A review of the sync API (`src/fs/node/sync.ts`, `ClientEntry.syncRunner`) against Node 20's:
 * sync calls made from code the facade itself calls (a `cp` filter), a sync call while the file
 * system closes, and a sync call that gives up after it has started.
 */
import { describe, expect, it } from "vitest"
import { bootFileSystem } from "../../../src/root/bootFileSystem.js"
import { useSandbox } from "../support/sandbox.js"
import { pause } from "../support/waiting.js"

const box = useSandbox()

/** The code `f` threw (`ok` when it returned). */
const codeOf = (f: () => unknown): string => {
  try {
    f()
    return "ok"
  } catch (e) {
    return String((e as { code?: unknown }).code)
  }
}

describe("the sync API under review", () => {
  it("FS-R0715 an async cp's filter may call sync fs functions, as node:fs's may (it is called from the host, off the client's kernel fiber)", async () => {
    const [node, facade] = await box().both(async (fs, base) => {
      const d = `${base}/cp`
      fs.mkdirSync(`${d}/src`, { recursive: true })
      fs.writeFileSync(`${d}/src/keep`, "1")
      fs.writeFileSync(`${d}/src/skip`, "2")
      const filter = (s: string) => fs.statSync(s).isDirectory() || !s.endsWith("skip")
      const async = await new Promise((resolve) =>
        fs.cp(`${d}/src`, `${d}/dst2`, { recursive: true, filter }, (e: unknown) => resolve(e === null ? "ok" : (e as { code?: unknown }).code))
      )
      const viaPromises = await fs.promises.cp(`${d}/src`, `${d}/dst3`, { recursive: true, filter }).then(
        () => "ok",
        (e: { code?: unknown }) => e.code
      )
      const names = (p: string) => (fs.existsSync(p) ? fs.readdirSync(p) : null)
      return [async, viaPromises, names(`${d}/dst2`), names(`${d}/dst3`)]
    })
    expect(facade).toEqual(node)
    expect(node).toEqual(["ok", "ok", ["keep"], ["keep"]])
  })

  it.fails("FS-R0710 a cpSync filter may call sync fs functions, as node:fs's may (the filter runs inside the drive: EDEADLK)", async () => {
    const [node, facade] = await box().both(async (fs, base) => {
      const d = `${base}/cp`
      fs.mkdirSync(`${d}/src`, { recursive: true })
      fs.writeFileSync(`${d}/src/keep`, "1")
      fs.writeFileSync(`${d}/src/skip`, "2")
      const filter = (s: string) => fs.statSync(s).isDirectory() || !s.endsWith("skip")
      const sync = codeOf(() => fs.cpSync(`${d}/src`, `${d}/dst`, { recursive: true, filter }))
      return [sync, fs.existsSync(`${d}/dst`) ? fs.readdirSync(`${d}/dst`) : null]
    })
    expect(facade).toEqual(node)
    expect(node).toEqual(["ok", ["keep"]])
  })

  it("FS-R0711 a sync call while close() is under way throws EIO (the file system is going), never EDEADLK", async () => {
    const booted = await bootFileSystem()
    const codes: Array<string> = []
    let closed = false
    const closing = booted.close().then(() => {
      closed = true
    })
    const look = () => {
      codes.push(codeOf(() => booted.fs.statSync("/")))
      if (!closed) setImmediate(look)
    }
    look()
    await closing
    expect(codes.filter((c) => c !== "ok" && c !== "EIO")).toEqual([])
  })

  it("FS-R0712 rmSync's retries wait on the caller's stack, as Node's rimrafSync: it fails with the last error after its retries, and nothing runs on afterwards", async () => {
    const booted = await bootFileSystem()
    try {
      const root = booted.fs
      await root.promises.mkdir("/sticky", { mode: 0o1777 })
      await root.promises.chmod("/sticky", 0o1777)
      await root.promises.mkdir("/sticky/roots")
      const user = (await booted.spawnFs("user", { uid: 1000, gid: 1000 })).fs
      const t0 = performance.now()
      expect(codeOf(() => user.rmSync("/sticky/roots", { recursive: true, maxRetries: 3, retryDelay: 30 }))).toBe("EPERM")
      // Three retries, waiting 30, 60 and 90 ms on this stack.
      expect(performance.now() - t0).toBeGreaterThanOrEqual(170)
      // The owner hands the directory over: a retry would now succeed.
      root.chownSync("/sticky/roots", 1000, 1000)
      await pause(300)
      expect(root.existsSync("/sticky/roots")).toBe(true)
    } finally {
      await booted.close()
    }
  })

  it("FS-R0713 a call handed to a parked client thread just before the client dies settles (EIO): an async stat made right before close()", async () => {
    const booted = await bootFileSystem()
    // The sync call leaves a thread parked; the stat wakes it, and the client dies before it runs.
    booted.fs.statSync("/")
    const stat = booted.fs.promises.stat("/").then(
      () => "ok",
      (e: { code?: unknown }) => e.code
    )
    await booted.close()
    // Done before the kill ("ok") or not ("EIO"): either way it settles.
    expect(await Promise.race([stat, pause(500).then(() => "never settled")])).not.toBe("never settled")
  })

  it("FS-R0714 a watcher made right before close() ends with 'error' (EIO) and keeps nothing alive", async () => {
    const booted = await bootFileSystem()
    const w = booted.fs.watch("/")
    const errors: Array<unknown> = []
    w.on("error", (e: { code?: unknown }) => errors.push(e.code))
    await booted.close()
    await pause(20)
    expect(errors).toEqual(["EIO"])
  })
})
