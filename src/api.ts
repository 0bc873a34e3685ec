/**
 * The programs' entry (Hubris's `userlib`): everything a program or a plugin server may use, and
 * nothing else. Every file under `src/servers/` imports only this module, `effect`, and files of
 * its own server folder; the import rules (`.dependency-cruiser.cjs`) check it.
 *
 * - `Memory`, `Caps`, `Process`: syscalls on the caller's own memory, capability space and threads.
 * - `Port`, `Message`, `Notification`: synchronous and asynchronous IPC.
 * - `Lease`, `Transfer`, `Ring`: bulk data (leases, copy/map/grant items and the planner, rings).
 * - `Protocol`, `Server`: typed protocols and the server runtime (worker pools, deferred replies).
 * - `NameService`: the name service's protocol and client (register, look up, find again).
 * - `FsProtocol`: the protocol every file-system server implements (and the VFS speaks).
 * - `Labels`: the labels the kernel and the protocol layer reserve.
 * - `Params`: every limit; `KernelError`, `IpcError`, `MemoryError`: the typed errors.
 *
 * Programs never see the `Kernel` service: that is the root task's (`src/index.ts` exports it).
 */
export * as Caps from "./kernel/Caps.js"
export * as FsProtocol from "./lib/FsProtocol.js"
export * as IpcError from "./ipc/errors.js"
export * as KernelError from "./kernel/errors.js"
export * as Labels from "./ipc/labels.js"
export * as Lease from "./ipc/Lease.js"
export * as Memory from "./kernel/Memory.js"
export * as MemoryError from "./memory/errors.js"
export * as Message from "./ipc/Message.js"
export * as NameService from "./lib/NameService.js"
export * as Notification from "./ipc/Notification.js"
export * as Params from "./params.js"
export * as Port from "./ipc/Port.js"
export * as Process from "./kernel/Process.js"
export * as Protocol from "./ipc/Protocol.js"
export * as Ring from "./ipc/Ring.js"
export * as Server from "./lib/Server.js"
export * as Transfer from "./ipc/Transfer.js"
