/**
 * The VFS's cache of one mount: a vnode per inode it has met (Minix's VFS vnode table), holding
 * the inode's attributes, the target of a symbolic link, the count of descriptors open on it, and,
 * for a directory, the names looked up in it (Linux's dcache, positive and negative entries). It
 * is the `NameFs` that path resolution walks, so a walk through cached names makes no call.
 *
 * Why it can be exact: only the VFS holds a capability to a file system, so every change reaches
 * the file system through the VFS, which updates or drops what the change touched when the
 * change's answer arrives. Answers can overtake one another on the way back (many VFS threads, one
 * file-system thread), so an answer about a vnode is installed only if no change of that vnode was
 * answered while it was on its way: the mount's clock (`clock`, advanced by `settle` at each
 * change's answer) is stamped on each vnode a change touches (`changedAt`), and an answer fetched
 * at `at` is kept only where the stamp is not later. A change that touches an inode the cache has
 * no vnode for (another name of it was removed), or a flush, stamps the mount (`unknownAt`): a
 * new vnode's attributes are kept only if that stamp is not later either. An answer fetched across
 * a change may predate it, and is used once but not kept.
 *
 * Invariants (a vnode is owned by the VFS's threads):
 * - One vnode per inode number while the mount's cache knows the inode: descriptors hold vnodes.
 * - `state` says what of `attr` is current: `ALL`, `OWNER` (type, mode and owner only — after a
 *   read, a write or an entry change moved the times, size or links), or `NONE` (fetch first).
 * - `opens` counts every client's descriptors. The file system counts `held` opens for the VFS:
 *   at least one while `opens > 0`. An inode whose last link went is released (and forgotten) as
 *   soon as its last descriptor closes; a linked one stays held while idle, at most `MAX_IDLE`
 *   of them (the oldest idle one is released beyond), so reopening it costs no call.
 * - At most `MAX_VNODES` vnodes: beyond, every vnode no descriptor, hold or watch keeps is
 *   forgotten with every name (a flush: exact, since what is not cached is fetched).
 * - A vnode the VFS knows to be gone is `dead`: names that still lead to it count as unknown.
 */
import { Effect } from "effect"
import { FsProtocol as Fs } from "../../api.js"
import type { Inode, NameFs } from "./namei.js"

const { FsError } = Fs
type FsError = Fs.FsError
type Attr = Fs.Attr
type FileType = Fs.FileType

/** Vnodes a mount's cache keeps at most before it flushes (see the module invariants). */
export const MAX_VNODES = 16384
/** Idle vnodes (no descriptor) the VFS keeps held at a file system at most. */
export const MAX_IDLE = 1024

/** `state`: every attribute current. */
export const ALL = 2
/** `state`: type, mode and owner current; times, size, blocks and links may have moved. */
export const OWNER = 1
/** `state`: nothing current; fetch the attributes before use. */
export const NONE = 0

/** The calls the cache makes of a file system (the VFS maps transport failures to `EIO`). */
export interface CacheFs<R> {
  readonly root: () => Effect.Effect<Attr, FsError, R>
  readonly lookup: (dir: number, name: string) => Effect.Effect<Attr, FsError, R>
  readonly getattr: (ino: number) => Effect.Effect<Attr, FsError, R>
  readonly readlink: (ino: number) => Effect.Effect<string, FsError, R>
  /** Gives back one open the file system counts for the VFS. */
  readonly release: (ino: number) => Effect.Effect<void, FsError, R>
  /** Whether the file system's server lives: checked before answering from the cache (a dead mount answers `EIO`). */
  readonly alive: () => boolean
}

/** What the VFS knows of one inode. */
export class Vnode implements Inode {
  /** The attributes last answered; what of them is current is `state`. */
  attr: Attr
  state: number
  /** Names looked up in this directory: the vnode, or `null` for a name known to be absent. */
  names: Map<string, Vnode | null> | undefined = undefined
  /** A symbolic link's target once read (a link's target never changes). */
  target: string | undefined = undefined
  /** Descriptors open on the inode, every client's. */
  opens = 0
  /** Opens the file system counts for the VFS. */
  held = 0
  /** The file system said the inode's last link went. */
  unlinked = false
  /** Out of the table: the inode is gone (released, removed, the file system said so) or was forgotten by a flush. */
  dead = false
  /** Watches on the inode (`watches.ts`): a watched vnode is never forgotten by a flush, so its watches keep finding it. */
  watches = 0
  /** The clock of the last change answered that touched this vnode (its attributes or, for a directory, its entries). */
  changedAt = 0

