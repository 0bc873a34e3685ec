/** Helpers shared by the VFS's tests. */
import { Effect, Either } from "effect"
import type { Process } from "../../src/index.js"
import type { Attr, FileType } from "../../src/lib/FsProtocol.js"
import * as System from "../../src/root/FileSystemStack.js"
import * as TestKernel from "../../src/root/TestKernel.js"
import * as Vfs from "../../src/fs/VfsClient.js"

/** A kernel of 8,192 frames for a test. */
export const boot = Effect.provide(TestKernel.layer({ frames: 8192 }))

/** UTF-8 bytes of `s`. */
export const enc = (s: string) => new TextEncoder().encode(s)

/** Runs `program` as a VFS client (slot 0: the VFS) acting as `credentials`, and returns its value; a failure fails the test. */
export const asClient = <A>(
  sys: System.System,
  program: (vfs: Vfs.Vfs) => Effect.Effect<A, unknown, Process.Process>,
  credentials?: System.ClientCredentials
) =>
  Effect.gen(function* () {
    const pcb = yield* System.spawnClient(sys, Effect.either(program(Vfs.client(0))), "client", credentials)
    const exit = yield* pcb.await
    if (exit._tag !== "Exited") return yield* Effect.dieMessage(`client ended ${exit._tag}`)
    const r = exit.value as Either.Either<A, unknown>
    if (Either.isLeft(r)) return yield* Effect.dieMessage(`client failed: ${JSON.stringify(r.left)}`)
    return r.right
  })

/** The attributes of a stand-in inode: `mode` (default 0o644 for a file, else 0o755), owned by `uid` (and the group of the same number), one link, empty, at the epoch. */
export const attr = (ino: number, type: FileType, mode = type === "file" ? 0o644 : 0o755, uid = 0): Attr => ({
  ino,
  type,
  mode,
  nlink: 1,
  uid,
  gid: uid,
  size: 0,
  blocks: 0,
  atimeSec: 0,
  atimeNsec: 0,
  mtimeSec: 0,
  mtimeNsec: 0,
  ctimeSec: 0,
  ctimeNsec: 0,
  birthtimeSec: 0,
  birthtimeNsec: 0
})
