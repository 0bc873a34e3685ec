/**
 * Path resolution, xv6's `namei` and `nameiparent`: an absolute path to the node it names, or to
 * the directory that would hold its last component. It walks the mount table and looks each
 * component up in one directory of one file system, following symbolic links and crossing mounts.
 *
 * Written against `NameFs`, the three calls it makes of a file system (`root`, `lookup`,
 * `readlink`), over any view of an inode that tells its number, type, mode and owner: the VFS
 * gives it its cache (`vnodes.ts`), the unit tests a stand-in file system with no kernel.
 *
 * Invariants:
 * - At most `SYMLINK_MAX` symbolic links are followed in one resolution (`ELOOP`).
 * - `..` at a mount's root climbs to the directory the mount covers; `..` at `/` stays at `/`.
 * - A mount covers its path whether or not the parent file system has a directory there.
 * - Search permission is checked on every directory walked, `..` included (`EACCES`), on the
 *   attributes the walk already fetched: no call is added per component.
 * - A failure names the whole path the caller gave and `syscall`, as POSIX reports it.
 */
import { Effect } from "effect"
import { FsProtocol as Fs } from "../../api.js"
import { err } from "./errors.js"
import { join, mustBeDir, split } from "./path.js"
import { type Credentials, permits, W_OK, X_OK } from "./permissions.js"
import { PATH_MAX, SYMLINK_MAX } from "./VfsProtocol.js"

const { FsError } = Fs
type FsError = Fs.FsError

/** What resolution reads of an inode: its number, type, and the mode and owner its permission checks need. */
export interface Inode {
  readonly ino: number
  readonly type: Fs.FileType
  readonly mode: number
  readonly uid: number
  readonly gid: number
}

/**
 * The calls resolution makes of a mounted file system. Failures are the file system's codes (a
 * lost server: `EIO`). The `…Now` forms answer without a call when they can (a cache), else
 * `undefined`: a walk that every step answers now is synchronous, no Effect at all.
 */
export interface NameFs<V extends Inode, R> {
  /** The root directory. */
  readonly root: () => Effect.Effect<V, FsError, R>
  /** Entry `name` of directory `dir` (`ENOENT` when there is none). */
  readonly lookup: (dir: V, name: string) => Effect.Effect<V, FsError, R>
  /** The target of the symbolic link `link`. */
  readonly readlink: (link: V) => Effect.Effect<string, FsError, R>
  readonly rootNow?: () => V | FsError | undefined
  readonly lookupNow?: (dir: V, name: string) => V | FsError | undefined
  readonly readlinkNow?: (link: V) => string | undefined
}

/** A mount: the normalised path it covers, its device number, and its file system's names. */
export interface Mount<V extends Inode, R> {
  readonly path: string
  readonly dev: number
  readonly names: NameFs<V, R>
}

/** A point of the namespace: an inode of a mount, reached by the real path `path` through the directory `parent` (none for `/`). */
export interface Node<M, V> {
  readonly mount: M
  readonly inode: V
  readonly path: string
  readonly parent?: Node<M, V> | undefined
}

/** A result now, or, when a step needed a call, an Effect that gives it (never failing: a failure is the `FsError` it gives). */
export type Soon<A, R> = A | FsError | Effect.Effect<A | FsError, never, R>

/** `f` applied to what `s` gives (a value or its `FsError`), now or later. */
export const fold = <A, B, R>(s: Soon<A, R>, f: (a: A | FsError) => Soon<B, R>): Soon<B, R> =>
  // An FsError is an Effect too (a yieldable error): test it first.
  s instanceof FsError ? f(s) : Effect.isEffect(s) ? Effect.flatMap(s as Effect.Effect<A | FsError, never, R>, (x) => later(f(x))) : f(s as A)

/** `f` applied to what `s` gives, now or later; an `FsError` passes through. (Not named `then`: a module exporting `then` is a thenable.) */
export const chain = <A, B, R>(s: Soon<A, R>, f: (a: A) => Soon<B, R>): Soon<B, R> => fold(s, (x) => (x instanceof FsError ? x : f(x)))

