/**
 * Root-task wiring of the file-system stack: RAM file-system servers, the VFS with its mount
 * table, and client processes each holding a VFS capability with a badge of their own.
 *
 * Errors: the kernel's spawn and port errors (`InvalidArgument`, capability errors).
 */
import { Effect } from "effect"
import * as Capability from "../kernel/Capability.js"
import * as Kernel from "../kernel/Kernel.js"
import type * as Process from "../kernel/Process.js"
import * as Port from "../ipc/Port.js"
import * as RamFs from "../servers/ramfs/RamFs.js"
import * as Server from "../servers/Server.js"
import { FsProtocol } from "../servers/vfs/FsProtocol.js"
import * as VfsServer from "../servers/vfs/VfsServer.js"
import { VfsProtocol } from "../servers/vfs/VfsProtocol.js"

/** A running file-system stack. */
export interface System {
  /** The VFS's port (the original capability, held by the VFS). */
  readonly vfsPort: Capability.Capability
  readonly vfs: Process.Pcb
  /** The file-system servers by mount path. */
  readonly servers: ReadonlyMap<string, Process.Pcb>
  readonly vfsCounters: Server.Counters<VfsProtocol["operations"]>
}

const rights = Capability.Rights.send | Capability.Rights.grant

/**
 * Spawns one RAM file system per mount path (`/` always) and the VFS over them. Errors: the
 * kernel's, when a process or port cannot be made.
 */
export const start = (mountPaths: ReadonlyArray<string> = []) =>
  Effect.gen(function* () {
    const k = yield* Kernel.Kernel
    const paths = ["/", ...mountPaths.filter((p) => p !== "/")]
    const servers = new Map<string, Process.Pcb>()
    const ports: Array<Capability.Capability> = []
    for (const path of paths) {
      const pcb = yield* k.create({ name: `ramfs${path}` })
      const port = yield* Port.createFor(pcb)
      yield* k.start(pcb, RamFs.program(port.slot, Server.counters(FsProtocol)))
      servers.set(path, pcb)
      ports.push(port)
    }
    const vfs = yield* k.create({ name: "vfs", caps: ports.map((cap) => ({ cap, rights })) })
    const vfsPort = yield* Port.createFor(vfs, { disconnects: true })
    const vfsCounters = Server.counters(VfsProtocol)
    yield* k.start(vfs, VfsServer.program({ port: vfsPort.slot, mounts: paths.map((path, slot) => ({ path, slot })), counters: vfsCounters }))
    return { vfsPort, vfs, servers, vfsCounters } satisfies System
  })

let nextBadge = 1

/**
 * Spawns a client process running `program` with a VFS capability in slot 0, badged uniquely.
 * Errors: the kernel's spawn errors.
 */
export const spawnClient = <A, E>(system: System, program: Effect.Effect<A, E, Process.Process>, name = "client") =>
  Kernel.spawn(program, { name, caps: [{ cap: system.vfsPort, rights, badge: nextBadge++ }] })
