/**
 * How the VFS names its failures: an `FsError` with the POSIX code, the syscall Node reports and
 * the path (and, for two-path calls, the destination) the caller gave.
 */
import { FsProtocol as Fs } from "../../api.js"

const { FsError } = Fs
type FsError = Fs.FsError

/** An `FsError` naming `syscall`, and `path` (and `dest`) when given. */
export const err = (code: string, syscall: string, path?: string, dest?: string): FsError =>
  new FsError(dest === undefined ? (path === undefined ? { code, syscall } : { code, syscall, path }) : { code, syscall, path: path ?? "", dest })

/** Names a failure that names no syscall yet (a file system's answer) after `syscall` and `path`; others pass through. */
export const named = (syscall: string, path: string, dest?: string) => (e: FsError) => (e.syscall === undefined ? err(e.code, syscall, path, dest) : e)
