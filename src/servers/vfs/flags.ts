/**
 * Open flags: Node's flag strings and numbers (Linux values, as `fs.constants.O_*`), decoded into
 * what an open asks for. Pure; shared by the VFS and its clients.
 */

/** What an open asks for. */
export interface OpenFlags {
  readonly read: boolean
  readonly write: boolean
  readonly append: boolean
  readonly create: boolean
  readonly exclusive: boolean
  readonly truncate: boolean
  /** `O_NOFOLLOW`: the last component must not be a symbolic link (`ELOOP`). */
  readonly nofollow: boolean
  /** `O_DIRECTORY`: the file must be a directory (`ENOTDIR`); with `O_CREAT`, `EINVAL` (Linux 6.4+). */
  readonly directory: boolean
}

/** Node's numeric open flags (Linux values; `fs.constants.O_*` are these). */
export const O = {
  RDONLY: 0,
  WRONLY: 1,
  RDWR: 2,
  CREAT: 0o100,
  EXCL: 0o200,
  NOCTTY: 0o400,
  TRUNC: 0o1000,
  APPEND: 0o2000,
  DIRECTORY: 0o200000,
  NOFOLLOW: 0o400000,
  SYNC: 0o4010000,
  DSYNC: 0o10000
} as const

const named: Record<string, number> = {
  r: O.RDONLY,
  rs: O.RDONLY | O.SYNC,
  sr: O.RDONLY | O.SYNC,
  "r+": O.RDWR,
  "rs+": O.RDWR | O.SYNC,
  "sr+": O.RDWR | O.SYNC,
  w: O.TRUNC | O.CREAT | O.WRONLY,
  wx: O.TRUNC | O.CREAT | O.WRONLY | O.EXCL,
  xw: O.TRUNC | O.CREAT | O.WRONLY | O.EXCL,
  "w+": O.TRUNC | O.CREAT | O.RDWR,
  "wx+": O.TRUNC | O.CREAT | O.RDWR | O.EXCL,
  "xw+": O.TRUNC | O.CREAT | O.RDWR | O.EXCL,
  a: O.APPEND | O.CREAT | O.WRONLY,
  ax: O.APPEND | O.CREAT | O.WRONLY | O.EXCL,
  xa: O.APPEND | O.CREAT | O.WRONLY | O.EXCL,
  as: O.APPEND | O.CREAT | O.WRONLY | O.SYNC,
  sa: O.APPEND | O.CREAT | O.WRONLY | O.SYNC,
  "a+": O.APPEND | O.CREAT | O.RDWR,
  "ax+": O.APPEND | O.CREAT | O.RDWR | O.EXCL,
  "xa+": O.APPEND | O.CREAT | O.RDWR | O.EXCL,
  "as+": O.APPEND | O.CREAT | O.RDWR | O.SYNC,
  "sa+": O.APPEND | O.CREAT | O.RDWR | O.SYNC
}

/** The numeric form of Node's flag strings and numbers; undefined when it is neither. */
export const flagsNumber = (flags: string | number): number | undefined =>
  typeof flags === "number" ? (Number.isInteger(flags) && flags >= 0 ? flags : undefined) : named[flags]

/** Decodes open flags (a Node flag string or number); undefined when they are not valid. */
export const parseFlags = (flags: string | number): OpenFlags | undefined => {
  const n = flagsNumber(flags)
  if (n === undefined) return undefined
  const access = n & 3
  if (access === 3) return undefined
  return {
    read: access === O.RDONLY || access === O.RDWR,
    write: access === O.WRONLY || access === O.RDWR,
    append: (n & O.APPEND) !== 0,
    create: (n & O.CREAT) !== 0,
    exclusive: (n & O.EXCL) !== 0 && (n & O.CREAT) !== 0,
    truncate: (n & O.TRUNC) !== 0 && access !== O.RDONLY,
    nofollow: (n & O.NOFOLLOW) !== 0,
    directory: (n & O.DIRECTORY) !== 0
  }
}
