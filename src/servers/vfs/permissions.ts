/**
 * POSIX permission rules, as pure functions of a caller's credentials and an inode's attributes
 * (no fibers, unit-tested alone). The VFS is the reference monitor: it calls these on attributes it
 * already holds from path resolution, so a check is a few integer comparisons and no IPC.
 * File-system servers stay policy-free.
 *
 * Root (uid 0) passes every read and write check, and an execute/search check when the inode is a
 * directory or has any execute bit (Linux's `CAP_DAC_OVERRIDE`). Everyone else gets the owner's
 * bits when they own the inode, else the group's bits when the inode's group is one of theirs,
 * else the other bits — exactly one class, as in POSIX.
 */
import type { FsProtocol } from "../../api.js"

type Attr = FsProtocol.Attr
import type { Credentials } from "./VfsProtocol.js"

/**
 * Who a client is, for the VFS: user, primary group, supplementary groups, and the mask applied
 * to the mode of every file and directory it creates (the `VfsProtocol` schema's type).
 */
export type { Credentials }

/** The superuser, umask `0o022`: the default credentials of a client the root task spawns. */
export const ROOT: Credentials = { uid: 0, gid: 0, groups: [], umask: 0o022 }

/** `nobody` (uid and gid 65534): what `System` gives a badge the VFS has no credentials for. */
export const NOBODY: Credentials = { uid: 65534, gid: 65534, groups: [], umask: 0o022 }

/** Supplementary groups per client at most (`setCredentials` refuses more). */
export const NGROUPS_MAX = 64

/** Read permission, as `fs.constants.R_OK` (`F_OK`, 0, asks for existence only). */
export const R_OK = 4
/** Write permission, as `fs.constants.W_OK`. */
export const W_OK = 2
/** Execute permission on a file, search permission on a directory, as `fs.constants.X_OK`. */
export const X_OK = 1

/** The sticky bit (`S_ISVTX`): in a directory, only an entry's owner, the directory's owner or root may remove or rename it. */
export const S_ISVTX = 0o1000

type Owned = Pick<Attr, "type" | "mode" | "uid" | "gid">

/** Whether `gid` is the caller's primary or one of its supplementary groups. */
export const inGroup = (c: Credentials, gid: number): boolean => c.gid === gid || c.groups.includes(gid)

/** Whether `c` may access `a` for every bit of `want` (`R_OK | W_OK | X_OK`, any combination). */
export const permits = (c: Credentials, a: Owned, want: number): boolean => {
  if (c.uid === 0) return (want & X_OK) === 0 || a.type === "dir" || (a.mode & 0o111) !== 0
  const bits = c.uid === a.uid ? a.mode >> 6 : inGroup(c, a.gid) ? a.mode >> 3 : a.mode
  return (bits & want & 7) === want
}

/**
 * Whether the sticky bit of directory `dir` lets `c` remove or rename its entry owned by
 * `victimUid` (always, when `dir` is not sticky).
 */
export const stickyAllows = (c: Credentials, dir: Owned, victimUid: number): boolean =>
  (dir.mode & S_ISVTX) === 0 || c.uid === 0 || c.uid === dir.uid || c.uid === victimUid

/** Whether removing an entry of `dir` needs the entry's owner (sticky, and `c` neither root nor the directory's owner). */
export const stickyRestricts = (c: Credentials, dir: Owned): boolean => (dir.mode & S_ISVTX) !== 0 && c.uid !== 0 && c.uid !== dir.uid

/** Whether `c` owns `a` or is root: who may `chmod` and set explicit times. */
export const owns = (c: Credentials, a: Owned): boolean => c.uid === 0 || c.uid === a.uid

/**
 * The error of a `chown` of `a` to `uid`/`gid` by `c` (`undefined` or -1: unchanged), or
 * `undefined` when allowed. Root may do anything; the owner may "change" the user to itself and the
 * group to one of its own groups; anything else is `EPERM`.
 */
export const chownError = (c: Credentials, a: Owned, uid: number | undefined, gid: number | undefined): "EPERM" | undefined => {
  if (c.uid === 0) return undefined
  if (uid !== undefined && uid !== -1 && !(c.uid === a.uid && uid === a.uid)) return "EPERM"
  if (gid !== undefined && gid !== -1 && !(c.uid === a.uid && (gid === a.gid || inGroup(c, gid)))) return "EPERM"
  return undefined
}

/**
 * The error of setting the times of `a` by `c`, or `undefined`: explicit times need the owner or
 * root (`EPERM`); "now" also anyone with write permission (`EACCES`).
 */
export const utimesError = (c: Credentials, a: Owned, now: boolean): "EPERM" | "EACCES" | undefined =>
  owns(c, a) ? undefined : !now ? "EPERM" : permits(c, a, W_OK) ? undefined : "EACCES"

/**
 * The mode a new file (or directory, `dir`) gets: the requested permission bits less the umask
 * (`mode & ~umask`); a directory keeps only the permission and sticky bits, as Linux's `mkdir`.
 */
export const createMode = (mode: number, umask: number, dir: boolean): number => mode & (dir ? 0o1777 : 0o7777) & ~umask

/** Whether `x` are valid credentials: non-negative integer ids (below 2^32 − 1), at most `NGROUPS_MAX` groups, a umask in `0..0o777`. */
export const valid = (x: Credentials): boolean => {
  const id = (n: number) => Number.isInteger(n) && n >= 0 && n < 0xffffffff
  return id(x.uid) && id(x.gid) && x.groups.length <= NGROUPS_MAX && x.groups.every(id) && Number.isInteger(x.umask) && x.umask >= 0 && x.umask <= 0o777
}
