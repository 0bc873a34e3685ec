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
import { Cause, Context, Effect, Either, Exit, Fiber, FiberId, Layer, Random, Runtime, type Scheduler } from "effect"
import { AddressSpace, type PageRights } from "../memory/AddressSpace.js"
import type { OutOfMemory } from "../memory/errors.js"
import { PhysicalMemory } from "../memory/PhysicalMemory.js"
import { defaultConfig, type KernelConfig, PAGE_SHIFT } from "../params.js"
import { Capability, CSpace, type KernelObject, type Rights } from "./Capability.js"
import { InvalidArgument, type InvalidCapability, type RightsDenied, type StaleCapability } from "./errors.js"
import { Pcb, Process, type ProcessExit, teardown } from "./Process.js"
import { accountStats, CpuAccount, isDriving, KernelScheduler, ReentrantRunSync, WouldWaitOnHost } from "./Scheduler.js"
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
  /** The scheduler every process fiber runs on (see `Scheduler`). */
  readonly scheduler: KernelScheduler
  /** The `Random` of a seeded kernel's fibers; `undefined` for a live kernel (they keep the host's). */
  readonly random: Random.Random | undefined
  /** Scheduler accounts of started processes, by pid; an account leaves with its process. */
  private readonly accounts = new Map<number, CpuAccount>()
  /** Runtimes for the kernel's own fibers (teardown) and for `runSync`, made on first use. */
  private kernelRuntime: Runtime.Runtime<never> | undefined = undefined
  private rootRuntime: Runtime.Runtime<Kernel> | undefined = undefined

  /** `seed`: seeded deterministic mode (see `layer`). */
  constructor(
    readonly config: KernelConfig,
    seed?: number
  ) {
    this.memory = new PhysicalMemory(config.frames)
    this.scheduler = new KernelScheduler(seed)
    this.random = seed === undefined ? undefined : Random.make(seed)
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
      framesTotal: this.memory.frames,
      scheduler: { ...this.scheduler.stats(), processes: Array.from(this.accounts.values(), accountStats) }
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
    return this.onProcessScheduler(pcb, () => {
      if (pcb.status !== "created") return Effect.void
      pcb.status = "running"
      const run = Effect.mapInputContext(program, (_: Context.Context<never>) => Context.make(Process, pcb.handle))
      return Effect.map(Effect.forkDaemon(run), (fiber) => {
        pcb.main = fiber as Fiber.RuntimeFiber<unknown, unknown>
        // An observer, not `onExit`: a fiber interrupted before its first step never runs its
        // own finalizers, but its observers always hear of its end.
        fiber.addObserver((exit) => {
          this.runKernel(teardown(pcb, exit))
        })
      })
    })
  }

  /**
   * Runs `body()` with `pcb`'s scheduler account (made now, if `pcb` has not started) as its
   * scheduler, so that the main fiber it forks, and every fiber forked from that, run on the
   * kernel's scheduler for `pcb` (with the virtual clock and seeded `Random` in seeded mode).
   */
  private onProcessScheduler(pcb: Pcb, body: () => Effect.Effect<void>): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (pcb.status !== "created") return body()
      const account = new CpuAccount(pcb.pid, pcb.generation, pcb.name)
      this.accounts.set(pcb.pid, account)
      pcb.scheduler = this.scheduler.schedulerFor(account)
      return this.onScheduler(Effect.suspend(body), pcb.scheduler)
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
      if (pcb.main === undefined) return teardown(pcb, Exit.interrupt(FiberId.none))
      return Effect.asVoid(Effect.zipRight(Fiber.interrupt(pcb.main), pcb.await))
    })
  }

  /** Faults `pcb` from one of its own threads (the process ends `Failed` with `cause`): the kill runs on another fiber. */
  fault(pcb: Pcb, cause: Cause.Cause<unknown>): void {
    if (!pcb.alive) return
    pcb.fault ??= cause
    this.runKernel(this.kill(pcb))
  }

  /**
   * `effect` with the kernel's scheduler (as `scheduler`) and, in seeded mode, its virtual clock
   * and seeded `Random`: what fibers forked inside it inherit.
   */
  private onScheduler<A, E, R>(effect: Effect.Effect<A, E, R>, scheduler: Scheduler.Scheduler): Effect.Effect<A, E, R> {
    const on = Effect.withScheduler(effect, scheduler)
    const clock = this.scheduler.clock
    return clock === undefined ? on : Effect.withRandom(Effect.withClock(on, clock), this.random!)
  }

  /** Starts `effect` as a fiber of the kernel's own (process teardown, faults), on its scheduler. */
  private runKernel(effect: Effect.Effect<void>): void {
    this.kernelRuntime ??= Effect.runSync(this.onScheduler(Effect.runtime<never>(), this.scheduler.kernel))
    Runtime.runFork(this.kernelRuntime)(effect)
  }

  /**
   * Waits until no kernel fiber is ready: every process is blocked (on IPC, a deadline or the
   * host). Between looks it lets the caller's other fibers run (a few yields) and, while kernel
   * fibers are ready, gives the host a turn (the kernel drains in slices between host turns).
   * For root-task code and tests that must observe a quiescent kernel; it waits for good while
   * some process never blocks. Errors: none.
   */
  readonly settle: Effect.Effect<void> = Effect.suspend(() => {
    const look = (): Effect.Effect<void> =>
      Effect.flatMap(Effect.repeatN(Effect.yieldNow(), 20), () =>
        this.scheduler.ready === 0
          ? Effect.void
          : Effect.flatMap(
              Effect.async<void>((resume) => {
                setImmediate(() => resume(Effect.void))
              }),
              look
            )
      )
    return look()
  })

  /**
   * The synchronous drive: runs `effect` (root-task code, with this kernel as its `Kernel`
   * service) on this stack until it is done, running every ready kernel fiber it needs, without
   * returning to the host's event loop. For effects that need only in-kernel work: a call into a
   * server, a process's whole run. In seeded mode virtual sleeps complete too.
   *
   * Errors (and then the effect has been interrupted): `WouldWaitOnHost` when it waits on the
   * host (nothing in the kernel is ready and it is not done: a real timer, host I/O, a promise),
   * or did not finish within `limitMs` (default `RUN_SYNC_LIMIT_MS`) while other processes kept
   * the kernel busy; `ReentrantRunSync` when called from inside a kernel fiber (or another drive),
   * which changes nothing. Besides these, the effect's own failures.
   */
  runSyncExit<A, E>(effect: Effect.Effect<A, E, Kernel>, limitMs?: number): Exit.Exit<A, E | WouldWaitOnHost | ReentrantRunSync> {
    // Set by `start`, which the drive calls unless it is refused (ReentrantRunSync).
    const run: { fiber?: Fiber.RuntimeFiber<A, E> } = {}
    const start = () => {
      this.rootRuntime ??= Effect.runSync(this.onScheduler(Effect.provideService(Effect.runtime<Kernel>(), Kernel, this), this.scheduler.root))
      // Not started on this stack: its first step runs inside the drive, under its guard.
      run.fiber = Runtime.runFork(this.rootRuntime)(effect, { immediate: false })
    }
    const stuck = this.driveUntil(start, () => run.fiber!.unsafePoll() !== null, limitMs)
    if (stuck === undefined) return run.fiber!.unsafePoll()!
    if (run.fiber !== undefined) {
      // Waiting on the host: interrupted, and driven until its finalizers have run.
      run.fiber.unsafeInterruptAsFork(FiberId.none)
      this.scheduler.drive(run.fiber, limitMs)
    }
    return Exit.fail(stuck)
  }

  /**
   * The synchronous drive for work handed to the kernel's fibers by other means (a call queued for
   * a thread of a process): calls `start()`, then runs ready kernel fibers on this stack until
   * `done()` is true. Interrupts nothing: what `start` set going goes on. Returns `undefined` when
   * done; `WouldWaitOnHost` when nothing is ready and it is not done, or `limitMs` (default
   * `RUN_SYNC_LIMIT_MS`) passed; `ReentrantRunSync`, without calling `start`, when called from
   * inside a kernel fiber or another drive.
   */
  driveUntil(start: () => void, done: () => boolean, limitMs?: number): WouldWaitOnHost | ReentrantRunSync | undefined {
    if (isDriving()) return new ReentrantRunSync({ operation: "runSync" })
    start()
    const outcome = this.scheduler.driveUntil(done, limitMs)
    return outcome === "done" ? undefined : new WouldWaitOnHost({ operation: "runSync", reason: outcome === "idle" ? "nothing ready" : "limit" })
  }

  /**
   * As `runSyncExit`, for plain JavaScript: returns the effect's value, or throws its failure
   * (`Cause.squash`: the first typed error, else the defect), `WouldWaitOnHost` or `ReentrantRunSync`.
   */
  runSync<A, E>(effect: Effect.Effect<A, E, Kernel>, limitMs?: number): A {
    const exit = this.runSyncExit(effect, limitMs)
    if (Exit.isSuccess(exit)) return exit.value
    throw Cause.squash(exit.cause)
  }

  /**
   * Takes a torn-down process out of the kernel: closes its frame account and frees its pid's
   * slot, counting how it ended. Called once, by `Process.teardown`.
   */
  unregister(pcb: Pcb, how: ProcessExit): void {
    this.memory.closeAccount(pcb.account)
    this.accounts.delete(pcb.pid)
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

/** What `layer` takes: the limits (missing ones from `defaultConfig`) and the scheduling mode. */
export interface KernelOptions extends Partial<KernelConfig> {
  /**
   * Seeded deterministic mode: the scheduler picks among ready fibers with a generator seeded by
   * this safe integer, and the kernel's fibers, and the root task's inside the layer, run on it
   * with a virtual clock (jumping to the next deadline when nothing is ready) and a `Random`
   * seeded alike. The same seed and program give the same run. Default: live mode.
   */
  readonly seed?: number
}

/**
 * Boots a kernel; shutting the layer down kills every process. With `seed`, the effect the layer
 * is provided to runs on the kernel's scheduler, clock and `Random` as well (see `KernelOptions`).
 * Defect: a seed that is not a safe integer.
 */
export const layer = (options: KernelOptions = {}): Layer.Layer<Kernel> => {
  const { seed, ...config } = options
  const kernel = Layer.scoped(
    Kernel,
    Effect.acquireRelease(
      Effect.suspend(() =>
        seed === undefined || Number.isSafeInteger(seed)
          ? Effect.succeed(new KernelCore({ ...defaultConfig, ...config }, seed))
          : Effect.die(new InvalidArgument({ operation: "Kernel.layer", reason: `seed must be a safe integer, got ${seed}` }))
      ),
      (k) => k.shutdown()
    )
  )
  if (seed === undefined) return kernel
  // Set one after another: merged (built concurrently), Effect does not undo them afterwards.
  return Layer.flatMap(kernel, (context) => {
    const k = Context.get(context, Kernel)
    return [Layer.setScheduler(k.scheduler.root), Layer.setClock(k.scheduler.clock!), Layer.setRandom(k.random!)].reduce(
      (built: Layer.Layer<Kernel>, setting) => Layer.provideMerge(setting, built),
      Layer.succeedContext(context)
    )
  })
}

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

/** Waits until no kernel fiber is ready (see `KernelCore.settle`). */
export const settle: Effect.Effect<void, never, Kernel> = Effect.flatMap(Kernel, (k) => k.settle)

/** A snapshot of the kernel's counters. */
export const stats: Effect.Effect<KernelStats, never, Kernel> = Effect.map(Kernel, (k) => k.stats())