  constructor(
    readonly ino: number,
    readonly type: FileType,
    attr: Attr,
    state: number
  ) {
    this.attr = attr
    this.state = state
  }

  get mode(): number {
    return this.attr.mode
  }
  get uid(): number {
    return this.attr.uid
  }
  get gid(): number {
    return this.attr.gid
  }
}

/** The answer of a name the cache knows to be absent (one value for all: an error is never changed once made). */
const NO_ENTRY = new FsError({ code: "ENOENT" })
/** The answer of a mount whose server is gone. */
const GONE = new FsError({ code: "EIO" })

/** A change of a mount, answered: the clock when it began, and its own number on the clock. */
export interface Change {
  readonly at: number
  readonly seq: number
}

/** The cache of one mount. */
export class MountCache<R> implements NameFs<Vnode, R> {
  private readonly vnodes = new Map<number, Vnode>()
  /** Held vnodes with no descriptor, oldest first. */
  private readonly idle = new Set<Vnode>()
  private top: Vnode | undefined = undefined
  /** Changes of this mount answered so far: the freshness clock. */
  private changes = 0
  /** The clock of the last change that touched an inode with no vnode, or of the last flush. */
  private unknownAt = 0

  constructor(
    private readonly fs: CacheFs<R>,
    private readonly maxVnodes = MAX_VNODES,
    private readonly maxIdle = MAX_IDLE
  ) {}

  /** The clock to hand to `settle` when a change's answer arrives (read it before the change's call). */
  get clock(): number {
    return this.changes
  }

  /** Vnodes cached now (for tests and statistics). */
  get size(): number {
    return this.vnodes.size
  }

  /** A change begun at clock `at` was answered (or failed): advances the clock; the change, to hand to what updates the cache. */
  settle(at: number): Change {
    return { at, seq: ++this.changes }
  }

  /** Whether an answer about `v` (undefined: an inode with no vnode yet) fetched at `at` may be kept: nothing touched it since. */
  private fresh(v: Vnode | undefined, at: number): boolean {
    return v === undefined || v.dead ? this.unknownAt <= at : v.changedAt <= at
  }

  /** Stamps `v` (undefined: an inode with no vnode) as touched by change `seq`. */
  private stamp(v: Vnode | undefined, seq: number): void {
    if (v === undefined || v.dead) this.unknownAt = seq
    else v.changedAt = seq
  }

  // --- what resolution calls -------------------------------------------------------------------

  readonly rootNow = (): Vnode | FsError | undefined => {
    if (!this.fs.alive()) return GONE
    const top = this.top
    return top !== undefined && !top.dead && top.state >= OWNER ? top : undefined
  }

  readonly root = (): Effect.Effect<Vnode, FsError, R> => {
    const known = this.rootNow()
    if (known !== undefined) return known instanceof FsError ? Effect.fail(known) : Effect.succeed(known)
    const at = this.changes
    return Effect.map(this.fs.root(), (a) => (this.top = this.known(a, at)))
  }

  readonly lookupNow = (dir: Vnode, name: string): Vnode | FsError | undefined => {
    const hit = dir.names?.get(name)
    if (hit === null) return NO_ENTRY
    return hit !== undefined && !hit.dead && hit.state >= OWNER ? hit : undefined
  }

  readonly lookup = (dir: Vnode, name: string): Effect.Effect<Vnode, FsError, R> => {
    const known = this.lookupNow(dir, name)
    if (known !== undefined) return known instanceof FsError ? Effect.fail(known) : Effect.succeed(known)
    const hit = dir.names?.get(name)
    if (hit !== undefined && hit !== null && !hit.dead) return this.refresh(hit)
    const at = this.changes
    return Effect.matchEffect(this.fs.lookup(dir.ino, name), {
      onFailure: (e) => {
        if (e.code === "ENOENT" && !dir.dead && dir.changedAt <= at) this.namesOf(dir).set(name, null)
        return Effect.fail(e)
      },
      onSuccess: (a) => {
        const v = this.known(a, at)
        if (!dir.dead && dir.changedAt <= at) this.namesOf(dir).set(name, v)
        return Effect.succeed(v)
      }
    })
  }

