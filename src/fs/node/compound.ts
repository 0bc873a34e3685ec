/**
 * The operations Node itself composes from several system calls, composed the same way from the
 * facade's (`core.ts`), so they fail where and as Node's do: `rm`/`rmdir({ recursive })` (Node's
 * `rimraf`), `cp` (Node's `cpFn`), the JavaScript `realpath` of the callback API, and
 * `readdir({ recursive })` in the order of each API form.
 *
 * Every path these build is resolved against `/`, the facade's working directory.
 */
import { Effect, Option } from "effect"
import { Buffer } from "node:buffer"
import { posix } from "node:path"
import * as core from "./core.js"
import { type Context, type Sys, Target, target } from "./core.js"
import { errnoOf, hasCode, invalidReturnValue, SystemError } from "./errors.js"
import { Dirent, direntOf, modeOf } from "./stats.js"
import type { Stat } from "../../servers/vfs/VfsProtocol.js"
import type { CpOptions, PathArg, RmdirOptions } from "./validators.js"

/** A name or path in `encoding` (`buffer`: the UTF-8 bytes), as Node returns names. */
export const encoded = (name: string, encoding: unknown): string | Buffer =>
  encoding === "buffer"
    ? Buffer.from(name)
    : encoding === undefined || encoding === null || encoding === "utf8" || encoding === "utf-8" || encoding === false || encoding === ""
      ? name
      : Buffer.from(name).toString(encoding as BufferEncoding)

// --- rm -r ---------------------------------------------------------------------------------------

const notEmpty = new Set(["ENOTEMPTY", "EEXIST", "EPERM"])
const retryable = new Set(["EBUSY", "EMFILE", "ENFILE", "ENOTEMPTY", "EPERM"])
const codeOf = (e: unknown): string | undefined => (e as { code?: string }).code

/** Node's `_rimraf`: removes `path` whatever it is, a directory with everything in it. */
const rimrafOnce = (ctx: Context, path: string): Sys<void> =>
  Effect.gen(function* () {
    const p = new Target(path)
    const st = yield* Effect.either(core.stat(ctx, p, false))
    if (st._tag === "Left" && codeOf(st.left) === "ENOENT") return
    if (st._tag === "Right" && st.right.type === "dir") return yield* rmdirTree(ctx, path, undefined)
    const gone = yield* Effect.either(core.unlink(ctx, p))
    if (gone._tag === "Right") return
    const code = codeOf(gone.left)
    if (code === "ENOENT") return
    if (code === "EISDIR" || code === "EPERM") return yield* rmdirTree(ctx, path, gone.left)
    return yield* Effect.fail(gone.left)
  })

/** Node's `_rmdir` and `_rmchildren`: the directory, or its children (all at once) and then it. */
const rmdirTree = (ctx: Context, path: string, original: unknown): Sys<void> =>
  Effect.catchAll(core.rmdir(ctx, new Target(path)), (e) => {
    if (notEmpty.has(codeOf(e) ?? "")) {
      return Effect.gen(function* () {
        const entries = yield* core.readdir(ctx, new Target(path))
        const results = yield* Effect.forEach(entries, (c) => Effect.either(rimraf(ctx, `${path}/${c.name}`, noRetry)), { concurrency: "unbounded" })
        const failed = results.find((r) => r._tag === "Left")
        if (failed !== undefined && failed._tag === "Left") return yield* Effect.fail(failed.left)
        yield* core.rmdir(ctx, new Target(path))
      })
    }
    if (codeOf(e) === "ENOTDIR" && original !== undefined) return Effect.fail(original)
    return Effect.fail(e)
  })

const noRetry: RmdirOptions = { recursive: true, maxRetries: 0, retryDelay: 0 }

/**
 * How a retry waits `ms`: the asynchronous forms on a timer; the sync forms (`sync`) block the
 * thread, as Node's `rimrafSync` does (its `sleep`) — a timer would need the host, which a sync
 * call cannot wait for.
 */
const retryPause = (ms: number, sync: boolean): Sys<void> =>
  sync
    ? Effect.sync(() => {
        if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
      })
    : Effect.sleep(`${ms} millis`)

