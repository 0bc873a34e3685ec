/**
 * Direct calls (migrating threads: LRPC, Spring doors, Mach's and Fiasco's migrating threads): the
 * caller's own fiber runs the server's registered handler, with the server's `Process` in its
 * context, so the call costs no fiber hand-off at all.
 *
 * A direct call is an ordinary call in every other respect: the same snapshot and checks at the
 * syscall (`Port`'s decode), the same `Envelope`, the same delivery of items into the server
 * (`accept`: copies into a window of the entry's, leases lent to the server, pages mapped into it),
 * the same reply (`Port.reply`, or the message the handler returns, checked like a reply). Only the
 * two hand-offs are gone: instead of queueing the envelope for a receiver, the kernel accepts it on
 * the server's behalf and runs the handler in place.
 *
 * Invariants:
 * - A frame (one direct call inside a server) is on its fiber's stack (`FiberSlot.frames`) and in
 *   its entry's list from the moment the handler starts until it ends; the fiber's exit observer
 *   cancels every frame still on it (the caller was interrupted or killed): the call is withdrawn,
 *   its leases revoked, and the server's obligation dropped.
 * - While a fiber is inside a direct call (on the runtime), the fence holds every interruption sent
 *   to it, and tells them when it leaves its last: the caller never interrupts server code.
 * - When the server dies, or the caller is killed, the frame is cut: a kernel wait it is blocked in
 *   ends at once with `PeerDied`, and the kernel's interruption (`KERNEL_CUT`) stops the handler
 *   at its next interruptible point, wherever it waits; only the innermost frame of a fiber is
 *   interrupted, an outer one when the frames inside it have ended. The caller gets `PeerDied`
 *   (or, being killed, ends) whatever the handler returns.
 * - A handler runs with fiber refs built from its server's (`DirectEntry.refsFor`), never its
 *   caller's; the caller's are back on the fiber before any code of the caller's runs. Fibers the
 *   handler forks are the server's threads once it leaves.
 * - A window is held by one call from delivery until the call ends, or, for a kept call, until it
 *   is answered; an entry keeps at most `DIRECT_WINDOWS_KEPT` free ones.
 * - An entry replaced by a later `serveDirect` while calls were inside stays in the new entry's
 *   `retired` list, so the server's death cuts those calls too.
 * - Entries, frames and windows are owned by the kernel's synchronous sections.
 */
import { Cause, Context, Effect, Either, Exit, type Fiber, FiberId, FiberRef, FiberRefs, RuntimeFlags } from "effect"
import { type Pcb, Process } from "../../kernel/Process.js"
import { participant } from "../../kernel/Trace.js"
import type { IpcError } from "../errors.js"
import { DIRECT_WINDOWS_KEPT, PAGE_SIZE } from "../../params.js"
import {
  ArrayPrototypePush,
  ArrayPrototypeSplice,
  FunctionPrototypeCall,
  MapPrototypeGet,
  MapPrototypeSet,
  MathCeil,
  WeakMapPrototypeGet,
  WeakMapPrototypeSet
} from "../../primordials.js"
import type { Message, Received, Reply } from "../Message.js"
import type { Blocker, FiberSlot } from "./blocking.js"
import { type Envelope, type Port, State, withdraw } from "./port.js"
import { ReceiveSnapshot, WindowSnapshot } from "./snapshot.js"

/**
 * What a direct handler does with a call: answer it (a reply message), or leave it to be answered
 * with `Port.reply`. It must not fail: a failure, like a defect, is a fault of the server.
 */
export type DirectHandler = (call: Received) => Effect.Effect<Message | void, unknown, Process>

/**
 * A fiber's fiber refs as they are (Effect's runtime keeps them in `_fiberRefs`; the public
 * `getFiberRefs` first writes the runtime flags into them, making a new object on every call),
 * and their wholesale replacement (`FiberRuntime.setFiberRefs`, which the public fiber type does
 * not show). Called only on `fiber` itself, while it runs, as Effect requires.
 */
