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
import type { FsProtocol as Fs } from "../../api.js"
import { err } from "./errors.js"
import { join, mustBeDir, split } from "./path.js"
import { type Credentials, permits, W_OK, X_OK } from "./permissions.js"
import { PATH_MAX, SYMLINK_MAX } from "./VfsProtocol.js"

type FsError = Fs.FsError

/** What resolution reads of an inode: its number, type, and the mode and owner its permission checks need. */
export interface Inode {
  readonly ino: number
  readonly type: Fs.FileType
  readonly mode: number
  readonly uid: number
  readonly gid: number
}

/** The calls resolution makes of a mounted file system. Failures are the file system's codes (a lost server: `EIO`). */
export interface NameFs<V extends Inode, R> {
  /** The root directory. */
  readonly root: () => Effect.Effect<V, FsError, R>
  /** Entry `name` of directory `dir` (`ENOENT` when there is none). */
  readonly lookup: (dir: V, name: string) => Effect.Effect<V, FsError, R>
  /** The target of the symbolic link `link`. */
  readonly readlink: (link: V) => Effect.Effect<string, FsError, R>
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

/** Resolution over one mount table. */
export interface Resolver<M, V, R> {
  /**
   * `namei`: `path` resolved for a caller with credentials `c`, every symbolic link followed, the
   * last one too when `follow` (or when the path ends in `/`). Errors, naming `syscall` and
   * `path`: `ENOENT` (a relative path, a missing component), `ENAMETOOLONG`, `ENOTDIR`, `EACCES`
   * (no search permission on a directory walked), `ELOOP`, or the file system's code.
   */
  readonly resolve: (c: Credentials, path: string, follow: boolean, syscall: string) => Effect.Effect<Node<M, V>, FsError, R>
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
  ) => Effect.Effect<{ readonly dir: Node<M, V>; readonly name: string }, FsError, R>
}

/**
 * Resolution over `mounts` (by normalised path; one at `/`, which is `root`). The table is read,
 * never changed.
 */
export const resolver = <V extends Inode, R, M extends Mount<V, R>>(mounts: ReadonlyMap<string, M>, root: M): Resolver<M, V, R> => {
  const resolve = (c: Credentials, path: string, follow: boolean, syscall: string): Effect.Effect<Node<M, V>, FsError, R> =>
    Effect.gen(function* () {
      if (path.length === 0 || path[0] !== "/") return yield* Effect.fail(err("ENOENT", syscall, path))
      if (path.length > PATH_MAX) return yield* Effect.fail(err("ENAMETOOLONG", syscall, path))
      const dirOnly = mustBeDir(path)
      const first: Node<M, V> = { mount: root, inode: yield* root.names.root(), path: "/" }
      let stack: Array<Node<M, V>> = [first]
      const pending = split(path)
      let links = 0
      while (pending.length > 0) {
        const part = pending.shift()!
        const cur = stack[stack.length - 1]!
        if (part === "..") {
          if (cur.inode.type === "dir" && !permits(c, cur.inode, X_OK)) return yield* Effect.fail(err("EACCES", syscall, path))
          if (stack.length > 1) stack.pop()
          continue
        }
        if (cur.inode.type !== "dir") return yield* Effect.fail(err("ENOTDIR", syscall, path))
        if (!permits(c, cur.inode, X_OK)) return yield* Effect.fail(err("EACCES", syscall, path))
        const mounted = mounts.get(join(cur.path, part))
        if (mounted !== undefined) {
          stack.push({ mount: mounted, inode: yield* mounted.names.root(), path: join(cur.path, part), parent: cur })
          continue
        }
        const a = yield* Effect.mapError(cur.mount.names.lookup(cur.inode, part), (e) => err(e.code, syscall, path))
        if (a.type === "symlink" && (pending.length > 0 || follow || dirOnly)) {
          if (++links > SYMLINK_MAX) return yield* Effect.fail(err("ELOOP", syscall, path))
          const target = yield* Effect.mapError(cur.mount.names.readlink(a), (e) => err(e.code, syscall, path))
          pending.unshift(...split(target))
          if (target.startsWith("/")) stack = [first]
          continue
        }
        stack.push({ mount: cur.mount, inode: a, path: join(cur.path, part), parent: cur })
      }
      const node = stack[stack.length - 1]!
      if (dirOnly && node.inode.type !== "dir") return yield* Effect.fail(err("ENOTDIR", syscall, path))
      return node
    })

  const parentOf = (
    c: Credentials,
    path: string,
    syscall: string,
    change: boolean
  ): Effect.Effect<{ readonly dir: Node<M, V>; readonly name: string }, FsError, R> =>
    Effect.gen(function* () {
      if (path.length === 0 || path[0] !== "/") return yield* Effect.fail(err("ENOENT", syscall, path))
      const parts = path.split("/").filter((c) => c !== "")
      const name = parts.pop()
      if (name === undefined || name === "." || name === "..") return yield* Effect.fail(err(name === undefined ? "EBUSY" : "EINVAL", syscall, path))
      const dir = yield* Effect.mapError(resolve(c, "/" + parts.join("/"), true, syscall), (e) => err(e.code, syscall, path))
      if (dir.inode.type !== "dir") return yield* Effect.fail(err("ENOTDIR", syscall, path))
      if (mounts.has(join(dir.path, name))) return yield* Effect.fail(err("EBUSY", syscall, path))
      if (change && !permits(c, dir.inode, W_OK | X_OK)) return yield* Effect.fail(err("EACCES", syscall, path))
      return { dir, name }
    })

  return { resolve, parentOf }
}