/**
 * Node's `rimraf`: `_rimraf` retried on busy errors (`maxRetries`, waiting `retryDelay` × attempt
 * ms, blocking the thread in the sync forms: `sync`); gone already is done.
 */
export const rimraf = (ctx: Context, path: string, options: RmdirOptions, sync = false): Sys<void> => {
  const attempt = (n: number): Sys<void> =>
    Effect.catchAll(rimrafOnce(ctx, path), (e) => {
      if (retryable.has(codeOf(e) ?? "") && n < options.maxRetries) return Effect.zipRight(retryPause((n + 1) * options.retryDelay, sync), attempt(n + 1))
      return codeOf(e) === "ENOENT" ? Effect.void : Effect.fail(e)
    })
  return attempt(0)
}

/** Node's `ERR_FS_EISDIR` for `rm` of a directory without `recursive`. */
export const rmIsDirectory = (path: string): SystemError =>
  new SystemError("ERR_FS_EISDIR", { code: "EISDIR", message: "is a directory", path, syscall: "rm", errno: errnoOf.EISDIR })

/** Node's `rm`: `lstat` first (`ENOENT` passes with `force`; a directory needs `recursive`), then `rimraf`. */
export const rm = (ctx: Context, p: Target, options: RmdirOptions & { readonly force: boolean }, sync = false): Sys<void> =>
  Effect.gen(function* () {
    const st = yield* Effect.either(core.stat(ctx, p, false))
    if (st._tag === "Left" && !(options.force && codeOf(st.left) === "ENOENT")) return yield* Effect.fail(st.left)
    if (st._tag === "Right" && st.right.type === "dir" && !options.recursive) return yield* Effect.fail(rmIsDirectory(p.text))
    yield* rimraf(ctx, p.vfs, options, sync)
  })

// --- realpath ------------------------------------------------------------------------------------

/**
 * Node's JavaScript `realpath` (the callback API's, not `realpath.native`): walks `path` (already
 * resolved against `/`) one component at a time, `lstat` on each, following symbolic links by
 * `stat` then `readlink`; its errors are those calls' (`lstat '/missing'`).
 */
export const realpathJs = (ctx: Context, path: string): Sys<string> =>
  Effect.gen(function* () {
    let p = path
    const seenLinks = new Map<string, string>()
    const knownHard = new Set<string>()
    let current = "/"
    let base = "/"
    let previous = "/"
    let pos = 1
    while (pos < p.length) {
      const next = p.indexOf("/", pos)
      previous = current
      if (next === -1) {
        const last = p.slice(pos)
        current += last
        base = previous + last
        pos = p.length
      } else {
        current += p.slice(pos, next + 1)
        base = previous + p.slice(pos, next)
        pos = next + 1
      }
      if (knownHard.has(base)) continue
      const st = yield* core.stat(ctx, new Target(base), false)
      if (st.type !== "symlink") {
        knownHard.add(base)
        continue
      }
      const id = `${st.dev.toString(32)}:${st.ino.toString(32)}`
      let linkTarget = seenLinks.get(id)
      if (linkTarget === undefined) {
        yield* core.stat(ctx, new Target(base), true)
        linkTarget = yield* core.readlink(ctx, new Target(base))
        seenLinks.set(id, linkTarget)
      }
      p = posix.resolve(posix.resolve(previous, linkTarget), p.slice(pos))
      current = base = "/"
      pos = 1
    }
    return p
  })

// --- readdir -r ----------------------------------------------------------------------------------

/** What `readdir` returns: names (strings or `Buffer`s) or `Dirent`s. */
export type Listing = Array<string | Buffer> | Array<Dirent<string | Buffer>>

/** One directory's listing as Node's `readdir` returns it (`withFileTypes`: `Dirent`s under `parent`). */
export const listing = (ctx: Context, p: Target, parent: string | Uint8Array, encoding: unknown, withFileTypes: boolean): Sys<Listing> =>
  Effect.map(core.readdir(ctx, p), (entries) =>
    withFileTypes ? entries.map((e) => direntOf(encoded(e.name, encoding), e.type, parent)) : entries.map((e) => encoded(e.name, encoding))
  )

