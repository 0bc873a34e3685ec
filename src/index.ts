/**
 * effect-microkernel: a working microkernel model on the Effect runtime. The package entry.
 *
 * - Everything a program or plugin server may use: the programs' entry (`api.ts`), re-exported
 *   whole — `Memory`, `Caps`, `Process`, `Port`, `Message`, `Notification`, `Lease`, `Transfer`,
 *   `Ring`, `Protocol`, `Server`, `NameService`, `FsProtocol`, `Labels`, `Params`, `KernelError`,
 *   `IpcError`, `MemoryError`.
 * - The root task's API: `Kernel` (boot, `spawn`, `kill`, `restart`, counters, `runSync`),
 *   `Scheduler` (the kernel scheduler, its stats and the drive's errors), `Capability`
 *   (rights and capability spaces, for wiring initial capabilities), `Stats`, `Trace`,
 *   `PhysicalMemory`, `AddressSpace`, `Supervisor`, `FileSystemStack`, `bootFileSystem`, and the
 *   test kit `TestKernel`.
 * - The servers: `NameServer`, `VfsProtocol`, `VfsServer`, `RamFs`.
 * - The file-system clients: `VfsClient`, `NodeFs`, `FileSystemLayer`.
 * - `disablePretenuring`: engine tuning for programs that run a kernel (see `runtime.ts`).
 *
 * Nothing under `src/` imports this module.
 */
export * from "./api.js"
export * as AddressSpace from "./memory/AddressSpace.js"
export * as Capability from "./kernel/Capability.js"
export * as Kernel from "./kernel/Kernel.js"
export * as Scheduler from "./kernel/Scheduler.js"
export * as PhysicalMemory from "./memory/PhysicalMemory.js"
export * as Stats from "./kernel/Stats.js"
export * as Trace from "./kernel/Trace.js"
export * as Supervisor from "./root/Supervisor.js"
export * as FileSystemStack from "./root/FileSystemStack.js"
export * as TestKernel from "./root/TestKernel.js"
export { bootFileSystem } from "./root/bootFileSystem.js"
export * as NameServer from "./servers/names/NameServer.js"
export * as VfsProtocol from "./servers/vfs/VfsProtocol.js"
export * as VfsServer from "./servers/vfs/VfsServer.js"
export * as RamFs from "./servers/ramfs/RamFs.js"
export * as VfsClient from "./fs/VfsClient.js"
export * as NodeFs from "./fs/NodeFs.js"
export * as FileSystemLayer from "./fs/FileSystemLayer.js"
export { disablePretenuring } from "./runtime.js"
