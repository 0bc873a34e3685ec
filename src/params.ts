/**
 * Every limit of the kernel in one place (xv6 `param.h`).
 *
 * `KernelConfig` is the run-time form: `Kernel.layer(config)` takes a partial config and fills the
 * rest from `defaultConfig`. The constants that the hardware model fixes (page size, address-space
 * size) are plain exports because no configuration can change them.
 */

/** Bytes in a page and in a physical frame. */
export const PAGE_SIZE = 4096
/** log2(PAGE_SIZE). */
export const PAGE_SHIFT = 12
/** Virtual addresses are 32-bit: 2^20 pages per address space. */
export const ADDRESS_BITS = 32
/** Number of virtual pages in an address space. */
export const VIRTUAL_PAGES = 2 ** (ADDRESS_BITS - PAGE_SHIFT)
/** Entries per page-table level (two levels of 1,024 entries, as on 32-bit x86). */
export const PAGE_TABLE_ENTRIES = 1024

/** The run-time limits of one kernel instance. */
export interface KernelConfig {
  /** Physical frames (4 KiB each) in the machine's memory. */
  readonly frames: number
  /** Frames one process may have charged to it unless its spawn options say otherwise. */
  readonly processQuota: number
  /** Capability slots per process. */
  readonly capSlots: number
  /** Inline message bytes (L4 message registers, Hubris 256-byte messages). */
  readonly inlineMax: number
  /** Capability transfers per message. */
  readonly maxCaps: number
  /** Transfer items per message. */
  readonly maxItems: number
  /** Pending-message capacity of a port when its creator does not give one. */
  readonly defaultPortCapacity: number
  /** Largest port capacity a process may ask for. */
  readonly maxPortCapacity: number
  /** Processes alive at once. */
  readonly maxProcesses: number
}

/** The limits used when a kernel is booted without a configuration. */
export const defaultConfig: KernelConfig = {
  frames: 16_384,
  processQuota: 16_384,
  capSlots: 1_024,
  inlineMax: 256,
  maxCaps: 4,
  maxItems: 16,
  defaultPortCapacity: 0,
  maxPortCapacity: 65_536,
  maxProcesses: 65_536
}

/**
 * The kernel scheduler's slice: it runs ready fibers for at most this long (host time, plus the
 * task under way) before it yields to the host's event loop, so a deadline is late by about one
 * slice. A seeded kernel reads no host time and counts its slice in steps instead.
 */
export const SLICE_MS = 4
export const SEEDED_SLICE_STEPS = 4096
/**
 * How long `runSync` drives the kernel, at most, for an effect that does not finish while other
 * processes keep the kernel busy (the effect may be waiting on the host behind them).
 */
export const RUN_SYNC_LIMIT_MS = 5_000

/** A typed protocol's largest message when `Protocol.make` is given none: four pages. */
export const DEFAULT_MAX_MESSAGE = 16384

/**
 * The transfer planner's thresholds: a buffer's aligned middle is granted only when it spans at
 * least `PLAN_MIN_GRANT_PAGES` pages (64 KiB), and mapped only from `PLAN_MIN_MAP_PAGES` (256 KiB).
 * Below them one copy beats editing two page tables on this runtime. Measured one-way, against
 * copy in alternating rounds: a grant costs 0.6 of a copy's throughput at 8 KiB, 0.9 at 32 KiB,
 * 1.1 at 64 KiB and 5–6 at 1 MiB; a map, which the receiver must also unmap and the kernel must
 * remember for revocation, loses to copy at 64 KiB and wins at 1 MiB (`npm run bench -- --filter bulk`).
 */
export const PLAN_MIN_GRANT_PAGES = 16
export const PLAN_MIN_MAP_PAGES = 64

/**
 * Receive windows a direct entry keeps for reuse once its calls have ended (`Port.serveDirect`'s
 * `window`): a burst of concurrent direct calls takes a window each, and all but this many go
 * back to the server's memory as they end.
 */
export const DIRECT_WINDOWS_KEPT = 4