  readonly readlinkNow = (link: Vnode): string | undefined => link.target

  readonly readlink = (link: Vnode): Effect.Effect<string, FsError, R> =>
    link.target !== undefined
      ? Effect.succeed(link.target)
      : Effect.map(this.fs.readlink(link.ino), (t) => {
          link.target = t
          return t
        })

  /** Every current attribute of `v` when the cache has them (`undefined`: a call is needed), or `EIO` for a dead mount. */
  attrNow(v: Vnode): Attr | FsError | undefined {
    if (!this.fs.alive()) return GONE
    return v.state === ALL ? v.attr : undefined
  }

  /** Every current attribute of `v` (a call when the cache has them not). Errors: `ENOENT` (the inode is gone), `EIO`. */
  attrOf(v: Vnode): Effect.Effect<Attr, FsError, R> {
    const known = this.attrNow(v)
    if (known !== undefined) return known instanceof FsError ? Effect.fail(known) : Effect.succeed(known)
    return Effect.map(this.refresh(v), (w) => w.attr)
  }

  /** Fetches the attributes of `v` again. */
  private refresh(v: Vnode): Effect.Effect<Vnode, FsError, R> {
    const at = this.changes
    return Effect.matchEffect(this.fs.getattr(v.ino), {
      onFailure: (e) => {
        if (e.code === "ENOENT") this.bury(v)
        return Effect.fail(e)
      },
      onSuccess: (a) => Effect.succeed(this.known(a, at))
    })
  }

  /**
   * The vnode of `a`'s inode, made if new. `a` (fetched at clock `at`) becomes its attributes when
   * nothing touched the inode since; otherwise it is kept only where nothing better is known,
   * marked `NONE`.
   */
  private known(a: Attr, at: number): Vnode {
    let v = this.vnodes.get(a.ino)
    const fresh = this.fresh(v, at)
    if (v === undefined || v.dead) {
      if (this.vnodes.size >= this.maxVnodes) this.flush()
      v = new Vnode(a.ino, a.type, a, fresh ? ALL : NONE)
      this.vnodes.set(a.ino, v)
    } else if (fresh) {
      v.attr = a
      v.state = ALL
    } else if (v.state === NONE) v.attr = a
    return v
  }

  private namesOf(dir: Vnode): Map<string, Vnode | null> {
    return (dir.names ??= new Map())
  }

  // --- what changes tell it ----------------------------------------------------------------------

  /** Change `c` moved `v`'s times, size or links (a read, a write, an entry change of a directory). */
  touched(v: Vnode, c: Change): void {
    if (v.state === ALL) v.state = OWNER
    this.stamp(v, c.seq)
  }

  /** Change `c` answered `a`, the attributes of `v` after it (`setattr`, `truncate`, `open`). */
  replaced(v: Vnode, a: Attr, c: Change): void {
    if (this.fresh(v, c.at)) {
      v.attr = a
      v.state = ALL
    } else v.state = NONE
    this.stamp(v, c.seq)
  }

  /** By change `c`, `name` in `dir` now names the inode of `a` (a create, `mkdir`, `symlink`, `link`); its vnode. */
  entered(dir: Vnode, name: string, a: Attr, c: Change): Vnode {
    const namesFresh = dir.changedAt <= c.at
    this.touched(dir, c)
    const v = this.known(a, c.at)
    this.stamp(v, c.seq)
    if (namesFresh && !dir.dead) this.namesOf(dir).set(name, v)
    else dir.names?.delete(name)
    return v
  }

  /** What `name` of `dir` names is unknown now (an answer showed the cache wrong: `EEXIST`, `ESTALE`). */
  forget(dir: Vnode, name: string): void {
    dir.names?.delete(name)
  }

  /** By change `c`, `name` of `dir` was removed (`unlink`, `rmdir`), leaving `r`; the releases that are now due. */
  removed(dir: Vnode, name: string, r: Fs.Removed, c: Change): Effect.Effect<void, FsError, R> {
    const namesFresh = dir.changedAt <= c.at
    this.touched(dir, c)
    if (namesFresh && !dir.dead) this.namesOf(dir).set(name, null)
    else dir.names?.delete(name)
    return this.lost(r, c)
  }

