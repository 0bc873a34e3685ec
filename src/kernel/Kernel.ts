/**
 * The kernel: one configuration, one physical memory, the process table, the kernel-object id
 * counter and the counters. `Kernel.layer(config)` boots one; closing the layer kills every process.
 *
 * The `Kernel` service is the *root task's* view (boot code, tests, the lab): it creates processes
 * and hands them their first capabilities. Programs never see it; they only get their `Process`.
 *
 * Invariants:
 * - A pid names one process slot; a restart of that slot gets the next generation.
 * - A process leaves the table only through its teardown (`Process.teardown`), exactly once.
 */
import { Cause, Context, Effect, Either, Exit, Fiber, FiberId, Layer } from "effect"
import { AddressSpace, type PageRights } from "../memory/AddressSpace.js"
import type { OutOfMemory } from "../memory/errors.js"
import { PhysicalMemory } from "../memory/PhysicalMemory.js"
import { defaultConfig, type KernelConfig, PAGE_SHIFT } from "../params.js"
import { Capability, CSpace, type KernelObject, type Rights } from "./Capability.js"
import { InvalidArgument, type InvalidCapability, type RightsDenied, type StaleCapability } from "./errors.js"
import { Pcb, Process, type ProcessExit, teardown } from "./Process.js"
import { KernelCounters, type KernelStats, snapshot } from "./Stats.js"
import type { Tracer } from "./Trace.js"

/** A capability to install into a new process: a minted child of `cap`. */
export interface InitialCapability {
  readonly cap: Capability
  /** Default: the rights of `cap`. Never more. */
  readonly rights?: Rights
  /** Default: the badge of `cap`. */
  readonly badge?: number
}

/** Options of `create`/`spawn`. */
export interface SpawnOptions {
  /** For traces and errors. Default `"process"`. */
  readonly name?: string
  /** Frame quota. Default `config.processQuota`. */
  readonly quota?: number
  /** Installed in slots 0, 1, … before the program starts, in this order. */
  readonly caps?: ReadonlyArray<InitialCapability>
}

/** The kernel's state and the root task's operations on it. */
export class KernelCore {
  readonly memory: PhysicalMemory
  readonly counters = new KernelCounters()
  /** The message-sequence tracer, when tracing is on (see `Trace`). */
  tracer: Tracer | undefined = undefined
  private readonly table = new Map<number, Pcb>()
  private readonly generations = new Map<number, number>()
  private nextPid = 1
  private nextObject = 1
  private nextAccount = 1

  constructor(readonly config: KernelConfig) {
    this.memory = new PhysicalMemory(config.frames)
  }

  /** A fresh kernel-object id. */
  objectId(): number {
    return this.nextObject++
  }

  /** Live processes. */
  processes(): Array<Pcb> {
    return [...this.table.values()]
  }

  /** The live process with `pid`, if any. */
  process(pid: number): Pcb | undefined {
    return this.table.get(pid)
  }

  /** A snapshot of every counter. */
  stats(): KernelStats {
    return snapshot(this.counters, {
      processesAlive: this.table.size,
      framesInUse: this.memory.framesInUse,
      framesTotal: this.memory.frames
    })
  }

