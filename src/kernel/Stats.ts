/**
 * Kernel counters: plain numbers bumped in the kernel's synchronous sections (an Effect
 * `Metric.increment` costs ~350 ns, far too much per message). Read them as one snapshot, with
 * the scheduler's counters and each live process's steps and CPU time.
 */
import type { AccountStats, SchedulerStats } from "./Scheduler.js"

/** The kernel's mutable counters. Owned by the kernel; written only in synchronous sections. */
export class KernelCounters {
  /** Syscalls by kind (`"call"`, `"reply"`, `"memory.allocate"`, …). */
  readonly syscalls: Record<string, number> = Object.create(null)
  messages = 0
  /** Bytes the kernel copied between address spaces or into message data. */
  bytesCopied = 0
  pagesMapped = 0
  pagesUnmapped = 0
  pagesGranted = 0
  leases = 0
  leaseOps = 0
  doorbells = 0
  ringEntries = 0
  /** Times one fiber woke another (a blocked receiver, sender, caller or waiter). */
  handoffs = 0
  /** Calls run on the caller's own fiber by the server's direct handler (no hand-off). */
  directCalls = 0
  maxQueueDepth = 0
  repliesDropped = 0
  /** One-way messages lost because their port closed before anyone received them. */
  messagesDropped = 0
  /** Inline message bytes the kernel copied (message registers, apart from bulk copies). */
  inlineBytes = 0
  processesSpawned = 0
  processesExited = 0
  processesKilled = 0

  /** Counts one syscall of `kind`. */
  syscall(kind: string): void {
    this.syscalls[kind] = (this.syscalls[kind] ?? 0) + 1
  }
}

/** The scheduler's counters and each live process's use of it (in order of start). */
export interface SchedulingStats extends SchedulerStats {
  readonly processes: ReadonlyArray<AccountStats>
}

/** A point-in-time copy of the counters plus memory gauges and the scheduler's counters. */
export interface KernelStats {
  readonly syscalls: Readonly<Record<string, number>>
  readonly messages: number
  readonly bytesCopied: number
  readonly pagesMapped: number
  readonly pagesUnmapped: number
  readonly pagesGranted: number
  readonly leases: number
  readonly leaseOps: number
  readonly doorbells: number
  readonly ringEntries: number
  readonly handoffs: number
  readonly directCalls: number
  readonly maxQueueDepth: number
  readonly repliesDropped: number
  readonly messagesDropped: number
  readonly inlineBytes: number
  readonly processesSpawned: number
  readonly processesExited: number
  readonly processesKilled: number
  readonly processesAlive: number
  readonly framesInUse: number
  readonly framesTotal: number
  readonly scheduler: SchedulingStats
}

/** Copies the counters into an immutable snapshot. */
export const snapshot = (
  c: KernelCounters,
  gauges: { processesAlive: number; framesInUse: number; framesTotal: number; scheduler: SchedulingStats }
): KernelStats => ({
  syscalls: { ...c.syscalls },
  messages: c.messages,
  bytesCopied: c.bytesCopied,
  pagesMapped: c.pagesMapped,
  pagesUnmapped: c.pagesUnmapped,
  pagesGranted: c.pagesGranted,
  leases: c.leases,
  leaseOps: c.leaseOps,
  doorbells: c.doorbells,
  ringEntries: c.ringEntries,
  handoffs: c.handoffs,
  directCalls: c.directCalls,
  maxQueueDepth: c.maxQueueDepth,
  repliesDropped: c.repliesDropped,
  messagesDropped: c.messagesDropped,
  inlineBytes: c.inlineBytes,
  processesSpawned: c.processesSpawned,
  processesExited: c.processesExited,
  processesKilled: c.processesKilled,
  ...gauges
})
