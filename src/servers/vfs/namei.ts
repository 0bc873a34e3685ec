/**
 * Path resolution, xv6's `namei` and `nameiparent`: an absolute path to the node it names, or to
 * the directory that would hold its last component. It walks the mount table and looks each
 * component up in one directory of one file system, following symbolic links and crossing mounts.
 *
 * Written against `NameFs`, the three calls it makes of a file system (`root`, `lookup`,
 * `readlink`), so it runs against a stand-in file system with no kernel (its unit tests do).
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
import type { FsProtocol as Fs } from "../../api.js"
import { err } from "./errors.js"
import { join, mustBeDir, split } from "./path.js"
import { type Credentials, permits, W_OK, X_OK } from "./permissions.js"
import { PATH_MAX, SYMLINK_MAX } from "./VfsProtocol.js"

type FsError = Fs.FsError
type Attr = Fs.Attr

/** The calls resolution makes of a mounted file system. Failures are the file system's codes (a lost server: `EIO`). */
export interface NameFs<R> {
  /** The root directory's attributes. */
  readonly root: () => Effect.Effect<Attr, FsError, R>
  /** The attributes of entry `name` of directory `dir` (`ENOENT` when there is none). */
  readonly lookup: (dir: number, name: string) => Effect.Effect<Attr, FsError, R>
  /** The target of the symbolic link `ino`. */
  readonly readlink: (ino: number) => Effect.Effect<string, FsError, R>
}

/**
 * A mount: the normalised path it covers, its device number, and its file system. `root` caches
 * the root directory's attributes (owned by the VFS's workers; whoever changes the root's mode or
 * owner through the VFS replaces it).
 */
export interface Mount<R> {
  readonly path: string
  readonly dev: number
  readonly names: NameFs<R>
  root: Attr | undefined
}

/** A point of the namespace: an inode of a mount, reached by the real path `path`. */
export interface Node<M> {
  readonly mount: M
  readonly attr: Attr
  readonly path: string
}

/** Resolution over one mount table. */
export interface Resolver<M, R> {
  /** The root attributes of `m` (fetched once, then cached in the mount). */
  readonly rootOf: (m: M) => Effect.Effect<Attr, FsError, R>
  /**
   * `namei`: `path` resolved for a caller with credentials `c`, every symbolic link followed, the
   * last one too when `follow` (or when the path ends in `/`). Errors, naming `syscall` and
   * `path`: `ENOENT` (a relative path, a missing component), `ENAMETOOLONG`, `ENOTDIR`, `EACCES`
   * (no search permission on a directory walked), `ELOOP`, or the file system's code.
   */
  readonly resolve: (c: Credentials, path: string, follow: boolean, syscall: string) => Effect.Effect<Node<M>, FsError, R>
  /**
   * `nameiparent`: the directory that would hold the last component of `path`, and that
   * component. A failure to resolve the directory names `path` itself. With `change`, the caller
   * must also be able to write and search the directory (`EACCES`): what creating, removing or
   * renaming an entry needs. Errors besides `resolve`'s: `EBUSY` (`/`, or a mount point as last
   * component), `EINVAL` (last component `.` or `..`), `ENOTDIR`.
   */
  readonly parentOf: (
    c: Credentials,
    path: string,
    syscall: string,
    change: boolean
  ) => Effect.Effect<{ readonly dir: Node<M>; readonly name: string }, FsError, R>
}

/**
 * Resolution over `mounts` (by normalised path; one at `/`, which is `root`). The table is read,
 * never changed.
 */
export const resolver = <R, M extends Mount<R>>(mounts: ReadonlyMap<string, M>, root: M): Resolver<M, R> => {
  const rootOf = (m: M): Effect.Effect<Attr, FsError, R> =>
    m.root !== undefined ? Effect.succeed(m.root) : Effect.tap(m.names.root(), (a) => Effect.sync(() => (m.root = a)))

  const resolve = (c: Credentials, path: string, follow: boolean, syscall: string): Effect.Effect<Node<M>, FsError, R> =>
    Effect.gen(function* () {
      if (path.length === 0 || path[0] !== "/") return yield* Effect.fail(err("ENOENT", syscall, path))
      if (path.length > PATH_MAX) return yield* Effect.fail(err("ENAMETOOLONG", syscall, path))
      const dirOnly = mustBeDir(path)
      const first: Node<M> = { mount: root, attr: yield* rootOf(root), path: "/" }
      let stack: Array<Node<M>> = [first]
      const pending = split(path)
      let links = 0
      while (pending.length > 0) {
        const part = pending.shift()!
        const cur = stack[stack.length - 1]!
        if (part === "..") {
          if (cur.attr.type === "dir" && !permits(c, cur.attr, X_OK)) return yield* Effect.fail(err("EACCES", syscall, path))
          if (stack.length > 1) stack.pop()
          continue
        }
        if (cur.attr.type !== "dir") return yield* Effect.fail(err("ENOTDIR", syscall, path))
        if (!permits(c, cur.attr, X_OK)) return yield* Effect.fail(err("EACCES", syscall, path))
        const mounted = mounts.get(join(cur.path, part))
        if (mounted !== undefined) {
          stack.push({ mount: mounted, attr: yield* rootOf(mounted), path: join(cur.path, part) })
          continue
        }
        const a = yield* Effect.mapError(cur.mount.names.lookup(cur.attr.ino, part), (e) => err(e.code, syscall, path))
        if (a.type === "symlink" && (pending.length > 0 || follow || dirOnly)) {
          if (++links > SYMLINK_MAX) return yield* Effect.fail(err("ELOOP", syscall, path))
          const target = yield* Effect.mapError(cur.mount.names.readlink(a.ino), (e) => err(e.code, syscall, path))
          pending.unshift(...split(target))
          if (target.startsWith("/")) stack = [first]
          continue
        }
        stack.push({ mount: cur.mount, attr: a, path: join(cur.path, part) })
      }
      const node = stack[stack.length - 1]!
      if (dirOnly && node.attr.type !== "dir") return yield* Effect.fail(err("ENOTDIR", syscall, path))
      return node
    })

  const parentOf = (
    c: Credentials,
    path: string,
    syscall: string,
    change: boolean
  ): Effect.Effect<{ readonly dir: Node<M>; readonly name: string }, FsError, R> =>
    Effect.gen(function* () {
      if (path.length === 0 || path[0] !== "/") return yield* Effect.fail(err("ENOENT", syscall, path))
      const parts = path.split("/").filter((c) => c !== "")
      const name = parts.pop()
      if (name === undefined || name === "." || name === "..") return yield* Effect.fail(err(name === undefined ? "EBUSY" : "EINVAL", syscall, path))
      const dir = yield* Effect.mapError(resolve(c, "/" + parts.join("/"), true, syscall), (e) => err(e.code, syscall, path))
      if (dir.attr.type !== "dir") return yield* Effect.fail(err("ENOTDIR", syscall, path))
      if (mounts.has(join(dir.path, name))) return yield* Effect.fail(err("EBUSY", syscall, path))
      if (change && !permits(c, dir.attr, W_OK | X_OK)) return yield* Effect.fail(err("EACCES", syscall, path))
      return { dir, name }
    })

  return { rootOf, resolve, parentOf }
}
