/**
 * The embedded default in one call: `bootFileSystem()` boots a fresh kernel, a RAM file system at
 * `/`, the VFS, and one client process whose Node-compatible `fs` it returns.
 *
 * How JS calls become IPC: the client process's main fiber takes jobs (Effects) from a queue and
 * runs each on a thread of its own, so concurrent JS calls are concurrent client threads. Every
 * `fs` call is therefore a real `call` from the client process to the VFS. A job's promise
 * settles when its thread ends, or with `EIO` if the client process is gone.
 */
import { Deferred, Effect, Exit, Cause, ManagedRuntime, Queue } from "effect"
import * as Kernel from "../kernel/Kernel.js"
import * as Process from "../kernel/Process.js"
import { makeFs, type NodeFs, NodeFsError, toNodeError } from "../fs/NodeFs.js"
import * as Vfs from "../fs/VfsClient.js"
import * as System from "./FileSystemStack.js"

/** Options of `bootFileSystem`. */
export interface BootOptions {
  /** Physical frames of the kernel (4 KiB each). Default 16,384 (64 MiB). */
  readonly frames?: number
  /** The first client's user id. Default 0 (root). */
  readonly uid?: number
  /** The first client's group id. Default 0. */
  readonly gid?: number
  /** The first client's supplementary groups. Default none. */
  readonly groups?: ReadonlyArray<number>
  /** The first client's file-mode creation mask. Default `0o022`. */
  readonly umask?: number
}

/** Another client process on a booted kernel, with its own `fs`. */
export interface FsClient {
  readonly fs: NodeFs
  /** The client process whose threads serve this `fs`'s calls. */
  readonly client: Process.Pcb
}

/** A booted file system: the `fs` object, the kernel (root task's view) and `close`. */
export interface BootedFileSystem extends FsClient {
  readonly kernel: Kernel.KernelCore
  readonly system: System.System
  /**
   * Spawns another client process (its own badge, so its own descriptor table and credentials)
   * and returns its `fs`: what a second program on the same machine sees, acting as
   * `credentials` (default root, umask 0o022). Rejects with the kernel's spawn error, `EINVAL`
   * for invalid credentials, or `EIO` after `close`.
   */
  readonly spawnFs: (name?: string, credentials?: System.ClientCredentials) => Promise<FsClient>
  /** Shuts the kernel down (every process). Later `fs` calls reject with `EIO`. */
  readonly close: () => Promise<void>
}

type Job = Effect.Effect<void, never, Process.Process>
type Runtime = ManagedRuntime.ManagedRuntime<Kernel.Kernel, never>

const gone = () => new NodeFsError("EIO", "fs")

/** What a failed job rejects with: its typed failure as Node's error, or the defect. */
const rejection = (cause: Cause.Cause<unknown>, syscall: string): unknown => {
  const failure = Cause.failureOption(cause)
  return failure._tag === "Some" ? toNodeError(failure.value, syscall) : Cause.squash(cause)
}

/**
 * Spawns a client process whose main fiber runs each job on a thread of its own, and the `fs`
 * whose calls are those jobs.
 */
const attach = async (
  runtime: Runtime,
  system: System.System,
  name: string,
  credentials: System.ClientCredentials | undefined,
  closed: () => boolean
): Promise<FsClient> => {
  const jobs = Effect.runSync(Queue.unbounded<Job>())
  const serveJobs: Effect.Effect<never, never, Process.Process> = Effect.forever(Effect.flatMap(Queue.take(jobs), (job) => Process.fork(job)))
  const spawned = await runtime.runPromiseExit(System.spawnClient(system, serveJobs, name, credentials))
  if (Exit.isFailure(spawned)) throw rejection(spawned.cause, "spawn")
  const client = spawned.value
  const run = <A>(effect: Effect.Effect<A, unknown, Process.Process>): Promise<A> => {
    if (closed() || !client.alive) return Promise.reject(gone())
    return runtime
      .runPromiseExit(
        Effect.gen(function* () {
          const done = yield* Deferred.make<A, unknown>()
          yield* Queue.offer(jobs, Effect.asVoid(Effect.intoDeferred(effect, done)))
          return yield* Effect.raceFirst(
            Deferred.await(done),
            Effect.flatMap(client.await, () => Effect.fail(gone()))
          )
        })
      )
      .then((exit) => {
        if (Exit.isSuccess(exit)) return exit.value
        throw rejection(exit.cause, "fs")
      })
  }
  return { fs: makeFs(Vfs.client(0), run), client }
}

/**
 * Boots the stack; the first client acts as `options.uid`/`gid`/`groups`/`umask` (default root,
 * umask 0o022). Rejects with the kernel's spawn error if the processes cannot be made (for
 * example, too few frames), or `EINVAL` for invalid credentials.
 */
export const bootFileSystem = async (options: BootOptions = {}): Promise<BootedFileSystem> => {
  const runtime: Runtime = ManagedRuntime.make(Kernel.layer(options.frames === undefined ? {} : { frames: options.frames }))
  const { kernel, system } = await runtime.runPromise(
    Effect.gen(function* () {
      return { kernel: yield* Kernel.Kernel, system: yield* System.start() }
    })
  )
  let closed = false
  const isClosed = () => closed
  const first =
    options.uid === undefined && options.gid === undefined && options.groups === undefined && options.umask === undefined
      ? undefined
      : {
          uid: options.uid ?? 0,
          gid: options.gid ?? 0,
          ...(options.groups === undefined ? {} : { groups: options.groups }),
          ...(options.umask === undefined ? {} : { umask: options.umask })
        }
  const { fs, client } = await attach(runtime, system, "fs-client", first, isClosed).catch(async (e: unknown) => {
    await runtime.dispose()
    throw e
  })
  let clients = 1
  return {
    fs,
    client,
    kernel,
    system,
    spawnFs: (name, credentials) => (closed ? Promise.reject(gone()) : attach(runtime, system, name ?? `fs-client-${++clients}`, credentials, isClosed)),
    close: async () => {
      if (closed) return
      closed = true
      await runtime.dispose()
    }
  }
}
