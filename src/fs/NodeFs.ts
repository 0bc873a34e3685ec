/**
 * A Node-compatible `fs` over the VFS (Node 20's `node:fs` on Linux): the callback API, the sync
 * API, `promises`, the watchers (`watch`, `watchFile`, `promises.watch`), `ReadStream`/`WriteStream`, `Dir`, `FileHandle`, `Stats`,
 * `BigIntStats`, `StatFs`, `Dirent`, `constants` and `F_OK`…`X_OK`, with Node's argument errors
 * and Node-shaped system errors (`ENOENT: no such file or directory, open '/x'`, `errno`, `code`,
 * `syscall`, `path`, `dest`). See docs/fs.md.
 *
 * Every call runs as an Effect inside a client process (`Runner`; a sync call through `SyncRunner`,
 * the kernel driven on the caller's stack): it is IPC to the VFS, never a shortcut. The parts live in `node/`: the argument checks (`validators.ts`), the argument layer
 * shared by every form (`bindings.ts`), the system calls over the VFS (`core.ts`), Node's
 * compound operations (`compound.ts`), and the forms (`callbacks.ts`, `sync.ts`, `promises.ts`,
 * `FileHandle.ts`, `streams.ts`, `Dir.ts`, `watchers.ts`).
 */
import { FsProtocol } from "../api.js"
import { makeCallbacks } from "./node/callbacks.js"
import { constants } from "./node/constants.js"
import { Context } from "./node/core.js"
import { Dir, opendir } from "./node/Dir.js"
import { NodeFsError } from "./node/errors.js"
import { submit, type Runner, type SyncRunner } from "./node/host.js"
import { makePromises } from "./node/promises.js"
import { BigIntStats, Dirent, StatFs, Stats } from "./node/stats.js"
import { makeStreams } from "./node/streams.js"
import { makeSync } from "./node/sync.js"
import { validateFunction } from "./node/validators.js"
import { makeStatWatchers, watch, watchPromise } from "./node/watchers.js"
import type * as Vfs from "./VfsClient.js"

export { constants } from "./node/constants.js"
export { Dir } from "./node/Dir.js"
export { AbortError, NodeFsError, SystemError } from "./node/errors.js"
export { FileHandle } from "./node/FileHandle.js"
export type { Runner, SyncRunner } from "./node/host.js"
export type { Promises } from "./node/promises.js"
export { BigIntStats, Dirent, StatFs, Stats } from "./node/stats.js"
export { FSWatcher, StatWatcher } from "./node/watchers.js"

const { FsError } = FsProtocol

/** An `FsError` as Node's error (`syscall` and `path` where the VFS named none); anything else as is. */
export const toNodeError = (e: unknown, syscall: string, path?: string): unknown =>
  e instanceof FsError ? new NodeFsError(e.code, e.syscall ?? syscall, e.path === "" ? undefined : (e.path ?? path), e.dest) : e

/**
 * The Node-compatible `fs` object of the VFS client `vfs`, whose calls `run` (and, for the sync
 * API, `runSync`) carries into the client process. Errors: as `node:fs`'s (argument errors thrown,
 * or rejected by `promises`; system errors called back, rejected or thrown), `EIO` once the VFS
 * (or the client) is gone; a sync call that cannot finish without the host throws `EDEADLK`.
 */
export const makeFs = (vfs: Vfs.Vfs, run: Runner, runSync: SyncRunner): NodeFs => {
  const ctx = new Context(vfs)
  const callbacks = makeCallbacks({ ctx, run, runSync })
  const streams = makeStreams(callbacks)
  const host = { ctx, run, runSync, streams }
  const promises = { ...makePromises(host), watch: (filename: unknown, options?: unknown) => watchPromise(host, filename, options) }
  const { ReadStream, WriteStream } = streams
  const fs = {
    ...callbacks,
    ...makeSync(host),
    /** `opendir(path, options, callback)`: a `Dir`. */
    opendir(path: unknown, options: unknown, callback?: unknown) {
      const cb = validateFunction(typeof options === "function" ? options : callback, "callback")
      submit(host, opendir(host, path, options), cb, "value")
    },
    watch: (filename: unknown, options?: unknown, listener?: unknown) => watch(host, filename, options, listener),
    ...makeStatWatchers(host),
    createReadStream: (path: unknown, options?: unknown) => new ReadStream(path, options),
    createWriteStream: (path: unknown, options?: unknown) => new WriteStream(path, options),
    ReadStream,
    WriteStream,
    FileReadStream: ReadStream,
    FileWriteStream: WriteStream,
    Dirent,
    Stats,
    BigIntStats,
    StatFs,
    Dir,
    F_OK: constants.F_OK,
    R_OK: constants.R_OK,
    W_OK: constants.W_OK,
    X_OK: constants.X_OK,
    constants,
    promises
  }
  // Node's own declarations describe this object: the same functions, arguments and results.
  return fs as unknown as NodeFs
}

type NodeFsModule = typeof import("node:fs")
type Absent = "lchmod" | "lchmodSync"

/**
 * The type of the Node-compatible `fs` object: `node:fs`'s own declarations; `lchmod` and
 * `lchmodSync` are absent, as on Linux; plus the `BigIntStats`/`StatFs`
 * classes and the top-level `F_OK`…`X_OK` that those declarations leave out.
 */
export type NodeFs = Omit<NodeFsModule, Absent> & {
  readonly lchmod: undefined
  readonly lchmodSync: undefined
  readonly BigIntStats: typeof BigIntStats
  readonly StatFs: typeof StatFs
  /** `fs.F_OK`… as Node 20 still has them (the same values as `constants`). */
  readonly F_OK: number
  readonly R_OK: number
  readonly W_OK: number
  readonly X_OK: number
}