interface FiberInternals {
  readonly _fiberRefs: FiberRefs.FiberRefs
  setFiberRefs(refs: FiberRefs.FiberRefs): void
  /** The fibers it forked that are still attached to it (interrupted with it). */
  _children: Set<unknown> | null
  /** How every message reaches a fiber (an interruption among them): `FiberRuntime.tell`. */
  tell(message: FiberMessage): void
  /** Its runtime flags as they are now (while it waits: as they were when it suspended). */
  readonly currentRuntimeFlags: RuntimeFlags.RuntimeFlags
}
/** A message to a fiber, as `tell` takes it; an interruption is `{ _tag: "InterruptSignal", cause }`. */
interface FiberMessage {
  readonly _tag: string
  readonly cause?: Cause.Cause<never>
}
const internals = (fiber: Fiber.RuntimeFiber<unknown, unknown>): FiberInternals => fiber as unknown as FiberInternals
const refsOf = (fiber: Fiber.RuntimeFiber<unknown, unknown>): FiberRefs.FiberRefs => internals(fiber)._fiberRefs
const setRefs = (fiber: Fiber.RuntimeFiber<unknown, unknown>, refs: FiberRefs.FiberRefs): void => internals(fiber).setFiberRefs(refs)

/**
 * Who interrupts a handler the kernel cuts short (its server died, its caller is being killed):
 * the one interruption that reaches a fiber inside a direct call at once.
 */
const KERNEL_CUT = FiberId.make(-1, 0)
const isCut = (message: FiberMessage): boolean => message.cause !== undefined && message.cause._tag === "Interrupt" && message.cause.fiberId === KERNEL_CUT

/**
 * The fence of a fiber that runs handlers (installed on its first slow direct call, and kept):
 * while the fiber is inside a direct call, an interruption sent to it (its caller's deadline, a
 * parent's interruption, a kill) is held in its slot, and told once the fiber is the caller's
 * again — except the kernel's own cut. Every other message passes at once.
 */
const fence = (fiber: Fiber.RuntimeFiber<unknown, unknown>, slot: FiberSlot): void => {
  if (slot.held !== undefined) return
  const held: Array<FiberMessage> = []
  slot.held = held
  const f = internals(fiber)
  const tell = f.tell
  f.tell = function (this: FiberInternals, message: FiberMessage) {
    if (slot.frames.length === 0 || message._tag !== "InterruptSignal" || isCut(message)) return FunctionPrototypeCall(tell, this, message)
    held[held.length] = message
    // The thread's own process is being killed (or is ending): its calls are cut short.
    const caller = (slot.frames[0] as DirectFrame).env.sender
    if (caller.killed || !caller.alive) cutFrom(slot, 0)
  }
}

/** Marks the frames of `slot` from `index` on (inner ones) as their callers' killed, and cuts the innermost. */
const cutFrom = (slot: FiberSlot, index: number): void => {
  const frames = slot.frames as Array<DirectFrame>
  for (let i = index; i < frames.length; i++) frames[i]!.killed = true
  if (frames.length > 0) frames[frames.length - 1]!.cut()
}

/**
 * Fibers a handler forked that still run become threads of `server` (`Process.fork`'s set: they
 * end with it, and a teardown interrupts them); a server no longer alive gets none, and they are
 * interrupted now, as the kernel.
 */
const adopt = (server: Pcb, forked: Set<Fiber.RuntimeFiber<unknown, unknown>>): void => {
  for (const child of forked) {
    if (child.unsafePoll() !== null) continue
    if (!server.alive) {
      child.unsafeInterruptAsFork(KERNEL_CUT)
      continue
    }
    server.threads.add(child)
    child.addObserver(() => server.threads.delete(child))
  }
}

/** Tells the interruptions held while the fiber was inside direct calls (it has left the last one). */
const release = (fiber: Fiber.RuntimeFiber<unknown, unknown>, slot: FiberSlot): void => {
  const held = slot.held
  if (held === undefined || held.length === 0) return
  const messages = ArrayPrototypeSplice(held, 0, held.length)
  for (let i = 0; i < messages.length; i++) internals(fiber).tell(messages[i] as FiberMessage)
}