/** `s` as an Effect that fails with its `FsError`. */
export const later = <A, R>(s: Soon<A, R>): Effect.Effect<A | FsError, never, R> =>
  s instanceof FsError ? Effect.succeed(s) : Effect.isEffect(s) ? (s as Effect.Effect<A | FsError, never, R>) : Effect.succeed(s as A)

/** `s` as an Effect that fails with its `FsError`. */
export const settled = <A, R>(s: Soon<A, R>): Effect.Effect<A, FsError, R> =>
  s instanceof FsError
    ? Effect.fail(s)
    : Effect.isEffect(s)
      ? Effect.flatMap(s as Effect.Effect<A | FsError, never, R>, (x) => (x instanceof FsError ? Effect.fail(x) : Effect.succeed(x as A)))
      : Effect.succeed(s as A)

/** Resolution over one mount table. */
export interface Resolver<M, V, R> {
  /**
   * `namei`: `path` resolved for a caller with credentials `c`, every symbolic link followed, the
   * last one too when `follow` (or when the path ends in `/`). Errors, naming `syscall` and
   * `path`: `ENOENT` (a relative path, a missing component), `ENAMETOOLONG`, `ENOTDIR`, `EACCES`
   * (no search permission on a directory walked), `ELOOP`, or the file system's code. Now when
   * every step is answered now.
   */
  readonly resolve: (c: Credentials, path: string, follow: boolean, syscall: string) => Soon<Node<M, V>, R>
  /**
   * `nameiparent`: the directory that would hold the last component of `path`, and that
   * component. A failure to resolve the directory names `path` itself. With `change`, the caller
   * must also be able to write and search the directory (`EACCES`): what creating, removing or
   * renaming an entry needs. Errors besides `resolve`'s: `EBUSY` (`/`, or a mount point as last
   * component), `EINVAL` (last component `.` or `..`), `ENOTDIR`.
   */
  readonly parentOf: (c: Credentials, path: string, syscall: string, change: boolean) => Soon<{ readonly dir: Node<M, V>; readonly name: string }, R>
}

/** What a walk asks of a mount's file system at one step: its root, an entry of a directory, or a link's target. */
class Ask<M, V> {
  kind: 0 | 1 | 2 = 0
  mount: M
  inode: V | undefined = undefined
  name = ""
  constructor(mount: M) {
    this.mount = mount
  }
  root(m: M): this {
    this.kind = 0
    this.mount = m
    return this
  }
  lookup(m: M, dir: V, name: string): this {
    this.kind = 1
    this.mount = m
    this.inode = dir
    this.name = name
    return this
  }
  readlink(m: M, link: V): this {
    this.kind = 2
    this.mount = m
    this.inode = link
    return this
  }
}

/**
 * Resolution over `mounts` (by normalised path; one at `/`, which is `root`). The table is read,
 * never changed.
 */
