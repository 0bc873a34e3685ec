/**
 * Change notifications (Linux's inotify, as Node's `fs.watch` sees it): a client watches a node —
 * a file, or a directory and, `recursive`, everything below it — and the VFS, which sees every
 * change, queues an event on each watch the change concerns. The client fetches events with a
 * held call that the VFS answers as soon as there is one (no polling).
 *
 * Events are Node's two kinds: `rename` (an entry appeared, went or moved; the watched node
 * itself was removed or moved) and `change` (data or attributes changed). Each names what changed
 * relative to the watched directory (`a/b` below a recursive watch), or the watched file's own
 * name.
 *
 * Invariants (the table is owned by the VFS's threads):
 * - A watch follows its inode (the vnode), not its path: a renamed directory keeps its watchers.
 * - A watch belongs to the badge that made it; another badge naming its id gets `EBADF`.
 * - Events of one watch keep the order the VFS saw the changes in; at most `MAX_QUEUED` wait.
 *   Beyond, the oldest are dropped and the next answer says `overflowed` (inotify's
 *   `IN_Q_OVERFLOW`): a watcher learns it missed events instead of missing them silently.
 * - At most one held call per watch: a second one answers the first at once (with what is queued).
 */

/** Events one watch keeps waiting at most. */
export const MAX_QUEUED = 1024
/** Watches one client may hold at most (`ENOSPC` beyond, as inotify's `max_user_watches`). */
export const MAX_WATCHES = 8192

/** A kind of event: `r` rename (an entry came, went or moved), `c` change (data or attributes). */
export type EventType = "r" | "c"

/** One event: its kind and what it names, relative to the watched node. */
export interface WatchEvent {
  readonly type: EventType
  readonly name: string
}

/** A node on the way to a change: its inode (any object the VFS keeps one of per inode), its name in its parent, and its parent. */
export interface Place<V> {
  readonly inode: V
  readonly path: string
  readonly parent?: Place<V> | undefined
}

/** A held call waiting for events of one watch: the sequence number it asked after, and what answers it (the VFS's responder). */
export interface Waiter<W> {
  readonly after: number
  readonly holder: W
}

/** A held call now due: what answers it, and its answer. */
export interface Due<W> {
  readonly holder: W
  readonly batch: Batch
}

/** What a held call answers: the events after its `after`, the sequence number to ask after next, and whether some were dropped. */
export interface Batch {
  readonly events: ReadonlyArray<WatchEvent>
  readonly next: number
  readonly overflowed: boolean
}

/** One watch. */
export class Watch<V, W> {
  /** Events not yet fetched, oldest first; the last has sequence number `seq`. */
  readonly queue: Array<WatchEvent> = []
  seq = 0
  overflowed = false
  waiter: Waiter<W> | undefined = undefined

  constructor(
    readonly id: number,
    readonly badge: number,
    readonly inode: V,
    readonly recursive: boolean,
    /** The watched node's own name (what an event on the node itself names). */
    readonly name: string
  ) {}

  /** The events after `after` (those before are dropped: the watcher has them). */
  batch(after: number): Batch {
    const first = this.seq - this.queue.length
    if (after > first) this.queue.splice(0, Math.min(this.queue.length, after - first))
    const b = { events: this.queue.slice(), next: this.seq, overflowed: this.overflowed }
    this.overflowed = false
    return b
  }

  push(e: WatchEvent): void {
    this.queue.push(e)
    this.seq++
    if (this.queue.length > MAX_QUEUED) {
      this.queue.shift()
      this.overflowed = true
    }
  }
}

const base = (path: string) => path.slice(path.lastIndexOf("/") + 1)

/** Every watch of the VFS; `W` is what answers a held call. */
export class WatchTable<V, W> {
  private readonly byInode = new Map<V, Set<Watch<V, W>>>()
  private readonly byId = new Map<number, Watch<V, W>>()
  private readonly perBadge = new Map<number, number>()
  private nextId = 1

  /** Whether any watch exists (when none, a change costs this one test). */
  get empty(): boolean {
    return this.byId.size === 0
  }