/** A port's direct entry: the handler its owner registered, where items land, and the calls inside it now. */
export class DirectEntry {
  /** The frames now inside this entry, in no order. */
  readonly frames: Array<DirectFrame> = []
  /** Entries this one replaced that still had calls inside when it did: closing the port cuts them too. */
  readonly retired: ReadonlyArray<DirectEntry>
  /** A later `serveDirect` replaced this entry: the windows of its calls go back to the server's memory as they end. */
  private replaced = false
  /**
   * The fiber refs a handler runs with: the server thread's as they were when it called
   * `serveDirect` (its loggers, supervisor, tracer, `Clock`, `Random`, log annotations…), with the
   * server's context (its `Process` alone, as its own threads see it) and no interruption. Nothing
   * of the caller's fiber refs is in them: the caller cannot choose the server's environment, and
   * the server cannot find its caller's context there.
   */
  private readonly inside: FiberRefs.FiberRefs
  /** The thread that called `serveDirect` (the fiber the refs above are written as). */
  private readonly servingId: FiberId.Runtime
  /**
   * `inside` with the kernel's scheduler for a caller's account, by caller (a thread inside runs
   * for its caller, as on a donated scheduling context), made on its first slow call: switching a
   * fiber to the server and back is then two assignments, where `Effect.provide` costs ~15 µs.
   */
  private readonly byCaller = new WeakMap<Pcb, FiberRefs.FiberRefs>()
  /** Windows of `window` bytes in the server's memory, free for the next frame (at most `DIRECT_WINDOWS_KEPT`). */
  private readonly free: Array<number> = []
  /** Where the items of a call without copy items land: no window, `pages` pages. */
  readonly bare: ReceiveSnapshot

  constructor(
    readonly port: Port,
    readonly server: Pcb,
    readonly handler: DirectHandler,
    /** Bytes of the window each frame's copy items land in (0: copy items are refused as too large). */
    readonly window: number,
    /** Pages the handler accepts by map and grant items in one call. */
    readonly pages: number,
    /** A handler whose caller is killed runs to its end (the kill waits), instead of being cut. */
    readonly finishOnKill: boolean,
    /** The server's thread registering the entry, running now (its fiber refs are read). */
    serving: Fiber.RuntimeFiber<unknown, unknown>,
    /** The entry this one replaces, if any. */
    previous: DirectEntry | undefined
  ) {
    const id = serving.id()
    const context = Context.make(Process, server.handle) as Context.Context<never>
    const refs = FiberRefs.updateAs(current(serving.getFiberRefs(), id), { fiberId: id, fiberRef: FiberRef.currentContext, value: context })
    this.inside = FiberRefs.updateAs(refs, { fiberId: id, fiberRef: FiberRef.interruptedCause, value: Cause.empty })
    this.servingId = id
    this.bare = new ReceiveSnapshot(undefined, pages)
    this.retired = previous === undefined ? NO_ENTRIES : previous.retire()
  }

  /** This entry is being replaced: its free windows go back now. Returns it and the entries it retired that still have calls inside. */
  private retire(): ReadonlyArray<DirectEntry> {
    this.replaced = true
    const free = ArrayPrototypeSplice(this.free, 0)
    for (let i = 0; i < free.length; i++) this.server.space.free(free[i]!)
    const live: Array<DirectEntry> = []
    if (this.frames.length > 0) live[live.length] = this
    for (let i = 0; i < this.retired.length; i++) if (this.retired[i]!.frames.length > 0) live[live.length] = this.retired[i]!
    return live
  }

