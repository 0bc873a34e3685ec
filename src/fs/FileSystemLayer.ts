/**
 * @effect/platform's `FileSystem` service backed by the VFS, for Effect programs written against
 * `FileSystem.FileSystem` that should run on the microkernel unchanged.
 *
 * `layer(slot)` is built inside a client process (it needs `Process`): it captures that process,
 * and every method of the service it provides runs its IPC as that process, so the service's
 * effects have no requirements (as the interface says) yet are real calls to the VFS through the
 * send capability in `slot`.
 *
 * Errors: every failure is a `PlatformError`. VFS failures (`FsError`, POSIX code) become
 * `SystemError` with `module: "FileSystem"`, the `method` called, `pathOrDescriptor` (the path as
 * given, or the descriptor), `syscall`, and a `reason`: `NotFound` (ENOENT), `AlreadyExists`
 * (EEXIST), `PermissionDenied` (EACCES, EPERM), `BadResource` (EBADF, EISDIR, ENOTDIR, ELOOP,
 * EXDEV), `Busy` (EBUSY), `InvalidData` (EINVAL, ENAMETOOLONG), `Unknown` otherwise (ENOTEMPTY,
 * ENOSPC, ENOMEM, EIO — the VFS or the mount gone). The `FsError` is the `cause`.
 *
 * Not supported: `watch` (the VFS has no change notifications: the stream fails with a
 * `SystemError` `Unknown` saying so); `sync` only checks the descriptor (RAM has nothing to
 * flush). Relative paths resolve against `/`. `access` checks `readable`/`writable` with the
 * client's credentials, as every call is checked (`PermissionDenied`).
 */
import * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import { Effect, Layer, Option, Stream } from "effect"
import { FsProtocol, Process as P } from "../api.js"
import type { Stat } from "../servers/vfs/VfsProtocol.js"
import * as Vfs from "./VfsClient.js"

const { Process } = P
type Process = P.Process
type ProcessHandle = P.ProcessHandle
const { FsError } = FsProtocol
type FileType = FsProtocol.FileType

const reasons: Record<string, PlatformError.SystemErrorReason> = {
  ENOENT: "NotFound",
  EEXIST: "AlreadyExists",
  EACCES: "PermissionDenied",
  EPERM: "PermissionDenied",
  EBADF: "BadResource",
  EISDIR: "BadResource",
  ENOTDIR: "BadResource",
  ELOOP: "BadResource",
  EXDEV: "BadResource",
  EBUSY: "Busy",
  EINVAL: "InvalidData",
  ENAMETOOLONG: "InvalidData",
  ETIMEDOUT: "TimedOut",
  EAGAIN: "WouldBlock"
}

/**
 * Maps any failure of a VFS call made for `method` to a `PlatformError`: `PlatformError`s pass
 * through; `FsError` (or a transport failure, as `FsError` `EIO`/`ENOMEM`) becomes `SystemError`
 * with the reason of the module header.
 */
export const systemError =
  (method: string, pathOrDescriptor?: string | number) =>
  (e: unknown): PlatformError.PlatformError => {
    if (PlatformError.isPlatformError(e)) return e
    const fe = Vfs.fsError(e, method, typeof pathOrDescriptor === "string" ? pathOrDescriptor : undefined)
    return new PlatformError.SystemError({
      reason: reasons[fe.code] ?? "Unknown",
      module: "FileSystem",
      method,
      description: fe.message,
      ...(fe.syscall === undefined ? {} : { syscall: fe.syscall }),
      ...(pathOrDescriptor === undefined ? {} : { pathOrDescriptor }),
      cause: fe
    })
  }

const typeBits: Record<FileType, number> = { file: 0o100000, dir: 0o040000, symlink: 0o120000 }
const typeNames: Record<FileType, FileSystem.File.Type> = { file: "File", dir: "Directory", symlink: "SymbolicLink" }
const dateOf = (ns: bigint) => new Date(Number(ns / 1_000_000n))
/** A `Date` (or, as Node's `utimes`, a number of seconds) in nanoseconds since the epoch. */
const timeNs = (t: Date | number): bigint => (t instanceof Date ? BigInt(t.getTime()) * 1_000_000n : BigInt(Math.round(t * 1e6)) * 1000n)

/** A VFS `Stat` as @effect/platform's `File.Info` (`mode` carries the type bits, as Node's). */
const infoOf = (s: Stat): FileSystem.File.Info => ({
  type: typeNames[s.type],
  mtime: Option.some(dateOf(s.mtimeNs)),
  atime: Option.some(dateOf(s.atimeNs)),
  birthtime: Option.some(dateOf(s.birthtimeNs)),
  dev: s.dev,
  ino: Option.some(s.ino),
  mode: typeBits[s.type] | s.mode,
  nlink: Option.some(s.nlink),
  uid: Option.some(s.uid),
  gid: Option.some(s.gid),
  rdev: Option.some(0),
  size: FileSystem.Size(s.size),
  blksize: Option.some(FileSystem.Size(4096)),
  blocks: Option.some(s.blocks)
})