  /**
   * Creates a process that runs nothing yet: an empty address space, a capability space with
   * `options.caps` installed. `pid` reuses a dead process's slot with the next generation.
   * Errors: `InvalidArgument` (bad quota, too many processes, the slot is alive, too many caps),
   * and the cap errors of minting the initial capabilities.
   */
  create(options: SpawnOptions = {}, pid?: number): Either.Either<Pcb, InvalidArgument | InvalidCapability | StaleCapability | RightsDenied> {
    const quota = options.quota ?? this.config.processQuota
    if (!Number.isInteger(quota) || quota < 0) {
      return Either.left(new InvalidArgument({ operation: "spawn", reason: `quota must be a non-negative integer, got ${quota}` }))
    }
    if (this.table.size >= this.config.maxProcesses) {
      return Either.left(new InvalidArgument({ operation: "spawn", reason: `process table full (${this.config.maxProcesses})` }))
    }
    const caps = options.caps ?? []
    if (caps.length > this.config.capSlots) {
      return Either.left(new InvalidArgument({ operation: "spawn", reason: `${caps.length} initial capabilities exceed ${this.config.capSlots} slots` }))
    }
    if (pid !== undefined && this.table.has(pid)) {
      return Either.left(new InvalidArgument({ operation: "restart", reason: `process ${pid} is still alive` }))
    }
    const id = pid ?? this.nextPid++
    const generation = pid === undefined ? 0 : (this.generations.get(pid) ?? 0) + 1
    const cspace = new CSpace(this.config.capSlots)
    for (const init of caps) {
      const holder = init.cap.holder
      if (holder === undefined) {
        return Either.left(new InvalidArgument({ operation: "spawn", reason: "an initial capability has been deleted" }))
      }
      const minted = holder.mint(init.cap.slot, init.rights, init.badge, cspace, "spawn")
      if (Either.isLeft(minted)) {
        for (const c of cspace.all()) cspace.remove(c)
        return Either.left(minted.left)
      }
    }
    const account = this.nextAccount++
    this.memory.openAccount(account, quota)
    const pcb = new Pcb(this, id, generation, account, options.name ?? "process", new AddressSpace(this.memory, account), cspace)
    this.generations.set(id, generation)
    this.table.set(id, pcb)
    this.counters.processesSpawned++
    return Either.right(pcb)
  }

  /** Starts `program` as the main fiber of a created process. */
  start<A, E>(pcb: Pcb, program: Effect.Effect<A, E, Process>): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (pcb.status !== "created") return Effect.void
      pcb.status = "running"
      const run = Effect.mapInputContext(program, (_: Context.Context<never>) => Context.make(Process, pcb.handle))
      return Effect.map(Effect.forkDaemon(run), (fiber) => {
        pcb.main = fiber as Fiber.RuntimeFiber<unknown, unknown>
        // An observer, not `onExit`: a fiber interrupted before its first step never runs its
        // own finalizers, but its observers always hear of its end.
        fiber.addObserver((exit) => {
          Effect.runFork(teardown(pcb, exit))
        })
      })
    })
  }

  /**
   * Puts a new original capability to `object` (a root of the derivation tree) with `rights` into
   * `pcb`'s space. How kernel objects enter the world. Errors: `InvalidArgument` (space full).
   */
  insertObject(pcb: Pcb, object: KernelObject, rights: Rights): Either.Either<Capability, InvalidArgument> {
    const cap = new Capability(object, rights, 0)
    return Either.map(pcb.cspace.insert(cap, `create ${object.kind}`), () => cap)
  }

  /** Kills `pcb` and waits until its teardown is done. Killing a dead process does nothing. */
  kill(pcb: Pcb): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (pcb.status === "dead") return Effect.void
      pcb.killed = true
      pcb.runKillHooks()
      if (pcb.main === undefined) return teardown(pcb, Exit.interrupt(FiberId.none))
      return Effect.asVoid(Effect.zipRight(Fiber.interrupt(pcb.main), pcb.await))
    })
  }

  /** Faults `pcb` from one of its own threads (the process ends `Failed` with `cause`): the kill runs on another fiber. */
  fault(pcb: Pcb, cause: Cause.Cause<unknown>): void {
    if (!pcb.alive) return
    pcb.fault ??= cause
    Effect.runFork(this.kill(pcb))
  }

  /**
   * Takes a torn-down process out of the kernel: closes its frame account and frees its pid's
   * slot, counting how it ended. Called once, by `Process.teardown`.
   */
  unregister(pcb: Pcb, how: ProcessExit): void {
    this.memory.closeAccount(pcb.account)
    this.table.delete(pcb.pid)
    if (how._tag === "Killed") this.counters.processesKilled++
    else this.counters.processesExited++
  }

  /** Kills every live process (kernel shutdown). */
  shutdown(): Effect.Effect<void> {
    return Effect.forEach(this.processes(), (p) => this.kill(p), { concurrency: "unbounded", discard: true })
  }

  /**
   * Maps `pages` pages starting at `address` of `from` into a fresh region of `to` with `rights`
   * (never more than `from` holds on each page). Both see the same frames. Returns the address in
   * `to`. Root-task operation (IPC map items are the way processes do it themselves).
   */
  share(from: Pcb, address: number, pages: number, to: Pcb, rights: PageRights): Either.Either<number, InvalidArgument | OutOfMemory> {
    if (!from.alive || !to.alive) {
      return Either.left(new InvalidArgument({ operation: "share", reason: `${from.alive ? to : from} is not alive` }))
    }
    const first = address >>> PAGE_SHIFT
    for (let i = 0; i < pages; i++) {
      if (from.space.frameAt(first + i) < 0 || (address & 0xfff) !== 0) {
        return Either.left(
          new InvalidArgument({ operation: "share", reason: `page 0x${((first + i) << PAGE_SHIFT).toString(16)} of ${from} is not mapped or not aligned` })
        )
      }
    }
    return Either.flatMap(to.space.reserve(pages), (target) => {
      const base = target >>> PAGE_SHIFT
      for (let i = 0; i < pages; i++) {
        to.space.mapPage(base + i, from.space.frameAt(first + i), rights & from.space.rightsAt(first + i))
      }
      this.counters.pagesMapped += pages
      return Either.right(target)
    }).pipe(Either.mapLeft((e) => (e._tag === "InvalidAddress" ? new InvalidArgument({ operation: "share", reason: e.message }) : e)))
  }
}

