/**
 * The synchronous API of `node:fs` (`statSync`, `readFileSync`, … every `*Sync` function Node 20
 * has on Linux): each checks its arguments as Node's `lib/fs.js` does (a bad one throws), then runs
 * the very Effect the callback and promise forms run (`bindings.ts`) through the host's sync
 * runner — the kernel driven on this stack until the call has settled. It returns the value, or
 * throws Node's system error (`code`, `errno`, `syscall`, `path`).
 *
 * A call that cannot finish on this stack — it would wait on the host's event loop (a real timer,
 * a host promise, a server that waits on one), or it was made from inside a kernel fiber — throws
 * `EDEADLK` (see `syncDeadlock`); a call that had not started by then never runs.
 */
import { Effect } from "effect"
import * as B from "./bindings.js"
import type { Sys } from "./core.js"
import { opendir } from "./Dir.js"
import { type Host, runSync } from "./host.js"
import type { BigIntStats, Stats } from "./stats.js"
import {
  getValidatedFd,
  isArrayBufferView,
  type Options,
  validateBuffer,
  validateEncoding,
  validateInteger,
  validateObject,
  validateStringAfterArrayBufferView
} from "./validators.js"

/** `stat`'s Effect with Node's `throwIfNoEntry: false`: a missing entry (`ENOENT`; Node 20 still throws `ENOTDIR`) is `undefined`. */
const maybeEntry = (effect: Sys<Stats | BigIntStats>, options: unknown): Sys<Stats | BigIntStats | undefined> =>
  (options as { throwIfNoEntry?: unknown }).throwIfNoEntry === false
    ? Effect.catchIf(
        effect,
        (e) => (e as { code?: unknown }).code === "ENOENT",
        () => Effect.succeed(undefined)
      )
    : effect

/** Options without their `signal`: Node's sync forms never look at one. */
const unsignalled = (options: unknown): unknown =>
  typeof options === "object" && options !== null && (options as Options).signal !== undefined ? { ...options, signal: undefined } : options

/**
 * The sync API over `host`. Each function throws Node's argument errors, then the call's system
 * error (as `node:fs`'s sync form does), `EIO` once the VFS or the client is gone, or `EDEADLK`
 * when the call cannot finish on the caller's stack.
 */