  /** Watches the node `inode` (named `name`) for `badge`; the watch, or `ENOSPC` when the badge holds `MAX_WATCHES`. */
  add(badge: number, inode: V, recursive: boolean, name: string): Watch<V, W> | "ENOSPC" {
    const held = this.perBadge.get(badge) ?? 0
    if (held >= MAX_WATCHES) return "ENOSPC"
    const w = new Watch<V, W>(this.nextId++, badge, inode, recursive, name)
    this.byId.set(w.id, w)
    let set = this.byInode.get(inode)
    if (set === undefined) this.byInode.set(inode, (set = new Set()))
    set.add(w)
    this.perBadge.set(badge, held + 1)
    return w
  }

  /** The watch `id` of `badge`, if it holds one. */
  get(badge: number, id: number): Watch<V, W> | undefined {
    const w = this.byId.get(id)
    return w !== undefined && w.badge === badge ? w : undefined
  }

  /**
   * A held call for `w`'s events after `after`: answered now when some are queued (or when
   * another call is already held, which is answered too), else kept. The calls now due.
   */
  wait(w: Watch<V, W>, after: number, holder: W): Array<Due<W>> {
    const due: Array<Due<W>> = []
    const earlier = w.waiter
    w.waiter = undefined
    if (earlier !== undefined) due.push({ holder: earlier.holder, batch: w.batch(earlier.after) })
    if (w.seq > after || earlier !== undefined) due.push({ holder, batch: w.batch(after) })
    else w.waiter = { after, holder }
    return due
  }

  /** Ends `w`; its held call, if any, is due with what is queued. */
  remove(w: Watch<V, W>, due: Array<Due<W>> = []): Array<Due<W>> {
    if (this.byId.get(w.id) !== w) return due
    this.byId.delete(w.id)
    const set = this.byInode.get(w.inode)
    set?.delete(w)
    if (set?.size === 0) this.byInode.delete(w.inode)
    const held = (this.perBadge.get(w.badge) ?? 1) - 1
    if (held === 0) this.perBadge.delete(w.badge)
    else this.perBadge.set(w.badge, held)
    const waiter = w.waiter
    w.waiter = undefined
    if (waiter !== undefined) due.push({ holder: waiter.holder, batch: w.batch(waiter.after) })
    return due
  }

  /** Ends every watch of `badge` (its client went away; its held calls go with it); the inodes they watched, one per watch. */
  drop(badge: number): Array<V> {
    const dropped: Array<V> = []
    for (const w of [...this.byId.values()]) {
      if (w.badge !== badge) continue
      w.waiter = undefined
      this.remove(w)
      dropped.push(w.inode)
    }
    return dropped
  }

  /** Whether `inode` is watched (the cache keeps a watched inode's vnode, so the watch keeps finding it). */
  watched(inode: V): boolean {
    return this.byInode.has(inode)
  }

  /**
   * A change of kind `type` to the entry `name` of the directory at `dir` (`subject`: the entry's
   * own inode, when known): queues it on the entry's own watches, on the directory's, and on the
   * recursive watches of every directory above, each naming it relative to itself. The held
   * calls now due.
   */
  notify(type: EventType, dir: Place<V>, name: string, subject?: V): Array<Due<W>> {
    const due: Array<Due<W>> = []
    if (this.byId.size === 0) return due
    if (subject !== undefined) this.queue(due, this.byInode.get(subject), false, type, undefined)
    let rel = name
    for (let at: Place<V> | undefined = dir, depth = 0; at !== undefined; at = at.parent, depth++) {
      this.queue(due, this.byInode.get(at.inode), depth > 0, type, rel)
      rel = `${base(at.path)}/${rel}`
    }
    return due
  }

  /** A change to the node at `place` itself (its data or attributes): its own watches, and its directory's as an entry. */
  changed(place: Place<V>): Array<Due<W>> {
    if (this.byId.size === 0 || place.parent === undefined) return []
    return this.notify("c", place.parent, base(place.path), place.inode)
  }

  /** Queues the event on the watches of `set` (only recursive ones when `recursiveOnly`), named `name` or, when undefined, each watch's own name. */
  private queue(due: Array<Due<W>>, set: Set<Watch<V, W>> | undefined, recursiveOnly: boolean, type: EventType, name: string | undefined): void {
    if (set === undefined) return
    for (const w of set) {
      if (recursiveOnly && !w.recursive) continue
      w.push({ type, name: name ?? w.name })
      const waiter = w.waiter
      if (waiter !== undefined) {
        w.waiter = undefined
        due.push({ holder: waiter.holder, batch: w.batch(waiter.after) })
      }
    }
  }
}
