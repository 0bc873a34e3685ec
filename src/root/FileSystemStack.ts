/**
 * Root-task wiring of the file-system stack: RAM file-system servers, the VFS with its mount
 * table, and client processes each holding a VFS capability with a badge of their own.
 *
 * Credentials: the root task keeps one badge for itself (`rootBadge`, minted like every client's)
 * and a process of its own, `root-task`, whose VFS capability carries it; the VFS takes
 * `setCredentials` from that badge only. `spawnClient` creates the client, tells the VFS the new
 * badge's credentials through that capability, and only then starts the client's program, so no
 * call of the client ever runs with other credentials. A badge the VFS has no credentials for (a
 * surviving copy of a dead client's capability) acts as `nobody`.
 *
 * Errors: the kernel's spawn and port errors (`InvalidArgument`, capability errors); `FsError`
 * when the VFS refuses or cannot take a client's credentials.
 */
import { Cause, Effect, Exit, Fiber, Option } from "effect"
import * as Capability from "../kernel/Capability.js"
import * as Kernel from "../kernel/Kernel.js"
import * as Process from "../kernel/Process.js"
import * as Port from "../ipc/Port.js"
import * as Protocol from "../ipc/Protocol.js"
import * as RamFs from "../servers/ramfs/RamFs.js"
import { FsError, FsProtocol } from "../lib/FsProtocol.js"
import * as Server from "../lib/Server.js"
import { NOBODY, ROOT } from "../servers/vfs/permissions.js"
import * as VfsServer from "../servers/vfs/VfsServer.js"
import { type Credentials, VfsProtocol } from "../servers/vfs/VfsProtocol.js"

/** A running file-system stack. */
export interface System {
  /** The VFS's port (the original capability, held by the VFS). */
  readonly vfsPort: Capability.Capability
  readonly vfs: Process.Pcb
  /** The file-system servers by mount path. */
  readonly servers: ReadonlyMap<string, Process.Pcb>
  readonly vfsCounters: Server.Counters<VfsProtocol["operations"]>
  /** Each file-system server's port (the original capability, held by the server), by mount path. */
  readonly fsPorts: ReadonlyMap<string, Capability.Capability>
  /** Counters of each file-system server, by mount path: the calls the VFS made of it. */
  readonly fsCounters: ReadonlyMap<string, Server.Counters<FsProtocol["operations"]>>
  /** The root task's own badge: the only one the VFS takes `setCredentials` from. */
  readonly rootBadge: number
  /** The root task's process: slot 0 holds a VFS capability badged `rootBadge` (no client ever holds one). */
  readonly rootTask: Process.Pcb
}

/**
 * What a client runs as: user, primary group, and optionally supplementary groups (default none)
 * and the file-mode creation mask (default `0o022`).
 */
export interface ClientCredentials {
  readonly uid: number
  readonly gid: number
  readonly groups?: ReadonlyArray<number>
  readonly umask?: number
}

const rights = Capability.Rights.send | Capability.Rights.grant

/** Badges of VFS capabilities, never reused: one per client, and one per stack for its root task. */
let nextBadge = 1

/** Options of `start`. */
export interface StartOptions {
  /**
   * Frames each RAM file system may hold (its process's quota). Default: every frame of the
   * machine, so a file system runs out of space (`ENOSPC`) only when memory really runs out.
   */
  readonly fsQuota?: number
}

/**
 * Spawns one RAM file system per mount path (`/` always), the VFS over them, and the root task's
 * process that holds the VFS capability with the root task's badge. Errors: the kernel's, when a
 * process or port cannot be made (`InvalidArgument` for a bad `fsQuota`).
 */
