/**
 * The VFS from inside a client process: the typed protocol client plus the buffer handling that
 * turns bytes into leases. Every function is IPC from the calling process; the only bytes it
 * moves itself are between its own memory and the caller's `Uint8Array`.
 *
 * Errors: `FsError` (POSIX code, syscall, path) for everything the VFS answers; transport and
 * memory failures (the VFS gone, out of memory) are mapped to `FsError` `EIO`/`ENOMEM`.
 */
import { Effect } from "effect"
import { FsProtocol, Memory, Params, Process as P, Protocol } from "../api.js"
import { type Stat, statOf, VfsProtocol } from "../servers/vfs/VfsProtocol.js"

type Process = P.Process
const { FsError, unpackDir } = FsProtocol
type FsError = FsProtocol.FsError
type DirEntry = FsProtocol.DirEntry
const { PAGE_SIZE } = Params

/** A typed VFS client on a capability slot. */
export type Vfs = Protocol.Client<VfsProtocol["operations"]>

/**
 * The VFS client on `slot` (a send capability to the VFS port). Its calls are direct (the VFS's
 * code runs on the calling thread: no hand-off, see docs/ipc.md "Direct calls"); a VFS that
 * serves no direct calls is called the ordinary way. `direct: false` hands every call to the VFS's
 * workers instead.
 */
export const client = (slot: number, options: { readonly direct?: boolean } = {}): Vfs => Protocol.client(VfsProtocol, slot, { direct: options.direct ?? true })

/** Any failure of a call as `FsError` (`EIO` for transport failures, `ENOMEM` for memory). */
export const fsError = (e: unknown, syscall: string, path?: string): FsError =>
  e instanceof FsError
    ? e
    : new FsError(
        path === undefined
          ? { code: (e as { _tag?: string })._tag === "OutOfMemory" ? "ENOMEM" : "EIO", syscall }
          : { code: (e as { _tag?: string })._tag === "OutOfMemory" ? "ENOMEM" : "EIO", syscall, path }
      )

/**
 * `fsError` for `syscall` on `path`, as a function of the failure. Built by a call, not written in
 * place as an option's closure: tsx (esbuild's keepNames) renames every closure written as an
 * object's property, about 1 µs each time one is made.
 */
const failedAs =
  (syscall: string, path?: string) =>
  (e: unknown): FsError =>
    fsError(e, syscall, path)

const nothing = (): void => undefined

/** Buffers up to this many pages are kept for reuse by `withBuffer` (`READ_FILE_CHUNK`'s size). */
const POOL_PAGES = 16
/** Idle pages kept per buffer size per process at most (64 one-page buffers, 4 of 16 pages): enough for many concurrent calls, 256 KiB a size. */
const POOL_SIZE_PAGES = 64

/**
 * Idle buffers of each client process, by size in pages: reused, since allocating pages (and
 * freeing them) cost more than a small call, and a machine out of frames would otherwise fail a
 * write with `ENOMEM` before the file system could say `ENOSPC`. Owned by the process's threads
 * (they run one at a time); an entry goes with its process (weakly held).
 */
const pools = new WeakMap<object, Array<Array<number>>>()

const poolOf = (pcb: object): Array<Array<number>> => {
  let pool = pools.get(pcb)
  if (pool === undefined) pools.set(pcb, (pool = Array.from({ length: POOL_PAGES + 1 }, () => [])))
  return pool
}

/** Runs `f` with a buffer of at least `length` bytes in the caller's memory, reused or freed afterwards. Errors: `ENOMEM`. */
export const withBuffer = <A, E>(length: number, f: (address: number) => Effect.Effect<A, E, Process>): Effect.Effect<A, E | FsError, Process> =>
  Effect.flatMap(P.Process, (pcb) => {
    const pages = Math.max(1, Math.ceil(length / PAGE_SIZE))
    const idle = pages <= POOL_PAGES ? poolOf(pcb)[pages]! : undefined
    return Effect.acquireUseRelease(
      idle !== undefined && idle.length > 0 ? Effect.succeed(idle.pop()!) : Effect.mapError(Memory.allocate(pages), (e) => fsError(e, "alloc")),
      f,
      (address) =>
        idle !== undefined && (idle.length + 1) * pages <= POOL_SIZE_PAGES ? Effect.sync(() => idle.push(address)) : Effect.ignore(Memory.free(address))
    )
  })

