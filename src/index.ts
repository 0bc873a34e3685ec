/**
 * effect-microkernel: a working microkernel model on the Effect runtime.
 *
 * Public modules, as namespaces:
 * - `Params`: every limit, the default configuration.
 * - `PhysicalMemory`, `AddressSpace`: frames, page tables, checked user buffers.
 * - `Kernel`: boot (`Kernel.layer`), `spawn`, `kill`, `restart`, counters — the root task's view.
 * - `Process`: the calling process, `fork` for threads.
 * - `Memory`, `Caps`: syscalls on the caller's own memory and capability space.
 * - `Capability`: rights and capability spaces; `KernelError`: the kernel's typed errors.
 */
export * as AddressSpace from "./memory/AddressSpace.js"
export * as Capability from "./kernel/Capability.js"
export * as Caps from "./kernel/Caps.js"
export * as Kernel from "./kernel/Kernel.js"
export * as KernelError from "./kernel/errors.js"
export * as Memory from "./kernel/Memory.js"
export * as Params from "./params.js"
export * as PhysicalMemory from "./memory/PhysicalMemory.js"
export * as Process from "./kernel/Process.js"
export * as Stats from "./kernel/Stats.js"
export * as IpcError from "./ipc/errors.js"
export * as Message from "./ipc/Message.js"
export * as Port from "./ipc/Port.js"
export * as Notification from "./ipc/Notification.js"
export * as Lease from "./ipc/Lease.js"
export * as Transfer from "./ipc/Transfer.js"
export * as Ring from "./ipc/Ring.js"
export * as Trace from "./kernel/Trace.js"
