/**
 * The embedded default in one call: `bootFileSystem()` boots a fresh kernel, a RAM file system at
 * `/`, the VFS, and one client process whose Node-compatible `fs` it returns.
 *
 * How JS calls become IPC: each `fs` has a `ClientEntry`, a plain JS queue of calls that
 * long-lived threads of its client process take and run (a parked thread is woken with the call;
 * the pool grows while calls overlap), completing plain promises. Every `fs` call is therefore a
 * real `call` from the client process to the VFS. A call settles with its outcome, or with `EIO`
 * if the client process is or goes away. A sync call (`fs.statSync`…) is submitted the same way,
 * then the kernel is driven on the caller's stack until it has settled (`syncRunner`).
 */
import { Cause, Effect, Exit, ManagedRuntime } from "effect"
import * as Kernel from "../kernel/Kernel.js"
import * as Process from "../kernel/Process.js"
import { makeFs, type NodeFs, NodeFsError, type Runner, type SyncRunner, toNodeError } from "../fs/NodeFs.js"
import * as Vfs from "../fs/VfsClient.js"
import * as System from "./FileSystemStack.js"

/** Options of `bootFileSystem`. */
export interface BootOptions {
  /** Physical frames of the kernel (4 KiB each). Default 16,384 (64 MiB). */
  readonly frames?: number
  /** Frames the RAM file system may hold. Default all of `frames`: `ENOSPC` only when memory really runs out. */
  readonly fsFrames?: number
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
  /** Runs an Effect as a thread of the client process, as every `fs` call does; rejects with its failure, or `EIO` once the client is gone. */
  readonly run: Runner
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
  /** Shuts the kernel down (every process). Calls under way, and every `fs` call from the moment it is called, fail with `EIO`. */
  readonly close: () => Promise<void>
}

type Runtime = ManagedRuntime.ManagedRuntime<Kernel.Kernel, never>
type Program<A> = Effect.Effect<A, unknown, Process.Process>

const gone = () => new NodeFsError("EIO", "fs")
const goneExit: Exit.Exit<never, unknown> = Exit.fail(gone())

/** What a failed call rejects with: its typed failure as Node's error, or the defect. */
const rejection = (cause: Cause.Cause<unknown>, syscall: string): unknown => {
  const failure = Cause.failureOption(cause)
  return failure._tag === "Some" ? toNodeError(failure.value, syscall) : Cause.squash(cause)
}

/**
 * Threads of a client process serving calls at most: how many JS calls run in it at once (more
 * wait in the queue). A call that waits long holds one all that time (a watch's held call does
 * not: it forks a thread of its own).
 */
export const MAX_CALL_THREADS = 256

/** One call from JavaScript into the client process: the Effect to run and what to do with its outcome. */
class Call {
  constructor(
    readonly effect: Program<unknown>,
    readonly settle: (exit: Exit.Exit<unknown, unknown>) => void
  ) {}
}

/**
 * A thread of the client process serving calls; `current` is the call it runs, or was handed while
 * parked and has not run yet (for a death mid-call); `wake` resumes it while it is parked.
 */
class CallThread {
  current: Call | undefined = undefined
  wake: ((next: Effect.Effect<Call>) => void) | undefined = undefined
}

/**
 * The way into one client process: a plain JS queue of calls, served by long-lived threads of the
 * process. A call costs no runtime invocation, fiber, deferred or race of its own: `submit` hands it
 * to a parked thread (one wake-up) or queues it, and the thread settles it with a plain callback.
 *
 * Invariants:
 * - Every call submitted settles exactly once: with its Effect's exit, or with `EIO` when the
 *   client dies first (queued, handed to a parked thread that has not resumed yet, or mid-call);
 *   after death, at once.
 * - A thread that takes a call while no other thread is parked starts one more (up to
 *   `MAX_CALL_THREADS`), so concurrent JS calls run concurrently and a slow call (a mount that
 *   hangs) stalls only itself.
 *
 * Two ways in share `submit`: `run` (a promise, below) and, for a synchronous form, a caller that
 * submits and then drives the kernel's scheduler until its `settle` has run.
 *
 * State is owned by the JS thread (one event loop): `submit` and the threads' steps never interleave.
 */
export class ClientEntry {
  /** Calls no thread has taken yet, oldest at `head`. */
  private readonly queued: Array<Call | undefined> = []
  private head = 0
  /** Parked threads. */
  private readonly parked: Array<CallThread> = []
  private readonly threads: Array<CallThread> = []
  private dead = false

  /** Runs `effect` in the client process and calls `settle` once with its exit (`EIO` if the client is or goes away). */
  submit(effect: Program<unknown>, settle: (exit: Exit.Exit<unknown, unknown>) => void): void {
    if (this.dead) return settle(goneExit)
    const call = new Call(effect, settle)
    const t = this.parked.pop()
    if (t === undefined) this.queued.push(call)
    else {
      // Its call from now on: a death before the thread resumes settles it (`die`).
      t.current = call
      t.wake!(Effect.succeed(call))
    }
  }

  /** The promise form of `submit`: resolves with the Effect's value, rejects with its failure (as Node's error) or `EIO`. */
  readonly run: Runner = <A>(effect: Program<A>): Promise<A> =>
    new Promise<A>((resolve, reject) =>
      this.submit(effect, (exit) => (exit._tag === "Success" ? resolve(exit.value as A) : reject(rejection(exit.cause, "fs"))))
    )