export const makeSync = (host: Host) => {
  const { ctx } = host
  const run = <A>(effect: Sys<A>, syscall: string): A => runSync(host, effect, syscall)
  const fs = {
    accessSync: (path: unknown, mode?: unknown): void => run(B.access(ctx, path, mode), "access"),
    appendFileSync: (path: unknown, data: unknown, options?: unknown): void => run(B.appendFile(ctx, path, data, unsignalled(options)), "open"),
    chmodSync: (path: unknown, mode: unknown): void => run(B.chmod(ctx, path, mode), "chmod"),
    chownSync: (path: unknown, uid: unknown, gid: unknown): void => run(B.chown(ctx, path, uid, gid), "chown"),
    closeSync: (fd: unknown): void => run(B.close(ctx, fd), "close"),
    copyFileSync: (src: unknown, dest: unknown, mode?: unknown): void => run(B.copyFile(ctx, src, dest, mode), "copyfile"),
    cpSync: (src: unknown, dest: unknown, options?: unknown): void => run(B.cp(ctx, src, dest, options, true), "cp"),
    /** `existsSync`: `false` for an invalid path or any system error; throws only `EDEADLK` (it cannot tell). */
    existsSync: (path: unknown): boolean => run(B.exists(ctx, path), "access"),
    fchmodSync: (fd: unknown, mode: unknown): void => run(B.fchmod(ctx, fd, mode), "fchmod"),
    fchownSync: (fd: unknown, uid: unknown, gid: unknown): void => run(B.fchown(ctx, fd, uid, gid), "fchown"),
    fdatasyncSync: (fd: unknown): void => run(B.fdatasync(ctx, fd), "fdatasync"),
    fstatSync: (fd: unknown, options: unknown = { bigint: false }) => run(B.fstat(ctx, fd, options), "fstat"),
    fsyncSync: (fd: unknown): void => run(B.fsync(ctx, fd), "fsync"),
    ftruncateSync: (fd: unknown, len: unknown = 0): void => run(B.ftruncate(ctx, fd, len), "ftruncate"),
    futimesSync: (fd: unknown, atime: unknown, mtime: unknown): void => run(B.futimes(ctx, fd, atime, mtime), "futime"),
    lchownSync: (path: unknown, uid: unknown, gid: unknown): void => run(B.lchown(ctx, path, uid, gid), "lchown"),
    /** Linux has no `lchmod`: Node's `fs.lchmodSync` is `undefined` there. */
    lchmodSync: undefined,
    linkSync: (existingPath: unknown, newPath: unknown): void => run(B.link(ctx, existingPath, newPath), "link"),
    lstatSync: (path: unknown, options: unknown = { bigint: false, throwIfNoEntry: true }) => run(maybeEntry(B.lstat(ctx, path, options), options), "lstat"),
    lutimesSync: (path: unknown, atime: unknown, mtime: unknown): void => run(B.lutimes(ctx, path, atime, mtime), "lutime"),
    mkdirSync: (path: unknown, options?: unknown) => run(B.mkdir(ctx, path, options), "mkdir"),
    mkdtempSync: (prefix: unknown, options?: unknown) => run(B.mkdtemp(ctx, prefix, options), "mkdtemp"),
    /** `opendirSync`: a `Dir` (its `readSync`/`closeSync` run on this stack too). */
    opendirSync: (path: unknown, options?: unknown) => run(opendir(host, path, options, true), "opendir"),
    openSync: (path: unknown, flags?: unknown, mode?: unknown): number => run(B.open(ctx, path, flags, mode), "open"),
    readdirSync: (path: unknown, options?: unknown) => run(B.readdir(ctx, path, options, true), "scandir"),
    readFileSync: (path: unknown, options?: unknown) => run(B.readFile(ctx, path, unsignalled(options), true), "open"),
    readlinkSync: (path: unknown, options?: unknown) => run(B.readlink(ctx, path, options), "readlink"),
    readSync(fd: unknown, buffer: unknown, offsetOrOptions?: unknown, length?: unknown, position?: unknown): number {
      const d = getValidatedFd(fd)
      const buf = validateBuffer(buffer)
      let offset: any = offsetOrOptions
      if (arguments.length <= 3 || typeof offsetOrOptions === "object") {
        if (offsetOrOptions !== undefined) validateObject(offsetOrOptions, "options", true)
        ;({ offset = 0, length = buf.byteLength - offset, position = null } = (offsetOrOptions ?? {}) as Options)
      }
      // Node's sync form takes `null` as no offset only through the options object.
      if (offset !== undefined) validateInteger(offset, "offset", 0)
      return run(B.read(ctx, d, buf, offset, length, position), "read")
    },
    readvSync: (fd: unknown, buffers: unknown, position?: unknown): number => run(B.readv(ctx, fd, buffers, position), "read"),
    realpathSync: Object.assign((path: unknown, options?: unknown) => run(B.realpath(ctx, path, options), "lstat"), {
      native: (path: unknown, options?: unknown) => run(B.realpathNative(ctx, path, options), "realpath")
    }),
    renameSync: (oldPath: unknown, newPath: unknown): void => run(B.rename(ctx, oldPath, newPath), "rename"),
    rmdirSync: (path: unknown, options?: unknown): void => run(B.rmdir(ctx, path, options, true), "rmdir"),
    rmSync: (path: unknown, options?: unknown): void => run(B.rm(ctx, path, options, true), "rm"),
    statSync: (path: unknown, options: unknown = { bigint: false, throwIfNoEntry: true }) => run(maybeEntry(B.stat(ctx, path, options), options), "stat"),
    statfsSync: (path: unknown, options: unknown = { bigint: false }) => run(B.statfs(ctx, path, options), "statfs"),
    symlinkSync: (linkTarget: unknown, path: unknown, type?: unknown): void => run(B.symlink(ctx, linkTarget, path, type), "symlink"),
    /** `truncateSync`: as Node's, the file is opened (`r+`) before `len` is checked. */
    truncateSync(path: unknown, len?: unknown): void {
      if (typeof path === "number") return fs.ftruncateSync(path, len)
      const n = len === undefined ? 0 : len
      try {
        validateInteger(n, "len")
      } catch (e) {
        fs.closeSync(fs.openSync(path, "r+"))
        throw e
      }
      run(B.truncate(ctx, path, n), "open")
    },
    unlinkSync: (path: unknown): void => run(B.unlink(ctx, path), "unlink"),
    utimesSync: (path: unknown, atime: unknown, mtime: unknown): void => run(B.utimes(ctx, path, atime, mtime), "utime"),
    writeFileSync: (path: unknown, data: unknown, options?: unknown): void => run(B.writeFile(ctx, path, data, unsignalled(options)), "open"),
    writeSync(fd: unknown, buffer: unknown, offsetOrOptions?: unknown, length?: unknown, position?: unknown): number {
      const d = getValidatedFd(fd)
      let offset: any = offsetOrOptions
      if (isArrayBufferView(buffer)) {
        if (typeof offset === "object") ({ offset = 0, length = buffer.byteLength - offset, position = null } = (offsetOrOptions ?? {}) as Options)
        return run(B.writeBuffer(ctx, d, buffer, offset, length, position ?? null), "write")
      }
      const text = validateStringAfterArrayBufferView(buffer, "buffer")
      validateEncoding(text, length)
      return run(B.writeString(ctx, d, text, offset ?? null, length), "write")
    },
    writevSync: (fd: unknown, buffers: unknown, position?: unknown): number => run(B.writev(ctx, fd, buffers, position), "write")
  }
  return fs
}

/** The sync API's type. */
export type SyncApi = ReturnType<typeof makeSync>