  /**
   * Where a frame's items land: a window of its own (taken from the entry's, or fresh pages of the
   * server's, charged to it) when the call carries copies, else none. Undefined when the server
   * has no memory left for one (the copies are then refused as too large).
   */
  destination(copies: boolean): ReceiveSnapshot {
    if (!copies || this.window === 0) return this.bare
    let address = this.free.pop()
    if (address === undefined) {
      const r = this.server.space.allocate(MathCeil(this.window / PAGE_SIZE))
      if (Either.isLeft(r)) return this.bare
      address = r.right
    }
    return new ReceiveSnapshot([new WindowSnapshot(address, this.window)], this.pages)
  }

  /** A call is done with its destination: its window goes back to the entry, or to the server's memory beyond what the entry keeps. */
  release(to: ReceiveSnapshot): void {
    if (to.windows === undefined || !this.server.alive) return
    const address = to.windows[0]!.address
    if (!this.replaced && this.free.length < DIRECT_WINDOWS_KEPT) ArrayPrototypePush(this.free, address)
    else this.server.space.free(address)
  }

  /** The fiber refs a handler runs with for `caller` (see `inside`). */
  refsFor(caller: Pcb): FiberRefs.FiberRefs {
    const scheduler = caller.scheduler
    if (scheduler === undefined) return this.inside
    let refs = WeakMapPrototypeGet(this.byCaller, caller)
    if (refs === undefined) {
      refs = FiberRefs.updateAs(this.inside, { fiberId: this.servingId, fiberRef: FiberRef.currentScheduler, value: scheduler })
      WeakMapPrototypeSet(this.byCaller, caller, refs)
    }
    return refs
  }

  /** The server died: every frame inside it and the entries it replaced is dead, and a kernel wait it is blocked in ends now. */
  died(): void {
    this.cutAll()
    for (let i = 0; i < this.retired.length; i++) this.retired[i]!.cutAll()
  }

  /**
   * Marks the frames inside dead, and cuts each thread from its shallowest frame in this entry:
   * calls the handler made directly, on the same thread, have a dead caller, so they are cut too.
   * One pass per thread, however deep the frames nest.
   */
  private cutAll(): void {
    const frames = ArrayPrototypeSplice(this.frames, 0)
    const shallowest = new Map<FiberSlot, number>()
    const slots: Array<FiberSlot> = []
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i]!
      frame.dead = true
      frame.index = -1
      const depth = MapPrototypeGet(shallowest, frame.slot)
      if (depth === undefined) slots[slots.length] = frame.slot
      if (depth === undefined || frame.depth < depth) MapPrototypeSet(shallowest, frame.slot, frame.depth)
    }
    for (let i = 0; i < slots.length; i++) cutFrom(slots[i]!, MapPrototypeGet(shallowest, slots[i]!)! + 1)
  }

  /** Adds `frame` (it is entering the handler). */
  enter(frame: DirectFrame): void {
    frame.index = this.frames.length
    this.frames[this.frames.length] = frame
  }

  /** Removes `frame` (it has left the handler, or its caller went away). */
  leave(frame: DirectFrame): void {
    const i = frame.index
    if (i < 0 || this.frames[i] !== frame) return
    const last = this.frames.pop()!
    if (last !== frame) {
      this.frames[i] = last
      last.index = i
    }
    frame.index = -1
  }
}
const NO_ENTRIES: ReadonlyArray<DirectEntry> = []

/**
 * `refs` with each fiber ref's current value alone, written as `id`: a fiber's refs keep a stack
 * of earlier values per fiber ref (its ancestors' among them: the root task's context, which
 * holds the `Kernel`), and a handler's refs carry none of them.
 */
const current = (refs: FiberRefs.FiberRefs, id: FiberId.Runtime): FiberRefs.FiberRefs => {
  const locals = new Map<FiberRef.FiberRef<unknown>, readonly [readonly [FiberId.Single, unknown]]>()
  for (const ref of FiberRefs.fiberRefs(refs)) MapPrototypeSet(locals, ref, [[id, FiberRefs.getOrDefault(refs, ref)]] as const)
  return FiberRefs.unsafeMake(locals)
}