  /**
   * The synchronous form of `submit`, on `kernel`: runs `effect` in the client process and drives
   * the kernel on this stack until the call has settled; returns its value, or throws its failure
   * (as Node's error) or `EIO`. When the call cannot settle without the host, throws the kernel's
   * `WouldWaitOnHost` (a call no thread has taken yet then never runs; one already running goes on
   * and its outcome is dropped) or `ReentrantRunSync` (called from inside a kernel fiber; nothing
   * was submitted).
   */
  syncRunner(kernel: Kernel.KernelCore): SyncRunner {
    return <A>(effect: Program<A>): A => {
      let outcome: Exit.Exit<unknown, unknown> | undefined = undefined
      let abandoned = false
      const stuck = kernel.driveUntil(
        () =>
          this.submit(
            Effect.suspend(() => (abandoned ? Effect.void : effect)),
            (exit) => {
              outcome = exit
            }
          ),
        () => outcome !== undefined
      )
      const settled = outcome as Exit.Exit<unknown, unknown> | undefined
      if (settled === undefined) {
        abandoned = true
        throw stuck
      }
      if (settled._tag === "Success") return settled.value as A
      throw rejection(settled.cause, "fs")
    }
  }

  /** The client died: every call queued or running settles with `EIO`, and every later one at once. */
  die(): void {
    if (this.dead) return
    this.dead = true
    for (const t of this.threads) {
      const c = t.current
      t.current = undefined
      c?.settle(goneExit)
    }
    for (let c = this.take(); c !== undefined; c = this.take()) c.settle(goneExit)
  }

  /** The client process's program: serves calls on its main fiber and on the threads it starts. */
  readonly serve: Effect.Effect<never, never, Process.Process> = Effect.suspend(() => this.thread())

  private take(): Call | undefined {
    if (this.head === this.queued.length) return undefined
    const c = this.queued[this.head]
    this.queued[this.head++] = undefined
    if (this.head === this.queued.length) {
      this.queued.length = 0
      this.head = 0
    }
    return c
  }

  /**
   * One serving thread: runs a call, settles it, and goes straight on to the next queued call or
   * parks until `submit` wakes it with one — a step or two of Effect per call.
   */
  private thread(): Effect.Effect<never, never, Process.Process> {
    const self = new CallThread()
    this.threads.push(self)
    const parked: Effect.Effect<Call> = Effect.async<Call>((wake) => {
      self.wake = wake
      this.parked.push(self)
      // Interrupted while parked (the client dies): never woken with a call that would be lost.
      return Effect.sync(() => {
        const i = this.parked.indexOf(self)
        if (i >= 0) this.parked.splice(i, 1)
      })
    })
    // The call that ended is `self.current`, unless a death settled it (and cleared it) first.
    const done = (exit: Exit.Exit<unknown, unknown>): Effect.Effect<never, never, Process.Process> => {
      const call = self.current
      // Cleared first: a death from here on must not settle this call a second time.
      if (call !== undefined) {
        self.current = undefined
        call.settle(exit)
      }
      const c = this.take()
      return c !== undefined ? serve(c) : waiting
    }
    // Built once per thread, not per call: a call allocates no continuation closures.
    const outcome = {
      onFailure: (cause: Cause.Cause<unknown>) => done(Exit.failCause(cause)),
      onSuccess: (value: unknown) => done(Exit.succeed(value))
    }
    const serve = (call: Call): Effect.Effect<never, never, Process.Process> => {
      self.current = call
      const run = Effect.matchCauseEffect(call.effect, outcome)
      // The last parked thread took a call: start one more, so the next call finds one.
      return this.parked.length === 0 && this.threads.length < MAX_CALL_THREADS ? Effect.zipRight(Process.fork(this.thread()), run) : run
    }
    const waiting: Effect.Effect<never, never, Process.Process> = Effect.flatMap(parked, serve)
    return Effect.suspend(() => {
      const c = this.take()
      return c !== undefined ? serve(c) : waiting
    })
  }
}

/** Spawns a client process serving calls through a `ClientEntry`, and the `fs` whose calls go through it. */
const attach = async (
  runtime: Runtime,
  kernel: Kernel.KernelCore,
  system: System.System,
  name: string,
  credentials: System.ClientCredentials | undefined,
  entries: Array<ClientEntry>
): Promise<FsClient> => {
  const entry = new ClientEntry()
  const spawned = await runtime.runPromiseExit(System.spawnClient(system, entry.serve, name, credentials))
  if (Exit.isFailure(spawned)) throw rejection(spawned.cause, "spawn")
  const client = spawned.value
  entries.push(entry)
  runtime.runFork(Effect.flatMap(client.await, () => Effect.sync(() => entry.die())))
  return { fs: makeFs(Vfs.client(0), entry.run, entry.syncRunner(kernel)), client, run: entry.run }
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
      return { kernel: yield* Kernel.Kernel, system: yield* System.start([], options.fsFrames === undefined ? {} : { fsQuota: options.fsFrames }) }
    })
  )
  let closed = false
  const entries: Array<ClientEntry> = []
  const first =
    options.uid === undefined && options.gid === undefined && options.groups === undefined && options.umask === undefined
      ? undefined
      : {
          uid: options.uid ?? 0,
          gid: options.gid ?? 0,
          ...(options.groups === undefined ? {} : { groups: options.groups }),
          ...(options.umask === undefined ? {} : { umask: options.umask })
        }
  const { fs, client, run } = await attach(runtime, kernel, system, "fs-client", first, entries).catch(async (e: unknown) => {
    await runtime.dispose()
    throw e
  })
  let clients = 1
  return {
    fs,
    client,
    run,
    kernel,
    system,
    spawnFs: (name, credentials) => (closed ? Promise.reject(gone()) : attach(runtime, kernel, system, name ?? `fs-client-${++clients}`, credentials, entries)),
    close: async () => {
      if (closed) return
      closed = true
      // First: a call made while the kernel shuts down (a sync one too) is EIO at once, not a wait on processes being killed.
      for (const e of entries) e.die()
      await runtime.dispose()
    }
  }
}
