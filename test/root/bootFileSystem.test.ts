import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect } from "effect"
import * as Kernel from "../../src/kernel/Kernel.js"
import * as Vfs from "../../src/fs/VfsClient.js"
import { FsError } from "../../src/lib/FsProtocol.js"
import { bootFileSystem, MAX_CALL_THREADS } from "../../src/root/bootFileSystem.js"

/** Rejects when `p` has not settled within `ms` (so a test that would hang fails instead). */
const within = <A>(p: Promise<A>, ms = 2000): Promise<A> =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still waiting after ${ms} ms`)), ms))])

const codeOf = (p: Promise<unknown>) =>
  within(
    p.then(
      () => "ok",
      (e: unknown) => (e as { code?: string }).code ?? String(e)
    )
  )

describe("the way into a client process (ClientEntry)", () => {
  it("BOOT-0001 a call resolves with its Effect's value, rejects with its failure as Node's error, and with a defect as it is", async () => {
    const booted = await bootFileSystem()
    try {
      expect(await booted.run(Effect.succeed(42))).toBe(42)
      const failed = await booted.run(Effect.fail(new FsError({ code: "ENOENT", syscall: "open", path: "/x" }))).catch((e: unknown) => e)
      expect(failed).toMatchObject({ code: "ENOENT", syscall: "open", path: "/x", errno: -2 })
      const defect = await booted.run(Effect.die(new RangeError("boom"))).catch((e: unknown) => e)
      expect(defect).toBeInstanceOf(RangeError)
    } finally {
      await booted.close()
    }
  })

  it("BOOT-0002 calls run concurrently: a call that waits stalls only itself, and many at once are all served", async () => {
    const booted = await bootFileSystem()
    try {
      const gate = Effect.runSync(Deferred.make<number>())
      const slow = booted.run(Deferred.await(gate))
      await within(booted.fs.promises.writeFile("/quick", "served"))
      expect(await within(booted.fs.promises.readFile("/quick", "utf8"))).toBe("served")
      const many = Array.from({ length: MAX_CALL_THREADS + 50 }, (_, i) => booted.run(Effect.as(Effect.yieldNow(), i)))
      expect(await within(Promise.all(many))).toEqual(Array.from({ length: MAX_CALL_THREADS + 50 }, (_, i) => i))
      Effect.runSync(Deferred.succeed(gate, 7))
      expect(await within(slow)).toBe(7)
    } finally {
      await booted.close()
    }
  })

  it("BOOT-0003 the client process dies: calls running and queued reject with EIO, later calls at once; none waits forever", async () => {
    const booted = await bootFileSystem()
    try {
      const running = Array.from({ length: MAX_CALL_THREADS + 10 }, () => booted.run(Effect.never))
      await new Promise((r) => setTimeout(r, 20))
      await Effect.runPromise(Kernel.kill(booted.client))
      expect(new Set(await Promise.all(running.map(codeOf)))).toEqual(new Set(["EIO"]))
      expect(await codeOf(booted.fs.promises.stat("/"))).toBe("EIO")
      expect(await codeOf(booted.run(Effect.void))).toBe("EIO")
    } finally {
      await booted.close()
    }
  })

  it("BOOT-0004 close(): a call in flight rejects with EIO, and so does every call after", async () => {
    const booted = await bootFileSystem()
    // Its outcome is read at once: the call rejects while close() runs, before the test awaits it.
    const running = codeOf(booted.run(Effect.never))
    await new Promise((r) => setTimeout(r, 10))
    await booted.close()
    expect(await running).toBe("EIO")
    expect(await codeOf(booted.fs.promises.readdir("/"))).toBe("EIO")
  })

  it("BOOT-0005 the VFS dies: the client lives on, and its fs calls reject with EIO instead of waiting", async () => {
    const booted = await bootFileSystem()
    try {
      await booted.fs.promises.writeFile("/f", "x")
      await Effect.runPromise(Kernel.kill(booted.system.vfs))
      expect(await codeOf(booted.fs.promises.stat("/f"))).toBe("EIO")
      expect(await codeOf(booted.fs.promises.readFile("/f"))).toBe("EIO")
      expect(booted.client.alive).toBe(true)
    } finally {
      await booted.close()
    }
  })

  it("BOOT-0006 the file system's space follows the machine: ENOSPC (not ENOMEM) only once the frames are gone, past the default per-process quota", async () => {
    const frames = 17_200
    const booted = await bootFileSystem({ frames })
    try {
      const vfs = Vfs.client(0)
      // Files of sixteen pages, so the test writes a thousand rather than seventeen thousand.
      const data = new Uint8Array(16 * 4096).fill(1)
      const filled = await booted.run(
        Effect.gen(function* () {
          for (let i = 0; ; i++) {
            const r = yield* Effect.either(Vfs.writeFile(vfs, `/f${i}`, data))
            if (r._tag === "Left") return { pages: 16 * i, code: r.left.code }
          }
        })
      )
      const stats = booted.kernel.stats()
      expect(filled.code).toBe("ENOSPC")
      expect(filled.pages).toBeGreaterThan(16_384)
      expect(stats.framesTotal - stats.framesInUse).toBeLessThan(16)
      // Space comes back with the files.
      await booted.fs.promises.unlink("/f0")
      await booted.fs.promises.writeFile("/again", "x")
    } finally {
      await booted.close()
    }
  }, 60_000)
})