/**
 * One direct call inside a server: the caller's fiber and slot, the call, where its items landed,
 * and whether the server has died since. Its methods are the whole of a direct call after delivery
 * (built as a class, not closures: a direct call allocates this and little else).
 */
export class DirectFrame implements Blocker {
  /** The server died while the call was inside it. */
  dead = false
  /** The caller is being killed. */
  killed = false
  /** The kernel has cut the handler short (or will, once the frames inside this one end). */
  private cutSent = false
  /** Where it sits in its entry's `frames` (-1: nowhere). */
  index = -1
  /** Where it sits on its fiber's stack (`slot.frames`), from the moment it enters. */
  depth = 0
  /** The caller's own fiber refs, restored when the frame ends (undefined until the handler runs on the runtime). */
  private saved: FiberRefs.FiberRefs | undefined = undefined
  /** The fibers the caller had forked, set aside while the handler runs (a cut interrupts only the handler's). */
  private children: Set<unknown> | null = null

  constructor(
    readonly entry: DirectEntry,
    readonly env: Envelope,
    readonly fiber: Fiber.RuntimeFiber<unknown, unknown>,
    readonly slot: FiberSlot,
    readonly to: ReceiveSnapshot,
    readonly received: Received
  ) {}

  /** Enters the server: the frame joins its entry, its fiber's stack and its caller's frames, and the handler builds its answer. */
  enter(): Effect.Effect<Message | void, unknown, Process> {
    const entry = this.entry
    this.env.direct = true
    entry.enter(this)
    this.depth = this.slot.frames.length
    this.slot.frames[this.depth] = this
    const k = entry.server.kernel
    if (k.tracer !== undefined)
      k.tracer.record({
        from: participant(this.env.sender),
        to: participant(entry.server),
        kind: "direct",
        text: `enters ${entry.server.name} (label ${this.env.label})`
      })
    // A handler that throws while it builds its effect, or builds none, has a defect (the server's).
    try {
      const handled = entry.handler(this.received)
      return Effect.isEffect(handled) ? handled : Exit.die(new TypeError(`the direct handler of ${entry.server.name} returned no effect`))
    } catch (error) {
      return Exit.die(error)
    }
  }

  /**
   * Switches the calling fiber to the server (the migration: its context now holds the server's
   * `Process`) to run the rest of the handler, `handled`. Runs inside an uninterruptible region,
   * so `finish` always switches the fiber back before any code of the caller's runs again, its
   * finalizers included.
   */
  run(handled: Effect.Effect<Message | void, unknown, Process>): Effect.Effect<Message | void, unknown, never> {
    const fiber = this.fiber
    const saved = refsOf(fiber)
    this.saved = saved
    fence(fiber, this.slot)
    setRefs(fiber, this.entry.refsFor(this.env.sender))
    const f = internals(fiber)
    this.children = f._children
    f._children = null
    // Interruptible: only the kernel's cut can reach it (the fence holds the caller's), and the
    // handler's own uninterruptible sections are kept.
    if (this.dead || this.killed) this.cut()
    return Effect.interruptible(handled as Effect.Effect<Message | void, unknown, never>)
  }

  /**
   * Cuts the handler short: the server died, or the caller is being killed. A kernel wait it is
   * in ends now (`PeerDied`) — for a killed caller only where the handler is interruptible (a
   * wait inside its own uninterruptible section completes as written) — and the innermost frame
   * of the fiber is interrupted, as the kernel (`KERNEL_CUT`): the handler stops at its next
   * interruptible point, its finalizers run, and no more of its code runs. A frame with frames
   * inside it is cut when they end (their servers' code runs to its end undisturbed). A killed
   * caller's frame in an entry that finishes on kill is not cut: the handler runs to its end.
   */
  cut(): void {
    if (!this.dead && this.entry.finishOnKill) return
    const blocked = this.slot.blocked
    const innermost = this.slot.frames[this.slot.frames.length - 1] === this
    if (blocked !== undefined && innermost && (this.dead || RuntimeFlags.interruptible(internals(this.fiber).currentRuntimeFlags)))
      blocked.abort(this.entry.port.died("callDirect"))
    if (this.cutSent || this.saved === undefined || this.slot.frames[this.slot.frames.length - 1] !== this) return
    this.cutSent = true
    this.fiber.unsafeInterruptAsFork(KERNEL_CUT)
  }

