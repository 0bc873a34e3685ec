/**
 * Processes: the `Process` service every program runs with, the process control block behind it,
 * and the syscalls a process makes about itself.
 *
 * A program is an `Effect<A, E, Process>`. It runs with a context that holds *only* its `Process`,
 * an opaque handle (`ProcessHandle`): it names the process and nothing else, so a program cannot
 * reach the kernel, its own process control block, another process's memory or another process's
 * capabilities except through syscalls that check them. The kernel finds the `Pcb` behind a handle
 * through a private field that only this module reads.
 *
 * The life of a process is here too: `fork` adds a thread, `teardown` releases everything once
 * the main fiber has ended (the kernel starts the main fiber, `KernelCore.start`).
 *
 * Invariants:
 * - `status` goes created → running → dying → dead, never back. A restarted server is a new
 *   `Pcb` with the same pid and the next generation.
 * - Teardown runs exactly once, in the main fiber's exit path, uninterruptibly. After it the
 *   process holds no capability, no mapping and no thread; frames only it referenced are free.
 * - While dying, no new thread starts; every thread is interrupted before the process's
 *   capabilities, ports and memory are released, and the death hooks run exactly once.
 */
import { Cause, Context, Deferred, Effect, Exit, Fiber, FiberId, type Scheduler } from "effect"
import type { AddressSpace } from "../memory/AddressSpace.js"
import type { CSpace } from "./Capability.js"
import { ArrayPrototypeSplice } from "../primordials.js"
import type { KernelCore } from "./Kernel.js"

/** How a process ended. */
export type ProcessExit =
  { readonly _tag: "Exited"; readonly value: unknown } | { readonly _tag: "Failed"; readonly cause: Cause.Cause<unknown> } | { readonly _tag: "Killed" }

/**
 * Something another process waits on this one for (a call it received and has not answered).
 * At death the kernel fails each one, so nobody waits forever for a dead process.
 */
export interface Obligation {
  fail(): void
  /** Where it sits in its holder's `Obligations` (-1: nowhere). Kernel bookkeeping. */
  obligationIndex: number
}

/**
 * A process's obligations, in an array that records each one's index on it: adding and removing
 * cost a store or two, and no hashing. A `Set` would hash every new object it meets (V8 gives an
 * object its identity hash on first use), which cost about 0.3 µs per call received.
 */
export class Obligations {
  private readonly items: Array<Obligation> = []

  get size(): number {
    return this.items.length
  }

  add(o: Obligation): void {
    o.obligationIndex = this.items.length
    this.items[this.items.length] = o
  }

  /** Removes `o` if it is here. */
  delete(o: Obligation): void {
    const i = o.obligationIndex
    if (i < 0 || this.items[i] !== o) return
    const last = this.items.pop()!
    if (last !== o) {
      this.items[i] = last
      last.obligationIndex = i
    }
    o.obligationIndex = -1
  }

  /** Removes and returns them all. */
  drain(): Array<Obligation> {
    const all = ArrayPrototypeSplice(this.items, 0)
    for (let i = 0; i < all.length; i++) all[i]!.obligationIndex = -1
    return all
  }
}

/** Passed to `ProcessHandle`'s constructor by the kernel alone: a handle made elsewhere throws. */
const KERNEL: unique symbol = Symbol("kernel")
let pcbBehind: (handle: unknown) => Pcb | undefined

/**
 * A process as its programs hold it (the `Process` service): its identity and nothing else. Made
 * only by the kernel, one per process; the `Pcb` behind it is in a private field.
 */
export class ProcessHandle {
  readonly #pcb: Pcb
  /** @internal Throws a `TypeError` unless called by the kernel. */
  constructor(token: typeof KERNEL, pcb: Pcb) {
    if (token !== KERNEL) throw new TypeError("a process handle is made by the kernel only")
    this.#pcb = pcb
  }
  get pid(): number {
    return this.#pcb.pid
  }
  get generation(): number {
    return this.#pcb.generation
  }
  get name(): string {
    return this.#pcb.name
  }
  toString(): string {
    return this.#pcb.toString()
  }
  static {
    pcbBehind = (handle) => (typeof handle === "object" && handle !== null && #pcb in handle ? (handle as ProcessHandle).#pcb : undefined)
  }
}

/** The process control block. Kernel-side; programs hold only its `handle`. */
export class Pcb {
  /** Owned by the kernel: written by `start` and teardown only. */
  status: "created" | "running" | "dying" | "dead" = "created"
  /**
   * The kernel's scheduler for this process's account (what its fibers run on). Owned by the
   * kernel: written once, by `start`. A direct call's handler runs on its caller's.
   */
  scheduler: Scheduler.Scheduler | undefined = undefined
  /** The main fiber; its end is the process's end. */
  main: Fiber.RuntimeFiber<unknown, unknown> | undefined = undefined
  /** Threads forked with `Process.fork`, removed as they end. */
  readonly threads = new Set<Fiber.RuntimeFiber<unknown, unknown>>()
  /** Run once at death, after the threads are interrupted (see `onDeath`). */
  private readonly hooks: Array<() => void> = []
  /** What others wait on this process for; failed at death, after the threads stop. */
  readonly obligations = new Obligations()
  /** Bytes the kernel copied on this process's behalf (its lease operations, deliveries into it). */
  bytesCopied = 0
  /** Set when a kill was asked for, so teardown reports `Killed`. */
  killed = false
  /** The defect of a thread that faulted the process, reported as its exit. */
  fault: Cause.Cause<unknown> | undefined = undefined
  /** Completed with the process's exit once teardown is done. */
  readonly exit: Deferred.Deferred<ProcessExit>
  /** What the process's programs see as their `Process`. */
  readonly handle: ProcessHandle

