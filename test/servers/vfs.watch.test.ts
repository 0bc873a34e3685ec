import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Either } from "effect"
import * as System from "../../src/root/FileSystemStack.js"
import * as Vfs from "../../src/fs/VfsClient.js"
import { MAX_QUEUED } from "../../src/servers/vfs/watches.js"
import { asClient, boot, enc } from "./vfs.support.js"
import { settle } from "../support/kernel.js"

/** Events as `kind name` lines. */
const lines = (events: ReadonlyArray<Vfs.WatchEvent>) => events.map((e) => `${e.type} ${e.name}`)

/**
 * A watcher: watches `path` (telling `ready` once it does), then collects events with held calls
 * until it has `count` of them; returns them and how many calls it took.
 */
const watcher =
  (path: string, count: number, ready: Deferred.Deferred<void>, options: { recursive?: boolean } = {}) =>
  (vfs: Vfs.Vfs) =>
    Effect.gen(function* () {
      const id = yield* Vfs.watch(vfs, path, options)
      yield* Deferred.succeed(ready, undefined)
      const got: Array<Vfs.WatchEvent> = []
      let after = 0
      let calls = 0
      while (got.length < count) {
        const b = yield* Vfs.watchEvents(vfs, id, after)
        calls++
        got.push(...b.events)
        after = b.next
      }
      yield* Vfs.unwatch(vfs, id)
      return { events: lines(got), calls }
    })

/** Waits for the watcher fiber and returns its result. */
const result = <A, E>(f: import("effect").Fiber.Fiber<A, E>) =>
  Effect.flatMap(f.await, (exit) => (exit._tag === "Success" ? Effect.succeed(exit.value) : Effect.die(exit.cause)))