const absolute = (p: string) => (p.startsWith("/") ? p : "/" + p)
const join = (dir: string, name: string) => (dir.endsWith("/") ? dir + name : `${dir}/${name}`)
const dirname = (p: string) => {
  const i = p.replace(/\/+$/, "").lastIndexOf("/")
  return i <= 0 ? "/" : p.slice(0, i)
}
const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
const randomName = (n: number) => Effect.sync(() => Array.from({ length: n }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join(""))

/**
 * The `FileSystem` service over the VFS client `vfs`, running its IPC as `pcb` (the process that
 * holds `vfs`'s capability). Errors: as the module header.
 */
export const fromVfs = (vfs: Vfs.Vfs, process: ProcessHandle): FileSystem.FileSystem => {
  /** Runs `effect` as `pcb`, its failures as `PlatformError` for `method`. */
  const io = <A, R>(method: string, pathOrFd: string | number | undefined, effect: Effect.Effect<A, unknown, R>) =>
    Effect.provideService(Effect.mapError(effect, systemError(method, pathOrFd)), Process, process)

  const lstatOrNone = (p: string) =>
    Effect.catchIf(
      Effect.asSome(Vfs.stat(vfs, p, false)),
      (e) => e.code === "ENOENT",
      () => Effect.succeedNone
    )

  const removeTree = (p: string): Effect.Effect<void, unknown, Process> =>
    Effect.gen(function* () {
      const st = yield* Vfs.stat(vfs, p, false)
      if (st.type !== "dir") return yield* vfs.unlink({ path: p })
      for (const e of yield* Vfs.readdirAll(vfs, p)) yield* removeTree(join(p, e.name))
      yield* vfs.rmdir({ path: p })
    })

  const removeRaw = (p: string, options?: FileSystem.RemoveOptions): Effect.Effect<void, unknown, Process> => {
    const go = Effect.gen(function* () {
      const st = yield* Vfs.stat(vfs, p, false)
      if (st.type === "dir" && options?.recursive !== true) return yield* Effect.fail(new FsError({ code: "EISDIR", syscall: "rm", path: p }))
      yield* options?.recursive === true ? removeTree(p) : vfs.unlink({ path: p })
    })
    return options?.force === true
      ? Effect.catchIf(
          go,
          (e) => e instanceof FsError && e.code === "ENOENT",
          () => Effect.void
        )
      : go
  }

  const copyTree = (src: string, dst: string, options?: FileSystem.CopyOptions): Effect.Effect<void, unknown, Process> =>
    Effect.gen(function* () {
      const st = yield* Vfs.stat(vfs, src, false)
      if (st.type === "dir") {
        yield* vfs.mkdir({ path: dst, mode: st.mode, recursive: true })
        for (const e of yield* Vfs.readdirAll(vfs, src)) yield* copyTree(join(src, e.name), join(dst, e.name), options)
      } else {
        // As Node's `cp`: an existing destination is kept unless `overwrite`.
        const existing = yield* lstatOrNone(dst)
        if (Option.isSome(existing)) {
          if (options?.overwrite !== true) return
          if (existing.value.type === "dir") return yield* Effect.fail(new FsError({ code: "EISDIR", syscall: "cp", path: dst }))
          if (st.type === "symlink" || existing.value.type === "symlink") yield* vfs.unlink({ path: dst })
        }
        if (st.type === "symlink") yield* vfs.symlink({ target: yield* vfs.readlink({ path: src }), path: dst })
        else yield* Vfs.writeFile(vfs, dst, yield* Vfs.readFile(vfs, src), "w", st.mode)
      }
      if (options?.preserveTimestamps === true) yield* vfs.setattr({ path: dst, follow: false, atimeNs: st.atimeNs, mtimeNs: st.mtimeNs })
    })

  const makeTempDirectoryRaw = (options?: FileSystem.MakeTempDirectoryOptions): Effect.Effect<string, unknown, Process> =>
    Effect.gen(function* () {
      const directory = options?.directory === undefined ? "/tmp" : absolute(options.directory)
      if (options?.directory === undefined) yield* vfs.mkdir({ path: directory, mode: 0o1777, recursive: true })
      const base = options?.prefix === undefined || options.prefix === "" ? join(directory, "") : join(directory, options.prefix)
      for (;;) {
        const candidate = base + (yield* randomName(6))
        const made = yield* Effect.either(vfs.mkdir({ path: candidate, mode: 0o700, recursive: false }))
        if (made._tag === "Right") return candidate
        if (!(made.left instanceof FsError && made.left.code === "EEXIST")) return yield* Effect.fail(made.left)
      }
    })

  const makeTempFileRaw = (options?: FileSystem.MakeTempFileOptions): Effect.Effect<string, unknown, Process> =>
    Effect.gen(function* () {
      const directory = yield* makeTempDirectoryRaw(options)
      const path = join(directory, (yield* randomName(12)) + (options?.suffix ?? ""))
      yield* Vfs.writeFile(vfs, path, new Uint8Array(0), "wx+", 0o600)
      return path
    })

  const makeFile = (fd: number, append: boolean): FileSystem.File => {
    const descriptor = FileSystem.FileDescriptor(fd)
    const lock = Effect.unsafeMakeSemaphore(1).withPermits(1)
    let position = 0n
    const writeChunk = (method: string, buffer: Uint8Array) =>
      Effect.map(io(method, fd, Vfs.writeBytes(vfs, fd, buffer, append ? -1 : Number(position))), (n) => {
        if (!append) position += BigInt(n)
        return n
      })
    const writeAll = (buffer: Uint8Array): Effect.Effect<void, PlatformError.PlatformError> =>
      buffer.length === 0
        ? Effect.void
        : Effect.flatMap(writeChunk("writeAll", buffer), (n) =>
            n === 0
              ? Effect.fail(
                  new PlatformError.SystemError({
                    reason: "WriteZero",
                    module: "FileSystem",
                    method: "writeAll",
                    pathOrDescriptor: fd,
                    description: "write returned 0 bytes written"
                  })
                )
              : n < buffer.length
                ? writeAll(buffer.subarray(n))
                : Effect.void
          )
    const readAt = (method: string, length: number) =>
      Effect.tap(
        io(
          method,
          fd,
          Effect.suspend(() => Vfs.readBytes(vfs, fd, length, Number(position)))
        ),
        (bytes) =>
          Effect.sync(() => {
            position += BigInt(bytes.length)
          })
      )
    return {
      [FileSystem.FileTypeId]: FileSystem.FileTypeId,
      fd: descriptor,
      stat: Effect.map(io("stat", fd, Vfs.fstat(vfs, fd)), infoOf),
      sync: Effect.asVoid(io("sync", fd, vfs.fstat({ fd }))),
      seek: (offset, from) =>
        lock(
          Effect.sync(() => {
            position = from === "start" ? FileSystem.Size(offset) : position + FileSystem.Size(offset)
          })
        ),
      read: (buffer) =>
        lock(
          Effect.map(readAt("read", buffer.length), (bytes) => {
            buffer.set(bytes)
            return FileSystem.Size(bytes.length)
          })
        ),
      readAlloc: (size) => lock(Effect.map(readAt("readAlloc", Number(size)), (bytes) => (bytes.length === 0 ? Option.none() : Option.some(bytes)))),
      truncate: (length) =>
        lock(
          Effect.map(io("truncate", fd, vfs.ftruncate({ fd, size: Number(length ?? 0) })), () => {
            const len = FileSystem.Size(length ?? 0)
            if (!append && position > len) position = len
          })
        ),
      write: (buffer) =>
        lock(
          Effect.map(
            Effect.suspend(() => writeChunk("write", buffer)),
            FileSystem.Size
          )
        ),
      writeAll: (buffer) => lock(Effect.suspend(() => writeAll(buffer)))
    }
  }

  const openFor = (method: string) => (path: string, options?: FileSystem.OpenFileOptions) => {
    const flag = options?.flag ?? "r"
    return Effect.map(
      Effect.acquireRelease(io(method, path, vfs.open({ path: absolute(path), flags: flag, mode: options?.mode ?? 0o666 })), ({ fd }) =>
        Effect.ignore(io(method, fd, vfs.close({ fd })))
      ),
      ({ fd }) => makeFile(fd, flag.startsWith("a"))
    )
  }

  const readDirectoryRaw = (path: string, recursive: boolean): Effect.Effect<Array<string>, unknown, Process> =>
    Effect.gen(function* () {
      const out: Array<string> = []
      const walk = (dir: string, prefix: string): Effect.Effect<void, unknown, Process> =>
        Effect.gen(function* () {
          for (const e of yield* Vfs.readdirAll(vfs, dir)) {
            const rel = prefix === "" ? e.name : `${prefix}/${e.name}`
            out.push(rel)
            if (recursive && e.type === "dir") yield* walk(join(dir, e.name), rel)
          }
        })
      yield* walk(path, "")
      return out
    })

  return FileSystem.make({
    access: (path, options) =>
      io("access", path, vfs.access({ path: absolute(path), mode: (options?.readable === true ? 4 : 0) | (options?.writable === true ? 2 : 0) })),
    copy: (fromPath, toPath, options) => io("copy", fromPath, copyTree(absolute(fromPath), absolute(toPath), options)),
    copyFile: (fromPath, toPath) =>
      io(
        "copyFile",
        fromPath,
        Effect.gen(function* () {
          const st = yield* Vfs.stat(vfs, absolute(fromPath))
          yield* Vfs.writeFile(vfs, absolute(toPath), yield* Vfs.readFile(vfs, absolute(fromPath)), "w", st.mode)
        })
      ),
    chmod: (path, mode) => io("chmod", path, vfs.setattr({ path: absolute(path), follow: true, mode })),
    chown: (path, uid, gid) => io("chown", path, vfs.setattr({ path: absolute(path), follow: true, uid, gid })),
    link: (fromPath, toPath) => io("link", fromPath, vfs.link({ existing: absolute(fromPath), path: absolute(toPath) })),
    makeDirectory: (path, options) =>
      io("makeDirectory", path, Effect.asVoid(vfs.mkdir({ path: absolute(path), mode: options?.mode ?? 0o777, recursive: options?.recursive ?? false }))),
    makeTempDirectory: (options) => io("makeTempDirectory", options?.directory, makeTempDirectoryRaw(options)),
    makeTempDirectoryScoped: (options) =>
      Effect.acquireRelease(io("makeTempDirectoryScoped", options?.directory, makeTempDirectoryRaw(options)), (dir) =>
        Effect.ignore(io("makeTempDirectoryScoped", dir, removeRaw(dir, { recursive: true })))
      ),
    makeTempFile: (options) => io("makeTempFile", options?.directory, makeTempFileRaw(options)),
    makeTempFileScoped: (options) =>
      Effect.acquireRelease(io("makeTempFileScoped", options?.directory, makeTempFileRaw(options)), (file) =>
        Effect.ignore(io("makeTempFileScoped", file, removeRaw(dirname(file), { recursive: true })))
      ),
    open: openFor("open"),
    readDirectory: (path, options) => io("readDirectory", path, readDirectoryRaw(absolute(path), options?.recursive ?? false)),
    readFile: (path) => io("readFile", path, Vfs.readFile(vfs, absolute(path))),
    readLink: (path) => io("readLink", path, vfs.readlink({ path: absolute(path) })),
    realPath: (path) => io("realPath", path, vfs.realpath({ path: absolute(path) })),
    remove: (path, options) => io("remove", path, removeRaw(absolute(path), options)),
    rename: (oldPath, newPath) => io("rename", oldPath, vfs.rename({ from: absolute(oldPath), to: absolute(newPath) })),
    stat: (path) => Effect.map(io("stat", path, Vfs.stat(vfs, absolute(path))), infoOf),
    symlink: (target, path) => io("symlink", path, vfs.symlink({ target, path: absolute(path) })),
    truncate: (path, length) => io("truncate", path, vfs.truncate({ path: absolute(path), size: Number(length ?? 0) })),
    utimes: (path, atime, mtime) =>
      io(
        "utimes",
        path,
        Effect.suspend(() => vfs.setattr({ path: absolute(path), follow: true, atimeNs: timeNs(atime), mtimeNs: timeNs(mtime) }))
      ),
    watch: (path) =>
      Stream.fail(
        new PlatformError.SystemError({
          reason: "Unknown",
          module: "FileSystem",
          method: "watch",
          pathOrDescriptor: path,
          description: "watch is not supported: the VFS has no change notifications"
        })
      ),
    writeFile: (path, data, options) => io("writeFile", path, Vfs.writeFile(vfs, absolute(path), data, options?.flag ?? "w", options?.mode ?? 0o666))
  })
}

/**
 * The `FileSystem` service for the calling process, over the VFS capability in `slot` (default
 * 0, where `System.spawnClient` puts it). Never fails; the service's methods fail as the module
 * header says.
 */
export const make = (slot = 0): Effect.Effect<FileSystem.FileSystem, never, Process> => Effect.map(Process, (process) => fromVfs(Vfs.client(slot), process))

/**
 * A layer providing @effect/platform's `FileSystem` backed by the VFS in capability `slot`
 * (default 0), for a program running in a client process. Building it never fails; the service's
 * methods fail with `PlatformError` (`SystemError`, reasons as the module header).
 */
export const layer = (slot = 0): Layer.Layer<FileSystem.FileSystem, never, Process> => Layer.effect(FileSystem.FileSystem, make(slot))