/** `path.join` as Node's walk calls it: a `Buffer` name (encoding `buffer`) fails as Node's does, with `ERR_INVALID_ARG_TYPE`. */
const join = (parent: unknown, name: unknown): Sys<string> => Effect.try({ try: () => posix.join(parent as string, name as string), catch: (e) => e })

/** Whether `path` is a directory once links are followed (Node's `internalModuleStat(path) === 1`). */
const isDirectory = (ctx: Context, path: string): Sys<boolean> =>
  Effect.match(core.stat(ctx, new Target(path), true), { onFailure: () => false, onSuccess: (s) => s.type === "dir" })

/**
 * `readdir({ recursive: true })`: every entry under `p`, in the order of the callback and sync
 * forms (`breadthFirst`: Node's queue) or of the promise form (Node's stack); names are relative
 * to `p`. Without `withFileTypes` a link to a directory is descended into, as Node does.
 */
export const readdirRecursive = (ctx: Context, p: Target, encoding: unknown, withFileTypes: boolean, breadthFirst: boolean): Sys<Listing> =>
  Effect.gen(function* () {
    const base = core.resolvePath(p.text)
    const out: Array<unknown> = []
    const pending: Array<{ path: string; entries: Listing }> = [{ path: p.text, entries: yield* listing(ctx, p, p.text, encoding, withFileTypes) }]
    while (pending.length > 0) {
      const { path, entries } = breadthFirst ? pending.shift()! : pending.pop()!
      for (const e of entries) {
        out.push(e)
        if (withFileTypes) {
          const d = e as Dirent<string | Buffer>
          if (!d.isDirectory()) continue
          const child = yield* join(d.parentPath, d.name)
          pending.push({ path: child, entries: yield* listing(ctx, new Target(child), child, encoding, true) })
        } else {
          const child = yield* join(path, e)
          out[out.length - 1] = encoded(posix.relative(base, core.resolvePath(child)), encoding)
          if (yield* isDirectory(ctx, core.resolvePath(child)))
            pending.push({ path: child, entries: yield* listing(ctx, new Target(child), child, encoding, false) })
        }
      }
    }
    return out as Listing
  })

// --- cp --------------------------------------------------------------------------------------------

type CpStat = Stat

const cpError = (
  key:
    "ERR_FS_CP_EINVAL" | "ERR_FS_CP_DIR_TO_NON_DIR" | "ERR_FS_CP_NON_DIR_TO_DIR" | "ERR_FS_CP_EEXIST" | "ERR_FS_CP_SYMLINK_TO_SUBDIRECTORY" | "ERR_FS_EISDIR",
  message: string,
  path: PathArg,
  code: keyof typeof errnoOf
) => new SystemError(key, { message, path: String(path), syscall: "cp", errno: errnoOf[code], code })

const components = (path: PathArg) =>
  core
    .resolvePath(path as string)
    .split("/")
    .filter(Boolean)
/** Node's `isSrcSubdir`: every component of `src` begins `dest` (path strings only). */
const isSrcSubdir = (src: PathArg, dest: PathArg): boolean => {
  const d = components(dest)
  return components(src).every((c, i) => d[i] === c)
}
const identical = (a: CpStat, b: CpStat) => b.ino !== 0 && b.dev !== 0 && a.ino === b.ino && a.dev === b.dev