/** Writes `length` bytes at `address` of the caller's memory to `fd` (lease); the count written. */
export const writeFrom = (vfs: Vfs, fd: number, address: number, length: number, position = -1): Effect.Effect<number, FsError, Process> =>
  Effect.mapError(vfs.write({ fd, length, position }, { items: [{ _tag: "lease", address, length, access: "read" }] }), (e) => fsError(e, "write"))

/** Reads up to `length` bytes of `fd` into the caller's memory at `address` (lease); the count read. */
export const readInto = (vfs: Vfs, fd: number, address: number, length: number, position = -1): Effect.Effect<number, FsError, Process> =>
  Effect.mapError(vfs.read({ fd, length, position }, { items: [{ _tag: "lease", address, length, access: "write" }] }), (e) => fsError(e, "read"))

/** Writes the page-aligned `pages` at `address` to `fd` by grant (they leave the caller); the count written. */
export const writeGranted = (vfs: Vfs, fd: number, address: number, length: number, position = -1): Effect.Effect<number, FsError, Process> =>
  Effect.mapError(vfs.writeGrant({ fd, length, position }, { items: [{ _tag: "grant", address, pages: Math.ceil(length / PAGE_SIZE) }] }), (e) =>
    fsError(e, "write")
  )

/** Writes all of `bytes` to `fd` (at `position`, or the current position with -1). */
export const writeBytes = (vfs: Vfs, fd: number, bytes: Uint8Array, position = -1): Effect.Effect<number, FsError, Process> =>
  bytes.length === 0
    ? Effect.succeed(0)
    : withBuffer(bytes.length, (address) =>
        Effect.zipRight(
          Effect.mapError(Memory.write(address, bytes), (e) => fsError(e, "write")),
          writeFrom(vfs, fd, address, bytes.length, position)
        )
      )

/** Reads up to `length` bytes of `fd`; fewer at the end of the file. */
export const readBytes = (vfs: Vfs, fd: number, length: number, position = -1): Effect.Effect<Uint8Array, FsError, Process> =>
  length === 0
    ? Effect.succeed(new Uint8Array(0))
    : withBuffer(length, (address) =>
        Effect.flatMap(readInto(vfs, fd, address, length, position), (n) =>
          n === 0 ? Effect.succeed(new Uint8Array(0)) : Effect.mapError(Memory.read(address, n), (e) => fsError(e, "read"))
        )
      )

/** Reads `fd` from its current position to the end of the file. */
export const readToEnd = (vfs: Vfs, fd: number, sizeHint: number): Effect.Effect<Uint8Array, FsError, Process> =>
  withBuffer(Math.max(sizeHint, PAGE_SIZE), (address) =>
    Effect.gen(function* () {
      const chunk = Math.max(sizeHint, PAGE_SIZE)
      const parts: Array<Uint8Array> = []
      let total = 0
      for (;;) {
        const n = yield* readInto(vfs, fd, address, chunk)
        if (n === 0) break
        parts.push(yield* Effect.mapError(Memory.read(address, n), (e) => fsError(e, "read")))
        total += n
      }
      if (parts.length === 1) return parts[0]!
      const out = new Uint8Array(total)
      let at = 0
      for (const p of parts) {
        out.set(p, at)
        at += p.length
      }
      return out
    })
  )

/** Every entry of the directory at `path` (all pages; a page is one call, about 8 KiB of names). */
export const readdirAll = (vfs: Vfs, path: string): Effect.Effect<Array<DirEntry>, FsError, Process> =>
  Effect.gen(function* () {
    const out: Array<DirEntry> = []
    let cookie = 0
    while (cookie >= 0) {
      const page = yield* Effect.mapError(vfs.readdir({ path, cookie }), (e) => fsError(e, "scandir", path))
      const broken = unpackDir(page, out)
      if (broken !== undefined) return yield* Effect.fail(fsError(broken, "scandir", path))
      cookie = page.next
    }
    return out
  })

/** Bytes `readFile` asks for in its one call: a file this long or shorter costs that call alone. */
export const READ_FILE_CHUNK = 65536

/**
 * Node's `readFile`: one `readFile` call to the VFS (open, read, close), and for a file longer than
 * `READ_FILE_CHUNK` reads of the rest through the descriptor it leaves open, then a close.
 */