/** The root task's handle on a booted kernel. */
export class Kernel extends Context.Tag("effect-microkernel/Kernel")<Kernel, KernelCore>() {}

/** Boots a kernel with `config` (missing fields from `defaultConfig`); shutting the layer down kills every process. */
export const layer = (config: Partial<KernelConfig> = {}): Layer.Layer<Kernel> =>
  Layer.scoped(
    Kernel,
    Effect.acquireRelease(
      Effect.sync(() => new KernelCore({ ...defaultConfig, ...config })),
      (k) => k.shutdown()
    )
  )

/** Creates and starts a process running `program`. Errors as `KernelCore.create`. */
export const spawn = <A, E>(
  program: Effect.Effect<A, E, Process>,
  options: SpawnOptions = {}
): Effect.Effect<Pcb, InvalidArgument | InvalidCapability | StaleCapability | RightsDenied, Kernel> =>
  Effect.flatMap(Kernel, (k) => Effect.flatMap(k.create(options), (pcb) => Effect.as(k.start(pcb, program), pcb)))

/**
 * Runs `program` in the slot of the dead process `previous`: same pid, next generation.
 * Capabilities to the old generation's objects stay stale. Errors as `KernelCore.create`.
 */
export const restart = <A, E>(
  previous: Pcb,
  program: Effect.Effect<A, E, Process>,
  options: SpawnOptions = {}
): Effect.Effect<Pcb, InvalidArgument | InvalidCapability | StaleCapability | RightsDenied, Kernel> =>
  Effect.flatMap(Kernel, (k) => Effect.flatMap(k.create({ name: previous.name, ...options }, previous.pid), (pcb) => Effect.as(k.start(pcb, program), pcb)))

/** Kills a process and waits for its teardown. */
export const kill = (pcb: Pcb): Effect.Effect<void> => pcb.kernel.kill(pcb)

/** A snapshot of the kernel's counters. */
export const stats: Effect.Effect<KernelStats, never, Kernel> = Effect.map(Kernel, (k) => k.stats())