/** Node's `cpFn` (`sync`: `cpSyncFn`, whose `filter` must not answer with a promise): copies `src` to `dest` with `opts` (checked by `validateCpOptions`). */
export const cp = (ctx: Context, src: PathArg, dest: PathArg, opts: CpOptions, sync = false): Sys<void> => {
  // Paths as given: the VFS gets their text; Node's path functions get them as they are, so a
  // \`Buffer\` path fails where Node's \`path.dirname\` or \`path.join\` fails (see the end).
  type P = PathArg
  const T = (p: P) => (typeof p === "string" ? new Target(p) : target(p))
  const statOf = (path: P, follow: boolean): Sys<CpStat> => core.stat(ctx, T(path), follow)
  const statFn = (path: P) => statOf(path, opts.dereference)
  // The sync form calls the filter where it is (it cannot wait) and refuses a promise, as Node's
  // does. The async form calls it from the host, off the client's kernel fiber, and awaits its
  // answer: the filter is the caller's code, which may call the fs's sync functions, as Node's may.
  const filtered = (s: P, d: P): Sys<boolean> =>
    opts.filter === undefined
      ? Effect.succeed(true)
      : sync
        ? Effect.flatMap(Effect.try({ try: () => opts.filter!(s as string, d as string) as unknown, catch: (e) => e }), (answer) =>
            answer instanceof Promise ? Effect.fail(invalidReturnValue("boolean", "filter", answer)) : Effect.succeed(Boolean(answer))
          )
        : Effect.map(Effect.tryPromise({ try: () => Promise.resolve().then(() => opts.filter!(s as string, d as string)), catch: (e) => e }), Boolean)

  const checkPaths = (s: P, d: P): Sys<{ srcStat: CpStat; destStat: CpStat | undefined } | undefined> =>
    Effect.gen(function* () {
      if (!(yield* filtered(s, d))) return undefined
      const [srcStat, destStat] = yield* Effect.all(
        [statFn(s), Effect.catchAll(statFn(d), (e) => (codeOf(e) === "ENOENT" ? Effect.succeed(undefined) : Effect.fail(e)))],
        { concurrency: 2 }
      )
      if (destStat !== undefined) {
        if (identical(srcStat, destStat)) return yield* Effect.fail(cpError("ERR_FS_CP_EINVAL", "src and dest cannot be the same", d, "EINVAL"))
        if (srcStat.type === "dir" && destStat.type !== "dir")
          return yield* Effect.fail(cpError("ERR_FS_CP_DIR_TO_NON_DIR", `cannot overwrite non-directory ${d} with directory ${s}`, d, "EISDIR"))
        if (srcStat.type !== "dir" && destStat.type === "dir")
          return yield* Effect.fail(cpError("ERR_FS_CP_NON_DIR_TO_DIR", `cannot overwrite directory ${d} with non-directory ${s}`, d, "ENOTDIR"))
      }
      if (srcStat.type === "dir" && isSrcSubdir(s, d))
        return yield* Effect.fail(cpError("ERR_FS_CP_EINVAL", `cannot copy ${s} to a subdirectory of self ${d}`, d, "EINVAL"))
      return { srcStat, destStat }
    })

  const checkParentPaths = (s: P, srcStat: CpStat, d: P): Sys<void> =>
    Effect.gen(function* () {
      const srcParent = core.resolvePath(posix.dirname(s as string))
      const destParent = core.resolvePath(posix.dirname(d as string))
      if (destParent === srcParent || destParent === "/") return
      const st = yield* Effect.either(statOf(destParent, true))
      if (st._tag === "Left") return codeOf(st.left) === "ENOENT" ? undefined : yield* Effect.fail(st.left)
      if (identical(srcStat, st.right)) return yield* Effect.fail(cpError("ERR_FS_CP_EINVAL", `cannot copy ${s} to a subdirectory of self ${d}`, d, "EINVAL"))
      return yield* checkParentPaths(s, srcStat, destParent)
    })

  const chmodTo = (d: P, mode: number) => core.chmod(ctx, T(d), mode)

  const copyFile = (srcStat: CpStat, s: P, d: P): Sys<void> =>
    Effect.gen(function* () {
      yield* core.copyFile(ctx, T(s), T(d), (opts.mode & 1) !== 0)
      const mode = modeOf({ type: srcStat.type, mode: srcStat.mode })
      if (opts.preserveTimestamps) {
        if ((mode & 0o200) === 0) yield* chmodTo(d, mode | 0o200)
        const now = yield* statOf(s, true)
        yield* core.utimes(ctx, T(d), Number(now.atimeNs / 1_000_000n) / 1000, Number(now.mtimeNs / 1_000_000n) / 1000, true)
      }
      yield* chmodTo(d, mode)
    })

  const onFile = (srcStat: CpStat, destStat: CpStat | undefined, s: P, d: P): Sys<void> => {
    if (destStat === undefined) return copyFile(srcStat, s, d)
    if (opts.force) return Effect.zipRight(core.unlink(ctx, T(d)), copyFile(srcStat, s, d))
    if (opts.errorOnExist) return Effect.fail(cpError("ERR_FS_CP_EEXIST", `${d} already exists`, d, "EEXIST"))
    return Effect.void
  }

  const copyDir = (s: P, d: P): Sys<void> =>
    Effect.gen(function* () {
      const entries = yield* core.readdir(ctx, T(s))
      for (const { name } of entries) {
        const si = posix.join(s as string, name)
        const di = posix.join(d as string, name)
        const checked = yield* checkPaths(si, di)
        if (checked !== undefined) yield* forCopy(checked.destStat, si, di)
      }
    })

  const onDir = (srcStat: CpStat, destStat: CpStat | undefined, s: P, d: P): Sys<void> =>
    destStat !== undefined
      ? copyDir(s, d)
      : Effect.gen(function* () {
          const made = yield* Effect.either(core.mkdir(ctx, T(d), 0o777, false))
          if (made._tag === "Left" && !(codeOf(made.left) === "EEXIST" && !opts.errorOnExist)) return yield* Effect.fail(made.left)
          yield* copyDir(s, d)
          yield* chmodTo(d, modeOf({ type: srcStat.type, mode: srcStat.mode }))
        })

  const onLink = (destStat: CpStat | undefined, s: P, d: P): Sys<void> =>
    Effect.gen(function* () {
      let resolvedSrc = yield* core.readlink(ctx, T(s))
      if (!opts.verbatimSymlinks && !posix.isAbsolute(resolvedSrc)) resolvedSrc = core.resolvePath(posix.dirname(s as string), resolvedSrc)
      if (destStat === undefined) return yield* core.symlink(ctx, resolvedSrc, T(d))
      const destLink = yield* Effect.either(core.readlink(ctx, T(d)))
      if (destLink._tag === "Left") {
        if (codeOf(destLink.left) === "EINVAL") return yield* core.symlink(ctx, resolvedSrc, T(d))
        return yield* Effect.fail(destLink.left)
      }
      const resolvedDest = posix.isAbsolute(destLink.right) ? destLink.right : core.resolvePath(posix.dirname(d as string), destLink.right)
      if ((yield* isDirectory(ctx, core.resolvePath(s as string))) && isSrcSubdir(resolvedSrc, resolvedDest))
        return yield* Effect.fail(cpError("ERR_FS_CP_EINVAL", `cannot copy ${resolvedSrc} to a subdirectory of self ${resolvedDest}`, d, "EINVAL"))
      const srcStat = yield* statOf(s, true)
      if (srcStat.type === "dir" && isSrcSubdir(resolvedDest, resolvedSrc))
        return yield* Effect.fail(cpError("ERR_FS_CP_SYMLINK_TO_SUBDIRECTORY", `cannot overwrite ${resolvedDest} with ${resolvedSrc}`, d, "EINVAL"))
      yield* core.unlink(ctx, T(d))
      yield* core.symlink(ctx, resolvedSrc, T(d))
    })

  const forCopy = (destStat: CpStat | undefined, s: P, d: P): Sys<void> =>
    Effect.flatMap(statFn(s), (srcStat) => {
      if (srcStat.type === "dir" && opts.recursive) return onDir(srcStat, destStat, s, d)
      if (srcStat.type === "dir") return Effect.fail(cpError("ERR_FS_EISDIR", `${s} is a directory (not copied)`, s, "EISDIR"))
      if (srcStat.type === "file") return onFile(srcStat, destStat, s, d)
      return onLink(destStat, s, d)
    })

  return Effect.gen(function* () {
    const checked = yield* checkPaths(src, dest)
    if (checked === undefined) return
    yield* checkParentPaths(src, checked.srcStat, dest)
    const parent = posix.dirname(dest as string)
    const exists = yield* Effect.either(statOf(parent, true))
    if (exists._tag === "Left") {
      if (codeOf(exists.left) !== "ENOENT") return yield* Effect.fail(exists.left)
      yield* core.mkdir(ctx, T(parent), 0o777, true)
    }
    yield* forCopy(checked.destStat, src, dest)
  }).pipe(Effect.catchSomeDefect((e) => (hasCode(e, "ERR_INVALID_ARG_TYPE") ? Option.some(Effect.fail(e)) : Option.none())))
}