  /** By change `c`, `fromName` of `from` moved to `toName` of `to` (inode `ino`), replacing `replaced`; the releases now due. */
  renamed(from: Vnode, fromName: string, to: Vnode, toName: string, ino: number, replaced: Fs.Removed | null, c: Change): Effect.Effect<void, FsError, R> {
    const namesFresh = from.changedAt <= c.at && to.changedAt <= c.at
    this.touched(from, c)
    this.touched(to, c)
    const moved = this.vnodes.get(ino)
    if (moved === undefined || moved.dead) this.stamp(undefined, c.seq)
    else this.touched(moved, c)
    if (namesFresh && moved !== undefined && !moved.dead && !from.dead && !to.dead) {
      this.namesOf(from).set(fromName, null)
      this.namesOf(to).set(toName, moved)
    } else {
      from.names?.delete(fromName)
      to.names?.delete(toName)
    }
    return replaced === null ? Effect.void : this.lost(replaced, c)
  }

  /** An inode lost a link (`r`) by change `c`: its links moved; with none left it goes once no descriptor holds it. */
  private lost(r: Fs.Removed, c: Change): Effect.Effect<void, FsError, R> {
    const v = this.vnodes.get(r.ino)
    if (v === undefined) {
      this.stamp(undefined, c.seq)
      return Effect.void
    }
    this.touched(v, c)
    if (r.nlink > 0) return Effect.void
    v.unlinked = true
    v.names = undefined
    return v.opens === 0 ? this.releaseAll(v) : Effect.void
  }

  /** The vnode of inode `ino`, if the cache knows it. */
  find(ino: number): Vnode | undefined {
    return this.vnodes.get(ino)
  }

  /** The file system said `v`'s inode is gone: forget it. */
  bury(v: Vnode): void {
    v.dead = true
    v.names = undefined
    this.idle.delete(v)
    if (this.vnodes.get(v.ino) === v) this.vnodes.delete(v.ino)
  }

  // --- descriptors -----------------------------------------------------------------------------

  /** A descriptor opens on `v`. When `v.held` is 0 the caller must have the file system count an open (`held`) before using it. */
  opened(v: Vnode): void {
    v.opens++
    this.idle.delete(v)
  }

  /** The file system counts one more open of `v` for the VFS. */
  hold(v: Vnode): void {
    v.held++
  }

  /** A descriptor on `v` closed; the releases now due (none in the common case: an idle vnode stays held). */
  closed(v: Vnode): Effect.Effect<void, FsError, R> {
    v.opens--
    if (v.opens > 0 || v.held === 0) return Effect.void
    if (v.unlinked || v.dead) return this.releaseAll(v)
    this.idle.add(v)
    if (this.idle.size <= this.maxIdle) return Effect.void
    const oldest = this.idle.values().next().value!
    this.idle.delete(oldest)
    return this.releaseAll(oldest)
  }

  /** Gives back every open the file system counts for `v`; an unlinked inode is then gone. */
  private releaseAll(v: Vnode): Effect.Effect<void, FsError, R> {
    const n = v.held
    v.held = 0
    this.idle.delete(v)
    if (v.unlinked) this.bury(v)
    if (n === 0) return Effect.void
    const one = this.fs.release(v.ino)
    return n === 1 ? one : Effect.repeatN(one, n - 1)
  }

  // --- bounds and loss ---------------------------------------------------------------------------

  /** Forgets every vnode no descriptor, hold or watch keeps, and every name. */
  private flush(): void {
    this.unknownAt = this.changes
    for (const v of this.vnodes.values()) {
      v.names = undefined
      if (v.opens === 0 && v.held === 0 && v.watches === 0) {
        v.dead = true
        this.vnodes.delete(v.ino)
      }
    }
    this.top = undefined
  }

  /** The file system is gone: forget everything (its descriptors answer `EIO` from now on). */
  clear(): void {
    this.unknownAt = this.changes
    for (const v of this.vnodes.values()) {
      v.dead = true
      v.names = undefined
    }
    this.vnodes.clear()
    this.idle.clear()
    this.top = undefined
  }
}