  constructor(
    readonly kernel: KernelCore,
    readonly pid: number,
    readonly generation: number,
    /** The frame account charged for this process's memory; unique per generation. */
    readonly account: number,
    readonly name: string,
    readonly space: AddressSpace,
    readonly cspace: CSpace
  ) {
    this.exit = Deferred.unsafeMake(FiberId.none)
    this.handle = new ProcessHandle(KERNEL, this)
  }

  /** Adds `hook` to what runs once at death, after the threads are interrupted (IPC closes ports, fails replies…). */
  onDeath(hook: () => void): void {
    this.hooks[this.hooks.length] = hook
  }

  /** Runs the death hooks, once (teardown). */
  runDeathHooks(): void {
    const hooks = ArrayPrototypeSplice(this.hooks, 0)
    for (let i = 0; i < hooks.length; i++) hooks[i]!()
  }

  /** Whether the process can still act (not dying or dead). */
  get alive(): boolean {
    return this.status === "created" || this.status === "running"
  }

  /** Waits for the process to end and tells how. */
  get await(): Effect.Effect<ProcessExit> {
    return Deferred.await(this.exit)
  }

  toString(): string {
    return `${this.name}#${this.pid}.${this.generation}`
  }
}

/** The calling process, as an opaque handle. Every syscall reads it from the context. */
export class Process extends Context.Tag("effect-microkernel/Process")<Process, ProcessHandle>() {}

/**
 * The `Pcb` behind a handle (kernel use), or undefined when `handle` is not one the kernel made.
 */
export const pcbOf = (handle: unknown): Pcb | undefined => pcbBehind(handle)

/**
 * The process `fiber` runs for, read straight from the fiber's context (cheaper than yielding the
 * tag). Every syscall finds its caller this way. A context whose `Process` is not a handle the
 * kernel made is a defect of the program that put it there.
 */
export const processOf = (fiber: Fiber.RuntimeFiber<unknown, unknown>): Pcb => {
  const p = pcbBehind(Context.unsafeGet(fiber.currentContext as Context.Context<Process>, Process))
  if (p === undefined) throw new Error("invariant violated: the Process service is not a handle the kernel made")
  // Only a direct call's handler can still run as a process that has died (on its caller's
  // fiber): it can no longer act.
  if (p.status === "dead") throw new Error(`invariant violated: ${p} is dead and can make no syscall`)
  return p
}

/** The calling process's identity: pid, generation and name. */
export const self: Effect.Effect<{ readonly pid: number; readonly generation: number; readonly name: string }, never, Process> = Effect.map(Process, (h) => ({
  pid: h.pid,
  generation: h.generation,
  name: h.name
}))

/**
 * Runs `effect` as a new thread of the calling process. The thread ends with the process; a thread
 * that dies with a defect faults the whole process (as an uncaught fault would).
 * If the process is already dying, the returned fiber is interrupted at once.
 */
export const fork = <A, E>(effect: Effect.Effect<A, E, Process>): Effect.Effect<Fiber.RuntimeFiber<A, E>, never, Process> =>
  Effect.withFiberRuntime((caller) => {
    // A dead process's handle forks a thread that ends at once (below), not a defect.
    const p = pcbBehind(Context.unsafeGet(caller.currentContext as Context.Context<Process>, Process))
    if (p === undefined) return Effect.dieMessage("invariant violated: the Process service is not a handle the kernel made")
    return Effect.gen(function* () {
      const fiber = yield* Effect.forkDaemon(
        p.alive
          ? Effect.onExit(effect, (exit) =>
              Effect.sync(() => {
                p.threads.delete(fiber as Fiber.RuntimeFiber<unknown, unknown>)
                if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause) && Cause.isDie(exit.cause)) {
                  p.kernel.fault(p, exit.cause)
                }
              })
            )
          : Effect.interrupt
      )
      if (p.alive) p.threads.add(fiber as Fiber.RuntimeFiber<unknown, unknown>)
      return fiber
    })
  })

/** Pages unmapped per slice of a teardown, between which other processes run. */
const TEARDOWN_SLICE = 16384

/**
 * Tears `pcb` down after its main fiber ended with `exit` (or it was killed before it started):
 * interrupt its threads, run its death hooks (IPC wakes its peers), fail its obligations, delete
 * its capabilities, unmap its memory, and publish how it ended. Runs once; later calls do nothing.
 */
export const teardown = (pcb: Pcb, exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> =>
  Effect.uninterruptible(
    Effect.gen(function* () {
      if (pcb.status === "dying" || pcb.status === "dead") return
      pcb.status = "dying"
      if (pcb.threads.size > 0) yield* Fiber.interruptAll([...pcb.threads])
      pcb.runDeathHooks()
      const obligations = pcb.obligations.drain()
      for (let i = 0; i < obligations.length; i++) obligations[i]!.fail()
      const caps = pcb.cspace.all()
      for (let i = 0; i < caps.length; i++) {
        const cap = caps[i]!
        pcb.cspace.remove(cap)
        cap.object.released?.(cap)
      }
      // In slices, so tearing down a huge space never holds the kernel for long.
      while (!pcb.space.destroy(TEARDOWN_SLICE)) yield* Effect.yieldNow()
      const how: ProcessExit =
        pcb.fault !== undefined
          ? { _tag: "Failed", cause: pcb.fault }
          : pcb.killed
            ? { _tag: "Killed" }
            : Exit.isSuccess(exit)
              ? { _tag: "Exited", value: exit.value }
              : Cause.isInterruptedOnly(exit.cause)
                ? { _tag: "Killed" }
                : { _tag: "Failed", cause: exit.cause }
      pcb.kernel.unregister(pcb, how)
      pcb.status = "dead"
      Deferred.unsafeDone(pcb.exit, Exit.succeed(how))
    })
  )