export const start = (mountPaths: ReadonlyArray<string> = [], options: StartOptions = {}) =>
  Effect.gen(function* () {
    const k = yield* Kernel.Kernel
    const quota = options.fsQuota ?? k.config.frames
    const paths = ["/", ...mountPaths.filter((p) => p !== "/")]
    const servers = new Map<string, Process.Pcb>()
    const fsCounters = new Map<string, Server.Counters<FsProtocol["operations"]>>()
    const fsPorts = new Map<string, Capability.Capability>()
    for (const path of paths) {
      const pcb = yield* k.create({ name: `ramfs${path}`, quota })
      const port = yield* Port.createFor(pcb)
      const counters = Server.counters(FsProtocol)
      yield* k.start(pcb, RamFs.program(port.slot, counters))
      servers.set(path, pcb)
      fsCounters.set(path, counters)
      fsPorts.set(path, port)
    }
    const vfs = yield* k.create({ name: "vfs", caps: [...fsPorts.values()].map((cap) => ({ cap, rights })) })
    const vfsPort = yield* Port.createFor(vfs, { disconnects: true })
    const vfsCounters = Server.counters(VfsProtocol)
    const rootBadge = nextBadge++
    yield* k.start(
      vfs,
      VfsServer.program({
        port: vfsPort.slot,
        mounts: paths.map((path, slot) => ({ path, slot })),
        counters: vfsCounters,
        credentialsFrom: rootBadge,
        defaultCredentials: NOBODY
      })
    )
    // The root task's requests run as threads of this process (see `asRootTask`).
    const rootTask = yield* Kernel.spawn(Effect.never, { name: "root-task", caps: [{ cap: vfsPort, rights: Capability.Rights.send, badge: rootBadge }] })
    return { vfsPort, vfs, servers, vfsCounters, fsPorts, fsCounters, rootBadge, rootTask } satisfies System
  })

/**
 * Runs `effect` as a thread of the root task's process (so through its capabilities); `EIO` if
 * that process is gone.
 */
const asRootTask = <A>(system: System, effect: Effect.Effect<A, FsError, Process.Process>): Effect.Effect<A, FsError> =>
  Effect.flatMap(Effect.provideService(Process.fork(effect), Process.Process, system.rootTask.handle), (fiber) =>
    Effect.flatMap(Fiber.await(fiber), (exit) =>
      Exit.isSuccess(exit)
        ? Effect.succeed(exit.value)
        : Effect.fail(Option.getOrElse(Cause.failureOption(exit.cause), () => new FsError({ code: "EIO", syscall: "setCredentials" })))
    )
  )

/** The full credentials of `c` (defaults: root, no supplementary groups, umask 0o022). */
const credentialsOf = (c: ClientCredentials | undefined): Credentials =>
  c === undefined ? ROOT : { uid: c.uid, gid: c.gid, groups: [...(c.groups ?? [])], umask: c.umask ?? ROOT.umask }

/**
 * Spawns a client process running `program` with a VFS capability in slot 0, badged uniquely,
 * acting with `credentials` (default uid 0, gid 0, no supplementary groups, umask 0o022): the VFS
 * learns them from the root task before the program starts. Errors: the kernel's spawn errors;
 * `FsError` `EINVAL` (invalid credentials), `EIO` (the VFS or the root task's process is gone) —
 * the client is then killed before it ran.
 */
export const spawnClient = <A, E>(system: System, program: Effect.Effect<A, E, Process.Process>, name = "client", credentials?: ClientCredentials) =>
  Effect.gen(function* () {
    const k = yield* Kernel.Kernel
    const badge = nextBadge++
    const pcb = yield* k.create({ name, caps: [{ cap: system.vfsPort, rights, badge }] })
    const told = yield* Effect.either(
      asRootTask(
        system,
        Effect.mapError(Protocol.client(VfsProtocol, 0).setCredentials({ badge, credentials: credentialsOf(credentials) }), (e) =>
          e instanceof FsError ? e : new FsError({ code: "EIO", syscall: "setCredentials" })
        )
      ).pipe(Effect.onInterrupt(() => k.kill(pcb)))
    )
    if (told._tag === "Left") {
      yield* k.kill(pcb)
      return yield* Effect.fail(told.left)
    }
    yield* k.start(pcb, program)
    return pcb
  })
