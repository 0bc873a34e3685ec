/**
 * `fs.promises`: Node's promise API, every function `async` as Node's are, so a bad argument
 * rejects (never throws). Most run the argument layer's Effect (`bindings.ts`) as is; the few that
 * Node's promise API handles differently from its other forms do so here too: `open` gives a
 * `FileHandle`, `truncate` opens before it checks `len`, `rmdir({ recursive })` uses `stat`,
 * `readdir({ recursive })` walks depth first, `readFile`/`writeFile`/`appendFile` take a
 * `FileHandle` (and `writeFile` an iterable), `realpath` is the native one, and `lchmod` is not
 * implemented (Linux has no `O_SYMLINK`).
 */
import * as B from "./bindings.js"
import { dataOf, writeFileOptions } from "./bindings.js"
import * as compound from "./compound.js"
import { constants } from "./constants.js"
import * as core from "./core.js"
import { target } from "./core.js"
import { opendir as openDir } from "./Dir.js"
import { FileHandle, type StreamClasses } from "./FileHandle.js"
import type { Host } from "./host.js"
import { AbortError } from "./errors.js"
import { defaultRmdirOptions, getOptions, getValidatedPath, isArrayBufferView, type Options, validateAbortSignal, validateRmdirOptions } from "./validators.js"

/** The promise API over `host`, its `FileHandle`s streaming through `host.streams`. */
export const makePromises = (host: Host & { readonly streams: StreamClasses }) => {
  const { ctx, run } = host
  const handleOf = (fd: number) => new FileHandle(host, fd)
  const promises = {
    async access(path: unknown, mode: unknown = constants.F_OK) {
      return run(B.access(ctx, path, mode))
    },
    async copyFile(src: unknown, dest: unknown, mode?: unknown) {
      return run(B.copyFile(ctx, src, dest, mode))
    },
    async cp(src: unknown, dest: unknown, options?: unknown) {
      return run(B.cp(ctx, src, dest, options))
    },
    async open(path: unknown, flags?: unknown, mode?: unknown) {
      return handleOf(await run(B.open(ctx, path, flags, mode)))
    },
    async opendir(path: unknown, options?: unknown) {
      return run(openDir(host, path, options))
    },
    async rename(oldPath: unknown, newPath: unknown) {
      return run(B.rename(ctx, oldPath, newPath))
    },
    /** `open(path, "r+")`, then `len` checked and `ftruncate`, then `close`. */
    async truncate(path: unknown, len: unknown = 0) {
      const fh = await promises.open(path, "r+")
      try {
        await fh.truncate(len)
      } finally {
        await fh.close()
      }
    },
    async rm(path: unknown, options?: unknown) {
      return run(B.rm(ctx, path, options))
    },
    /** With `recursive`, `stat` first: a directory goes as `rm -r`, anything else as a plain `rmdir`. */
    async rmdir(path: unknown, options?: unknown) {
      const p = target(getValidatedPath(path))
      const o = validateRmdirOptions(options, defaultRmdirOptions)
      if (o.recursive) {
        const st = await run(core.stat(ctx, p, true))
        if (st.type === "dir") return run(compound.rimraf(ctx, p.vfs, o))
      }
      return run(core.rmdir(ctx, p))
    },
    async mkdir(path: unknown, options?: unknown) {
      const o = typeof options === "number" || typeof options === "string" ? { mode: options } : ((options || {}) as Options)
      return run(B.mkdirWith(ctx, path, o.mode ?? 0o777, o.recursive ?? false))
    },
    async readdir(path: unknown, options?: unknown) {
      return run(B.readdir(ctx, path, { ...getOptions(options) }, false))
    },
    async readlink(path: unknown, options?: unknown) {
      return run(B.readlink(ctx, path, options))
    },
    async symlink(linkTarget: unknown, path: unknown, type?: unknown) {
      return run(B.symlink(ctx, linkTarget, path, type))
    },
    async lstat(path: unknown, options: unknown = { bigint: false }) {
      return run(B.lstat(ctx, path, options))
    },
    async stat(path: unknown, options: unknown = { bigint: false }) {
      return run(B.stat(ctx, path, options))
    },
    async statfs(path: unknown, options: unknown = { bigint: false }) {
      return run(B.statfs(ctx, path, options))
    },
    async link(existingPath: unknown, newPath: unknown) {
      return run(B.link(ctx, existingPath, newPath))
    },
    async unlink(path: unknown) {
      return run(B.unlink(ctx, path))
    },
    async chmod(path: unknown, mode: unknown) {
      return run(B.chmod(ctx, path, mode))
    },
    async lchmod(_path: unknown, _mode: unknown) {
      return B.lchmod()
    },
    async lchown(path: unknown, uid: unknown, gid: unknown) {
      return run(B.lchown(ctx, path, uid, gid))
    },
    async chown(path: unknown, uid: unknown, gid: unknown) {
      return run(B.chown(ctx, path, uid, gid))
    },
    async utimes(path: unknown, atime: unknown, mtime: unknown) {
      return run(B.utimes(ctx, path, atime, mtime))
    },
    async lutimes(path: unknown, atime: unknown, mtime: unknown) {
      return run(B.lutimes(ctx, path, atime, mtime))
    },
    async realpath(path: unknown, options?: unknown) {
      return run(B.realpathNative(ctx, path, options))
    },
    async mkdtemp(prefix: unknown, options?: unknown) {
      return run(B.mkdtemp(ctx, prefix, options))
    },
    /** Bytes, a string, or (an async) iterable of chunks, into a path or a `FileHandle`. */
    async writeFile(path: unknown, data: unknown, options?: unknown): Promise<void> {
      const o = writeFileOptions(options)
      const iterable =
        !isArrayBufferView(data) && typeof data !== "string" && data != null && (Symbol.iterator in Object(data) || Symbol.asyncIterator in Object(data))
      const d = iterable ? data : dataOf(data, o.encoding)
      validateAbortSignal(o.signal, "options.signal")
      if (path instanceof FileHandle) return path.writeFile(d, o)
      if (!iterable) return run(B.writeFileWith(ctx, path, d as Uint8Array, o, false))
      if (o.signal?.aborted) throw new AbortError(undefined, { cause: o.signal.reason })
      const fh = await promises.open(path, o.flag || "w", o.mode)
      try {
        await fh.writeFile(d, o)
      } finally {
        await fh.close()
      }
    },
    async appendFile(path: unknown, data: unknown, options?: unknown) {
      const o = { ...getOptions(options, { encoding: "utf8", mode: 0o666, flag: "a" }) }
      o.flag = o.flag || "a"
      return promises.writeFile(path, data, o)
    },
    async readFile(path: unknown, options?: unknown) {
      if (path instanceof FileHandle) return path.readFile(options)
      return run(B.readFile(ctx, path, options, false))
    },
    constants
  }
  return promises
}

/** The promise API's type. */
export type Promises = ReturnType<typeof makePromises>
