/**
 * Credentials per client badge: who each client acts as, for the VFS's permission checks
 * (`permissions.ts`). The root task tells the VFS a client's credentials before the client runs;
 * the VFS forgets them when the client disconnects.
 *
 * Invariants:
 * - Only the badge given as `from` (the root task's own capability) may set credentials; it acts
 *   as `ROOT` itself. Without `from`, nobody may.
 * - A badge without an entry (never set, or forgotten) acts with the defaults.
 * - A client may change only its own umask.
 */
import { type Credentials, ROOT, valid } from "./permissions.js"

/** Credentials by badge. Owned by the VFS's worker threads. */
export class CredentialTable {
  private readonly byBadge = new Map<number, Credentials>()

  /** `defaults`: what a badge without an entry acts as; `from`: the root task's badge, if any. */
  constructor(
    private readonly defaults: Credentials,
    private readonly from: number | undefined
  ) {
    if (from !== undefined) this.byBadge.set(from, ROOT)
  }

  /** The credentials `badge` acts with. */
  of(badge: number): Credentials {
    return this.byBadge.get(badge) ?? this.defaults
  }

  /**
   * Sets the credentials of `badge` at the request of `caller` (a copy: the caller keeps no hold on
   * them). Errors: `EPERM` (`caller` is not the root task's badge; nothing changes), `EINVAL` (a
   * badge below 1 or invalid credentials).
   */
  set(caller: number, badge: number, given: Credentials): "EPERM" | "EINVAL" | undefined {
    if (this.from === undefined || caller !== this.from) return "EPERM"
    if (!Number.isInteger(badge) || badge < 1 || !valid(given)) return "EINVAL"
    this.byBadge.set(badge, { uid: given.uid, gid: given.gid, groups: [...given.groups], umask: given.umask })
    return undefined
  }

  /** Replaces the umask of `badge` by `mask`; the previous mask. Error: `EINVAL` for a mask outside `0..0o777`. */
  setUmask(badge: number, mask: number): number | "EINVAL" {
    if (!Number.isInteger(mask) || mask < 0 || mask > 0o777) return "EINVAL"
    const c = this.of(badge)
    this.byBadge.set(badge, { ...c, umask: mask })
    return c.umask
  }

  /** Forgets the credentials of `badge` (its client disconnected). */
  forget(badge: number): void {
    this.byBadge.delete(badge)
  }
}