export const readFile = (vfs: Vfs, path: string, flag: string | number = "r"): Effect.Effect<Uint8Array, FsError, Process> =>
  withBuffer(READ_FILE_CHUNK, (address) =>
    Effect.flatMap(
      Effect.mapError(
        vfs.readFile({ path, flags: flag, length: READ_FILE_CHUNK }, { items: [{ _tag: "lease", address, length: READ_FILE_CHUNK, access: "write" }] }),
        (e) => fsError(e, "open", path)
      ),
      (r) => {
        const first = r.read === 0 ? Effect.succeed(new Uint8Array(0)) : Effect.mapError(Memory.read(address, r.read), (e) => fsError(e, "read"))
        if (r.fd < 0) return first
        return Effect.zipWith(first, Effect.ensuring(readToEnd(vfs, r.fd, READ_FILE_CHUNK), Effect.ignore(vfs.close({ fd: r.fd }))), (head, rest) => {
          const out = new Uint8Array(head.length + rest.length)
          out.set(head)
          out.set(rest, head.length)
          return out
        })
      }
    )
  )

/** Node's `writeFile` (flags default `w`): one `writeFile` call to the VFS (open, truncate and write, close). */
export const writeFile = (vfs: Vfs, path: string, bytes: Uint8Array, flag: string | number = "w", mode = 0o666): Effect.Effect<void, FsError, Process> =>
  withBuffer(bytes.length, (address) =>
    Effect.zipRight(
      Effect.mapError(Memory.write(address, bytes), (e) => fsError(e, "write")),
      Effect.mapBoth(
        vfs.writeFile({ path, flags: flag, mode, length: bytes.length }, { items: [{ _tag: "lease", address, length: bytes.length, access: "read" }] }),
        { onFailure: failedAs("open", path), onSuccess: nothing }
      )
    )
  )

/** `stat` (following links) or `lstat`. */
export const stat = (vfs: Vfs, path: string, follow = true): Effect.Effect<Stat, FsError, Process> =>
  Effect.mapBoth(vfs.stat({ path, follow }), { onFailure: failedAs(follow ? "stat" : "lstat", path), onSuccess: statOf })

/** `fstat`: the attributes of the file open as `fd`. */
export const fstat = (vfs: Vfs, fd: number): Effect.Effect<Stat, FsError, Process> =>
  Effect.mapBoth(vfs.fstat({ fd }), { onFailure: failedAs("fstat"), onSuccess: statOf })

/** A change a watch saw: Node's kinds (`rename`: an entry came, went or moved; `change`: data or attributes), and what it names relative to the watched node. */
export interface WatchEvent {
  readonly type: "rename" | "change"
  readonly name: string
}

/** What one `watchEvents` call answers: the events, the sequence number to ask after next, and whether some were dropped (more waited than the VFS keeps). */
export interface WatchBatch {
  readonly events: ReadonlyArray<WatchEvent>
  readonly next: number
  readonly overflowed: boolean
}

/**
 * Starts watching `path` (Node's `fs.watch`: a file, or a directory's entries and, with
 * `recursive`, everything below; the last link followed unless `follow: false`); the watch's id.
 * The VFS queues every change it sees from then on. Errors: resolution's, `EACCES`, `ENOSPC`.
 */
export const watch = (
  vfs: Vfs,
  path: string,
  options: { readonly recursive?: boolean; readonly follow?: boolean } = {}
): Effect.Effect<number, FsError, Process> =>
  Effect.mapBoth(vfs.watch({ path, recursive: options.recursive === true, follow: options.follow !== false }), {
    onFailure: (e) => fsError(e, "watch", path),
    onSuccess: (r) => r.id
  })

/**
 * The events of watch `id` after sequence number `after` (0 first, then each batch's `next`): a
 * held call, answered as soon as there is one. Errors: `EBADF` once the watch has ended (a call
 * held when it ends answers with what was queued), `EIO` (the VFS gone).
 */
export const watchEvents = (vfs: Vfs, id: number, after: number): Effect.Effect<WatchBatch, FsError, Process> =>
  Effect.flatMap(
    Effect.mapError(vfs.watchEvents({ id, after }), (e) => fsError(e, "watch")),
    (r): Effect.Effect<WatchBatch, FsError> => {
      if (r.types.length === 0) return Effect.succeed({ events: [], next: r.next, overflowed: r.overflowed })
      const names = r.names.split("\0")
      if (names.length !== r.types.length) return Effect.fail(new FsError({ code: "EIO", syscall: "watch" }))
      return Effect.succeed({
        events: names.map((name, i) => ({ type: r.types[i] === "r" ? "rename" : "change", name })),
        next: r.next,
        overflowed: r.overflowed
      })
    }
  )

/** Ends watch `id`; a `watchEvents` call held on it answers with what was queued. Errors: `EBADF`. */
export const unwatch = (vfs: Vfs, id: number): Effect.Effect<void, FsError, Process> => Effect.mapError(vfs.unwatch({ id }), (e) => fsError(e, "unwatch"))