describe("change notifications (watch)", () => {
  it.effect(
    "WATCH-0001 a directory's watch sees its entries come, change, move and go, in order, from another client; not what happens below a subdirectory",
    () =>
      Effect.gen(function* () {
        const sys = yield* System.start()
        yield* asClient(sys, (vfs) => vfs.mkdir({ path: "/d", mode: 0o755, recursive: false }))
        const ready = yield* Deferred.make<void>()
        const watching = yield* Effect.fork(asClient(sys, watcher("/d", 8, ready)))
        yield* Deferred.await(ready)
        yield* asClient(sys, (vfs) =>
          Effect.gen(function* () {
            yield* Vfs.writeFile(vfs, "/d/a", enc("x"))
            yield* Vfs.writeFile(vfs, "/d/a", enc("yy"))
            yield* vfs.rename({ from: "/d/a", to: "/d/b" })
            yield* vfs.mkdir({ path: "/d/sub", mode: 0o755, recursive: false })
            yield* Vfs.writeFile(vfs, "/d/sub/deep", enc("not seen"))
            yield* vfs.setattr({ path: "/d/b", follow: true, mode: 0o600 })
            yield* vfs.unlink({ path: "/d/b" })
          })
        )
        const r = yield* result(watching)
        expect(r.events).toEqual(["rename a", "change a", "change a", "rename a", "rename b", "rename sub", "change b", "rename b"])
      }).pipe(boot)
  )

  it.effect(
    "WATCH-0002 a recursive watch names what changes below it by its relative path, and follows its directory's inode when the directory is renamed",
    () =>
      Effect.gen(function* () {
        const sys = yield* System.start()
        yield* asClient(sys, (vfs) => vfs.mkdir({ path: "/top/mid", mode: 0o755, recursive: true }))
        const ready = yield* Deferred.make<void>()
        const watching = yield* Effect.fork(asClient(sys, watcher("/top", 4, ready, { recursive: true })))
        yield* Deferred.await(ready)
        yield* asClient(sys, (vfs) =>
          Effect.gen(function* () {
            yield* Vfs.writeFile(vfs, "/top/mid/f", enc("x"))
            yield* vfs.rename({ from: "/top", to: "/moved" })
            yield* vfs.unlink({ path: "/moved/mid/f" })
          })
        )
        const r = yield* result(watching)
        // The move of the watched directory itself is a rename of it, named as it was watched (inotify's IN_MOVE_SELF).
        expect(r.events).toEqual(["rename mid/f", "change mid/f", "rename top", "rename mid/f"])
      }).pipe(boot)
  )

  it.effect("WATCH-0003 a file's watch: a write through a descriptor and a truncation are changes, its removal a rename, each named by the file", () =>
    Effect.gen(function* () {
      const sys = yield* System.start()
      yield* asClient(sys, (vfs) => Vfs.writeFile(vfs, "/f", enc("first")))
      const ready = yield* Deferred.make<void>()
      const watching = yield* Effect.fork(asClient(sys, watcher("/f", 3, ready)))
      yield* Deferred.await(ready)
      yield* asClient(sys, (vfs) =>
        Effect.gen(function* () {
          const { fd } = yield* vfs.open({ path: "/f", flags: "r+", mode: 0 })
          yield* Vfs.writeBytes(vfs, fd, enc("more"), 5)
          yield* vfs.close({ fd })
          yield* Vfs.readFile(vfs, "/f")
          yield* vfs.truncate({ path: "/f", size: 1 })
          yield* vfs.unlink({ path: "/f" })
        })
      )
      expect((yield* result(watching)).events).toEqual(["change f", "change f", "rename f"])
    }).pipe(boot)
  )

  it.effect(
    "WATCH-0004 no polling: a held call waits until a change comes (one call per batch); unwatch answers a held call, then the id is EBADF, and another client's id is EBADF",
    () =>
      Effect.gen(function* () {
        const sys = yield* System.start()
        const ready = yield* Deferred.make<number>()
        const written = yield* Deferred.make<void>()
        const watching = yield* Effect.fork(
          asClient(sys, (vfs) =>
            Effect.gen(function* () {
              const id = yield* Vfs.watch(vfs, "/")
              yield* Deferred.succeed(ready, id)
              const first = yield* Vfs.watchEvents(vfs, id, 0)
              const held = yield* Effect.fork(Vfs.watchEvents(vfs, id, first.next))
              // Until the other client's change is done.
              yield* Deferred.await(written)
              yield* Vfs.unwatch(vfs, id)
              const ended = yield* held.await
              const after = yield* Effect.either(Vfs.watchEvents(vfs, id, first.next))
              return {
                first: lines(first.events),
                ended: ended._tag === "Success" ? lines(ended.value.events) : "failed",
                after: Either.isLeft(after) ? after.left.code : "ok"
              }
            })
          )
        )
        const id = yield* Deferred.await(ready)
        const events = sys.vfsCounters.operations.watchEvents
        // Wait until the watcher's first call has reached the VFS (however busy the machine).
        for (let i = 0; i < 100_000 && events.calls === 0; i++) yield* Effect.yieldNow()
        const calls = events.calls
        const answered = events.answered
        yield* settle
        // Held: the watcher's call is in, not answered, and nothing asks again.
        expect([calls, events.calls - calls, events.answered - answered]).toEqual([1, 0, 0])
        const other = yield* asClient(sys, (vfs) =>
          Effect.gen(function* () {
            const foreign = yield* Effect.either(Vfs.watchEvents(vfs, id, 0))
            yield* Vfs.writeFile(vfs, "/new", enc("x"))
            return Either.isLeft(foreign) ? foreign.left.code : "ok"
          })
        )
        expect(other).toBe("EBADF")
        yield* settle
        yield* Deferred.succeed(written, undefined)
        // The first held call answers at the first change; the second has the rest, or, held, is answered by unwatch.
        const w = yield* result(watching)
        expect([[...w.first, ...(w.ended as Array<string>)], w.first.length > 0, w.after]).toEqual([["rename new", "change new"], true, "EBADF"])
      }).pipe(boot)
  )

  it.effect("WATCH-0005 a watcher that falls behind by more than MAX_QUEUED events is told it missed some (overflowed) and gets the latest", () =>
    Effect.gen(function* () {
      const sys = yield* System.start()
      const r = yield* asClient(sys, (vfs) =>
        Effect.gen(function* () {
          const id = yield* Vfs.watch(vfs, "/")
          for (let i = 0; i < MAX_QUEUED + 10; i++) yield* vfs.mkdir({ path: `/d${i}`, mode: 0o755, recursive: false })
          const b = yield* Vfs.watchEvents(vfs, id, 0)
          return { overflowed: b.overflowed, count: b.events.length, last: b.events[b.events.length - 1]!.name, next: b.next }
        })
      )
      expect(r).toEqual({ overflowed: true, count: MAX_QUEUED, last: `d${MAX_QUEUED + 9}`, next: MAX_QUEUED + 10 })
    }).pipe(boot)
  )

  it.effect("WATCH-0006 watching needs read permission on the node (EACCES), and a missing path is ENOENT", () =>
    Effect.gen(function* () {
      const sys = yield* System.start()
      yield* asClient(sys, (vfs) => vfs.mkdir({ path: "/private", mode: 0o700, recursive: false }))
      const r = yield* asClient(
        sys,
        (vfs) =>
          Effect.all({
            denied: Effect.map(Effect.either(Vfs.watch(vfs, "/private")), (e) => (Either.isLeft(e) ? [e.left.code, e.left.syscall, e.left.path] : "ok")),
            missing: Effect.map(Effect.either(Vfs.watch(vfs, "/nope")), (e) => (Either.isLeft(e) ? e.left.code : "ok"))
          }),
        { uid: 1000, gid: 1000 }
      )
      expect(r).toEqual({ denied: ["EACCES", "watch", "/private"], missing: "ENOENT" })
    }).pipe(boot)
  )
})
