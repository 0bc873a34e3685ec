/** Helpers shared by the VFS's tests that run without a kernel. */
import type { Attr, FileType } from "../../src/lib/FsProtocol.js"

/** The attributes of a stand-in inode: `mode` (default 0o644 for a file, else 0o755), owned by `uid` (and the group of the same number), one link, empty, at the epoch. */
export const attr = (ino: number, type: FileType, mode = type === "file" ? 0o644 : 0o755, uid = 0): Attr => ({
  ino,
  type,
  mode,
  nlink: 1,
  uid,
  gid: uid,
  size: 0,
  blocks: 0,
  atimeSec: 0,
  atimeNsec: 0,
  mtimeSec: 0,
  mtimeNsec: 0,
  ctimeSec: 0,
  ctimeNsec: 0,
  birthtimeSec: 0,
  birthtimeNsec: 0
})