  /**
   * Switches the calling fiber back to the caller: its fiber refs and its children. The fibers
   * the handler forked that still run are the server's: they become its threads (ended with it),
   * or, the server being dead or dying, are interrupted now.
   */
  private back(): void {
    const saved = this.saved
    this.saved = undefined
    if (saved === undefined) return
    setRefs(this.fiber, saved)
    const f = internals(this.fiber)
    const forked = f._children
    f._children = this.children
    this.children = null
    if (forked !== null) adopt(this.entry.server, forked as Set<Fiber.RuntimeFiber<unknown, unknown>>)
  }

  /**
   * The handler ended with `exit`: the caller's outcome. A handler's failure or defect faults the
   * server (as in one of its own threads); an answer the kernel refuses does too (it is the
   * server's bug, and the caller has no one else to hear it from). After the server's death, or
   * a cut, the caller gets `PeerDied` (or, being killed, ends).
   */
  finish(
    exit: Exit.Exit<Message | void, unknown>,
    reply: (p: Pcb, handle: Reply, msg: Message) => Either.Either<boolean, IpcError>
  ): Effect.Effect<unknown, unknown> {
    const entry = this.entry
    const env = this.env
    const server = entry.server
    this.leave()
    if (server.kernel.tracer !== undefined)
      server.kernel.tracer.record({ from: participant(server), to: participant(env.sender), kind: "direct", text: `leaves ${server.name}` })
    let fault: Cause.Cause<unknown> | undefined = undefined
    if (this.killed && !this.dead) {
      // The caller is being killed: the call is withdrawn (the server is not at fault), and the
      // kill, held by the fence until now, ends the caller.
      this.drop()
      return Effect.interrupt
    }
    if (Exit.isFailure(exit)) fault = exit.cause
    else if (!this.dead && exit.value !== undefined && env.state === State.Held) {
      const r = reply(server, this.received.reply!, exit.value)
      if (Either.isLeft(r)) fault = Cause.die(r.left)
    }
    if (fault !== undefined || this.dead) {
      if (fault !== undefined && !this.dead) server.kernel.fault(server, fault)
      this.drop()
      return Effect.fail(entry.port.died("callDirect"))
    }
    env.direct = false
    const outcome = env.outcome
    env.outcome = undefined
    if (outcome !== undefined) {
      entry.release(this.to)
      return outcome
    }
    // Kept for later: the caller waits for the reply like any caller; the copies stay in their
    // window until the server answers (`answer` gives it back).
    env.kept = this
    this.slot.blocked = env
    return Effect.async<unknown, unknown>((resume) => {
      env.resume = resume
    })
  }

  /** The frame ends: the fiber is the caller's again, out of the entry and off its stack. */
  private leave(): void {
    this.back()
    this.entry.leave(this)
    const frames = this.slot.frames
    if (frames[frames.length - 1] === this) frames.pop()
    if (frames.length === 0) release(this.fiber, this.slot)
    else {
      const outer = frames[frames.length - 1] as DirectFrame
      if (outer.dead || outer.killed) outer.cut()
    }
  }

  /** The call ends unanswered: it is withdrawn (its leases revoked), the server's obligation dropped, and its window given back. */
  private drop(): void {
    const env = this.env
    env.direct = false
    env.outcome = undefined
    withdraw(env)
    this.entry.server.obligations.delete(env)
    this.entry.release(this.to)
  }

  /** The caller's fiber ended inside the handler: the call is dropped. */
  cancel(): void {
    this.saved = undefined
    this.entry.leave(this)
    this.drop()
  }

  /** A frame is not a wait: aborting it is cancelling it. */
  abort(): void {
    this.cancel()
  }
}
