/**
 * Descriptor tables: one per client badge, each mapping a descriptor number to an open file
 * description. A badge is the one identity a client cannot forge, so a descriptor belongs to the
 * client that opened it: another client naming the same number finds its own file or none.
 *
 * Invariants:
 * - A new descriptor is the lowest free number from 3 (0–2 are a process's standard streams in
 *   POSIX; this VFS has none, and keeps them free).
 * - A table is dropped whole when its client disconnects; its files are returned so the VFS can
 *   release them on their file systems.
 */

/** Every client's descriptor table. Owned by the VFS's worker threads (one process, no interleaving inside a call). */
export class DescriptorTables<F> {
  private readonly tables = new Map<number, Map<number, F>>()

  /** `max`: descriptors one badge may hold. */
  constructor(readonly max: number) {}

  /** Whether `badge` holds `max` descriptors already (an open must fail with `EMFILE`). */
  full(badge: number): boolean {
    return this.tableOf(badge).size >= this.max
  }

  /** Gives `f` the lowest free descriptor of `badge` from 3; that descriptor. */
  insert(badge: number, f: F): number {
    const t = this.tableOf(badge)
    let fd = 3
    while (t.has(fd)) fd++
    t.set(fd, f)
    return fd
  }

  /** The file `badge` has open as `fd`, if any. */
  get(badge: number, fd: number): F | undefined {
    return this.tables.get(badge)?.get(fd)
  }

  /** Forgets descriptor `fd` of `badge`. */
  remove(badge: number, fd: number): void {
    this.tables.get(badge)?.delete(fd)
  }

  /** Drops the table of `badge`; the files it still had open. */
  drop(badge: number): Iterable<F> {
    const t = this.tables.get(badge)
    this.tables.delete(badge)
    return t === undefined ? [] : t.values()
  }

  private tableOf(badge: number): Map<number, F> {
    let t = this.tables.get(badge)
    if (t === undefined) this.tables.set(badge, (t = new Map()))
    return t
  }
}
