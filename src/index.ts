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
 * - `Port`, `Message`, `Notification`, `IpcError`: synchronous and asynchronous IPC.
 * - `Lease`, `Transfer`, `Ring`: bulk data (leases, copy/map/grant items and the planner, rings).
 * - `Trace`: the message-sequence trace and its Mermaid rendering.
 * - `Protocol`, `Server`, `Supervisor`, `NameService`, `TestKernel`: typed protocols and plugin servers.
 * - `VfsProtocol`, `FsProtocol`, `VfsServer`, `RamFs`, `VfsClient`, `FileSystemStack`, `NodeFs`,
 *   `FileSystemLayer`, `bootFileSystem`: the VFS, the RAM file system and their clients.
 * - `disablePretenuring`: engine tuning for programs that run a kernel (see `runtime.ts`).
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
export * as Protocol from "./ipc/Protocol.js"
export * as Server from "./servers/Server.js"
export * as Supervisor from "./servers/Supervisor.js"
export * as NameService from "./servers/NameService.js"
export * as TestKernel from "./testing/TestKernel.js"
export * as FsProtocol from "./servers/vfs/FsProtocol.js"
export * as VfsProtocol from "./servers/vfs/VfsProtocol.js"
export * as VfsServer from "./servers/vfs/VfsServer.js"
export * as RamFs from "./servers/ramfs/RamFs.js"
export * as VfsClient from "./fs/VfsClient.js"
export * as FileSystemStack from "./fs/System.js"
export * as NodeFs from "./fs/NodeFs.js"
export * as FileSystemLayer from "./fs/FileSystemLayer.js"
export { bootFileSystem } from "./fs/boot.js"
export { disablePretenuring } from "./runtime.js"