export const resolver = <V extends Inode, R, M extends Mount<V, R>>(mounts: ReadonlyMap<string, M>, root: M): Resolver<M, V, R> => {
  /** The walk, as a plain generator: it yields what it needs of a file system and is given the answer (or its `FsError`). */
  function* walk(c: Credentials, path: string, follow: boolean, syscall: string): Generator<Ask<M, V>, Node<M, V> | FsError, unknown> {
    if (path.length === 0 || path[0] !== "/") return err("ENOENT", syscall, path)
    if (path.length > PATH_MAX) return err("ENAMETOOLONG", syscall, path)
    const ask = new Ask<M, V>(root)
    const dirOnly = mustBeDir(path)
    const top = yield ask.root(root)
    if (top instanceof FsError) return err(top.code, syscall, path)
    const first: Node<M, V> = { mount: root, inode: top as V, path: "/" }
    let stack: Array<Node<M, V>> = [first]
    const pending = split(path)
    let links = 0
    while (pending.length > 0) {
      const part = pending.shift()!
      const cur = stack[stack.length - 1]!
      if (part === "..") {
        if (cur.inode.type === "dir" && !permits(c, cur.inode, X_OK)) return err("EACCES", syscall, path)
        if (stack.length > 1) stack.pop()
        continue
      }
      if (cur.inode.type !== "dir") return err("ENOTDIR", syscall, path)
      if (!permits(c, cur.inode, X_OK)) return err("EACCES", syscall, path)
      const at = join(cur.path, part)
      const mounted = mounts.get(at)
      if (mounted !== undefined) {
        const r = yield ask.root(mounted)
        if (r instanceof FsError) return err(r.code, syscall, path)
        stack.push({ mount: mounted, inode: r as V, path: at, parent: cur })
        continue
      }
      const found = yield ask.lookup(cur.mount, cur.inode, part)
      if (found instanceof FsError) return err(found.code, syscall, path)
      const a = found as V
      if (a.type === "symlink" && (pending.length > 0 || follow || dirOnly)) {
        if (++links > SYMLINK_MAX) return err("ELOOP", syscall, path)
        const target = yield ask.readlink(cur.mount, a)
        if (target instanceof FsError) return err(target.code, syscall, path)
        pending.unshift(...split(target as string))
        if ((target as string).startsWith("/")) stack = [first]
        continue
      }
      stack.push({ mount: cur.mount, inode: a, path: at, parent: cur })
    }
    const node = stack[stack.length - 1]!
    if (dirOnly && node.inode.type !== "dir") return err("ENOTDIR", syscall, path)
    return node
  }

  /** The answer to `ask` without a call, if there is one. */
  const now = (ask: Ask<M, V>): unknown => {
    const names = ask.mount.names
    return ask.kind === 0 ? names.rootNow?.() : ask.kind === 1 ? names.lookupNow?.(ask.inode!, ask.name) : names.readlinkNow?.(ask.inode!)
  }

  /** The call that answers `ask`, its failure as its value. */
  const call = (ask: Ask<M, V>): Effect.Effect<unknown, never, R> => {
    const names = ask.mount.names
    const e: Effect.Effect<unknown, FsError, R> =
      ask.kind === 0 ? names.root() : ask.kind === 1 ? names.lookup(ask.inode!, ask.name) : names.readlink(ask.inode!)
    return Effect.merge(e)
  }

  /** Runs the walk on from `answer`: synchronously while every step is answered now, then by calls. */
  const drive = (g: Generator<Ask<M, V>, Node<M, V> | FsError, unknown>, answer: unknown): Soon<Node<M, V>, R> => {
    let r = g.next(answer)
    while (!r.done) {
      const ask = r.value
      const known = now(ask)
      if (known === undefined) return Effect.flatMap(call(ask), (x) => later(drive(g, x)))
      r = g.next(known)
    }
    return r.value
  }

  const resolve = (c: Credentials, path: string, follow: boolean, syscall: string): Soon<Node<M, V>, R> => drive(walk(c, path, follow, syscall), undefined)

  const parentOf = (c: Credentials, path: string, syscall: string, change: boolean): Soon<{ readonly dir: Node<M, V>; readonly name: string }, R> => {
    if (path.length === 0 || path[0] !== "/") return err("ENOENT", syscall, path)
    const parts = path.split("/").filter((c) => c !== "")
    const name = parts.pop()
    if (name === undefined || name === "." || name === "..") return err(name === undefined ? "EBUSY" : "EINVAL", syscall, path)
    return fold(resolve(c, "/" + parts.join("/"), true, syscall), (dir): { readonly dir: Node<M, V>; readonly name: string } | FsError => {
      if (dir instanceof FsError) return err(dir.code, syscall, path)
      if (dir.inode.type !== "dir") return err("ENOTDIR", syscall, path)
      if (mounts.has(join(dir.path, name))) return err("EBUSY", syscall, path)
      if (change && !permits(c, dir.inode, W_OK | X_OK)) return err("EACCES", syscall, path)
      return { dir, name }
    })
  }

  return { resolve, parentOf }
}
