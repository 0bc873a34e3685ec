/**
 * Differential testing of the Node-compatible `fs` against `node:fs` as the oracle: a model of fs
 * operations (plain data, so fast-check can generate, shrink and print them), an executor that
 * runs one operation on either side in the promise, the callback or the sync form, and the normalisation
 * both sides' outcomes go through before they are compared (results, errors with their class,
 * code, message, syscall and paths, callback arities, stream events, the final tree).
 *
 * Both sides work under the same absolute path: the oracle in a temporary directory, the facade in
 * a directory of the same name (its ancestors made with the oracle's modes), so paths, error
 * messages, link targets and `realpath` answers compare as they are.
 *
 * Where the facade differs from Linux on purpose, it says so here, in `DIFFERENCES`, and the
 * normalisation leaves exactly those out.
 */
import { FastCheck as fc } from "effect"
import { Buffer } from "node:buffer"
import * as nodeFs from "node:fs"

/**
 * What the comparison leaves out, and why. Everything else must agree.
 *
 * - Credentials: the facade acts as root by default; it is booted with the test process's uid, gid
 *   and umask, so permission answers and new files' modes agree.
 * - Relative paths resolve against `/` on the facade, against the working directory in Node: the
 *   operations use absolute paths only (test FS-0040 covers relative paths).
 * - `dev`, `ino`, `blocks`, times (but times set by `utimes`, which must agree), and a
 *   directory's `size` are the file system's own.
 * - `statfs` counts: the facade reports ramfs's zeros (docs/fs.md); only the outcome is compared.
 * - `Dir` order is the file system's on both sides; its entries are compared as a set.
 * - `mkdtemp`'s six random characters.
 * - Node 20 does `readdir({ recursive: true })`'s callback form synchronously and throws the
 *   errors it meets; the facade calls back with them.
 * - Node 20's `readFile(fd)` drops the error of a failing `fstat` or `read` of the descriptor (it
 *   fails with a `TypeError` from `Buffer.concat`, or gives the bytes read so far: its bug); the
 *   facade fails with `EBADF`. A step where only that differs ends its sequence (`vfsDivergence`).
 */
export const DIFFERENCES =
  "credentials, relative paths, dev/ino/blocks/times/directory size, statfs counts, Dir order, mkdtemp names, recursive readdir thrown synchronously, readFile of a bad descriptor"

// --- the model -----------------------------------------------------------------------------------

/** A relative path under the base (`""`: the base itself; `"<empty>"`: the empty string). */
export type Rel = string
export type Data = { readonly kind: "bytes"; readonly hex: string } | { readonly kind: "text"; readonly text: string; readonly encoding: BufferEncoding }
export type Form = "promise" | "callback" | "sync"

export type Op =
  | { readonly op: "writeFile"; readonly path: Rel; readonly data: Data; readonly flag?: string; readonly mode?: number | string }
  | { readonly op: "appendFile"; readonly path: Rel; readonly data: Data }
  | { readonly op: "readFile"; readonly path: Rel; readonly encoding?: BufferEncoding; readonly flag?: string }
  | { readonly op: "mkdir"; readonly path: Rel; readonly recursive: boolean; readonly mode?: number | string }
  | { readonly op: "rmdir"; readonly path: Rel; readonly recursive: boolean }
  | { readonly op: "rm"; readonly path: Rel; readonly recursive: boolean; readonly force: boolean }
  | { readonly op: "unlink"; readonly path: Rel }
  | { readonly op: "rename"; readonly from: Rel; readonly to: Rel }
  | { readonly op: "symlink"; readonly target: string; readonly absolute: boolean; readonly path: Rel }
  | { readonly op: "link"; readonly from: Rel; readonly to: Rel }
  | { readonly op: "readlink"; readonly path: Rel; readonly encoding?: BufferEncoding | "buffer" }
  | { readonly op: "realpath"; readonly path: Rel; readonly native: boolean }
  | { readonly op: "stat"; readonly path: Rel; readonly follow: boolean; readonly bigint: boolean }
  | { readonly op: "access"; readonly path: Rel; readonly mode: number }
  | { readonly op: "chmod"; readonly path: Rel; readonly mode: number | string }
  | { readonly op: "utimes"; readonly path: Rel; readonly atime: number; readonly mtime: number; readonly follow: boolean }
  | { readonly op: "truncate"; readonly path: Rel; readonly len: number }
  | { readonly op: "copyFile"; readonly from: Rel; readonly to: Rel; readonly mode: number }
  | {
      readonly op: "cp"
      readonly from: Rel
      readonly to: Rel
      readonly recursive: boolean
      readonly force: boolean
      readonly errorOnExist: boolean
      readonly dereference: boolean
      readonly verbatimSymlinks: boolean
    }
  | { readonly op: "readdir"; readonly path: Rel; readonly withFileTypes: boolean; readonly recursive: boolean; readonly encoding?: BufferEncoding | "buffer" }
  | { readonly op: "exists"; readonly path: Rel }
  | { readonly op: "opendir"; readonly path: Rel }
  | { readonly op: "mkdtemp"; readonly prefix: Rel }
  | { readonly op: "statfs"; readonly path: Rel }
  | { readonly op: "open"; readonly slot: number; readonly path: Rel; readonly flags: string | number; readonly mode?: number }
  | { readonly op: "close"; readonly slot: number }
  | { readonly op: "read"; readonly slot: number; readonly length: number; readonly position: Position }
  | { readonly op: "write"; readonly slot: number; readonly data: Data; readonly position: Position }
  | { readonly op: "readv"; readonly slot: number; readonly lengths: ReadonlyArray<number>; readonly position: Position }
  | { readonly op: "writev"; readonly slot: number; readonly data: ReadonlyArray<Data>; readonly position: Position }
  | { readonly op: "fstat"; readonly slot: number }
  | { readonly op: "ftruncate"; readonly slot: number; readonly len: number }
  | { readonly op: "fchmod"; readonly slot: number; readonly mode: number }
  | { readonly op: "futimes"; readonly slot: number; readonly atime: number; readonly mtime: number }
  | { readonly op: "fsync"; readonly slot: number }
  | { readonly op: "readFd"; readonly slot: number; readonly encoding?: BufferEncoding }
  | { readonly op: "writeStream"; readonly path: Rel; readonly chunks: ReadonlyArray<Data>; readonly options: StreamOptions }
  | { readonly op: "readStream"; readonly path: Rel; readonly options: StreamOptions | BufferEncoding }
  | { readonly op: "group"; readonly ops: ReadonlyArray<Op> }

/** A position: a number, `null`, or a bigint (`{ big }`, as text so a failure prints). */
export type Position = number | null | { readonly big: string }
export type StreamOptions = {
  readonly flags?: string
  readonly start?: number
  readonly end?: number
  readonly encoding?: BufferEncoding
  readonly highWaterMark?: number
  readonly emitClose?: boolean
}

// --- generators ------------------------------------------------------------------------------------

const names = ["a", "b", "c", "l1", "l2"]
const component = fc.oneof({ weight: 14, arbitrary: fc.constantFrom(...names) }, { weight: 1, arbitrary: fc.constantFrom(".", "..") })

/** A path under the base: up to three components (at most two `..`), now and then a trailing slash, rarely the base or empty. */
export const rel: fc.Arbitrary<Rel> = fc.oneof(
  {
    weight: 20,
    arbitrary: fc
      .tuple(fc.array(component, { minLength: 1, maxLength: 3 }), fc.boolean(), fc.nat(19))
      .filter(([cs]) => cs.filter((c) => c === "..").length <= 2)
      .map(([cs, , n]) => cs.join("/") + (n === 0 ? "/" : ""))
  },
  { weight: 1, arbitrary: fc.constantFrom("", "<empty>") }
)

const text = fc.string({ maxLength: 24 })
export const data: fc.Arbitrary<Data> = fc.oneof(
  fc.uint8Array({ maxLength: 48 }).map((b) => ({ kind: "bytes" as const, hex: Buffer.from(b).toString("hex") })),
  fc.tuple(text, fc.constantFrom<BufferEncoding>("utf8", "latin1", "base64")).map(([t, encoding]) => ({ kind: "text" as const, text: t, encoding })),
  fc.uint8Array({ maxLength: 24 }).map((b) => ({ kind: "text" as const, text: Buffer.from(b).toString("hex"), encoding: "hex" as const }))
)
const big = fc.uint8Array({ minLength: 6000, maxLength: 70000 }).map((b) => ({ kind: "bytes" as const, hex: Buffer.from(b).toString("hex") }))
const mode = fc.constantFrom<number | string>(0o644, 0o600, 0o755, 0o700, 0o444, 0o4755, 0o1777, 0o777, "640", "0755")
const flagNames = ["r", "r+", "w", "w+", "a", "a+", "wx", "ax", "rs+", "as"]
const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_DIRECTORY, O_NOFOLLOW, O_APPEND } = nodeFs.constants
const flagNumbers = [
  O_RDONLY,
  O_RDWR,
  O_WRONLY | O_CREAT,
  O_RDWR | O_CREAT | O_EXCL,
  O_RDONLY | O_DIRECTORY,
  O_RDONLY | O_NOFOLLOW,
  O_WRONLY | O_APPEND | O_CREAT
]
const position: fc.Arbitrary<Position> = fc.oneof(
  fc.constantFrom<Position>(null, -1, 0, 1, 3, 100),
  fc.nat(60),
  fc.constantFrom<Position>({ big: "0" }, { big: "2" }, { big: "-1" }, { big: "9007199254740993" })
)
const time = fc.oneof(
  fc.integer({ min: 0, max: 2_000_000_000 }),
  fc.double({ min: 0, max: 2e9, noNaN: true }),
  fc.constantFrom(1.0000005, 1e9 + 0.123456789, 0.5)
)
const slot = fc.nat(2)

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record(
      {
        op: fc.constant("writeFile" as const),
        path: rel,
        data: fc.oneof({ weight: 9, arbitrary: data }, { weight: 1, arbitrary: big }),
        flag: fc.constantFrom("w", "a", "wx", "r+"),
        mode
      },
      { requiredKeys: ["op", "path", "data"] }
    )
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("appendFile" as const), path: rel, data }) },
  {
    weight: 3,
    arbitrary: fc.record(
      { op: fc.constant("readFile" as const), path: rel, encoding: fc.constantFrom<BufferEncoding>("utf8", "hex", "latin1"), flag: fc.constantFrom("r", "a+") },
      { requiredKeys: ["op", "path"] }
    )
  },
  {
    weight: 5,
    arbitrary: fc.record({ op: fc.constant("mkdir" as const), path: rel, recursive: fc.boolean(), mode }, { requiredKeys: ["op", "path", "recursive"] })
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("rmdir" as const), path: rel, recursive: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("rm" as const), path: rel, recursive: fc.boolean(), force: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("unlink" as const), path: rel }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("rename" as const), from: rel, to: rel }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("symlink" as const),
      target: fc.oneof(
        rel.filter((r) => r !== "<empty>"),
        fc.constant("zz")
      ),
      absolute: fc.boolean(),
      path: rel
    })
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("link" as const), from: rel, to: rel }) },
  {
    weight: 2,
    arbitrary: fc.record(
      { op: fc.constant("readlink" as const), path: rel, encoding: fc.constantFrom<BufferEncoding | "buffer">("utf8", "buffer", "hex") },
      { requiredKeys: ["op", "path"] }
    )
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("realpath" as const), path: rel, native: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("stat" as const), path: rel, follow: fc.boolean(), bigint: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("access" as const), path: rel, mode: fc.constantFrom(0, 1, 2, 4, 6, 7) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("chmod" as const), path: rel, mode }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("utimes" as const), path: rel, atime: time, mtime: time, follow: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("truncate" as const), path: rel, len: fc.constantFrom(0, 1, 5, 100, -3) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("copyFile" as const), from: rel, to: rel, mode: fc.constantFrom(0, 1, 2) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("cp" as const),
      from: rel,
      to: rel,
      recursive: fc.boolean(),
      force: fc.boolean(),
      errorOnExist: fc.boolean(),
      dereference: fc.boolean(),
      verbatimSymlinks: fc.boolean()
    })
  },
  {
    weight: 3,
    arbitrary: fc.record(
      {
        op: fc.constant("readdir" as const),
        path: rel,
        withFileTypes: fc.boolean(),
        recursive: fc.boolean(),
        encoding: fc.constantFrom<BufferEncoding | "buffer">("utf8", "buffer", "latin1")
      },
      { requiredKeys: ["op", "path", "withFileTypes", "recursive"] }
    )
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("exists" as const), path: rel }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("opendir" as const), path: rel }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("mkdtemp" as const), prefix: rel }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("statfs" as const), path: rel }) },
  {
    weight: 5,
    arbitrary: fc.record(
      {
        op: fc.constant("open" as const),
        slot,
        path: rel,
        flags: fc.oneof(fc.constantFrom(...flagNames), fc.constantFrom(...flagNumbers)),
        mode: fc.constantFrom(0o644, 0o600, 0o400)
      },
      { requiredKeys: ["op", "slot", "path", "flags"] }
    )
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("close" as const), slot }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("read" as const), slot, length: fc.constantFrom(0, 1, 4, 16, 100), position }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("write" as const), slot, data, position }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("readv" as const), slot, lengths: fc.array(fc.constantFrom(1, 3, 8), { maxLength: 3 }), position }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("writev" as const), slot, data: fc.array(data, { maxLength: 3 }), position }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("fstat" as const), slot }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("ftruncate" as const), slot, len: fc.constantFrom(0, 2, 50) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("fchmod" as const), slot, mode: fc.constantFrom(0o600, 0o644) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("futimes" as const), slot, atime: time, mtime: time }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("fsync" as const), slot }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant("readFd" as const), slot, encoding: fc.constantFrom<BufferEncoding>("utf8") }, { requiredKeys: ["op", "slot"] })
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("writeStream" as const),
      path: rel,
      chunks: fc.array(fc.oneof({ weight: 4, arbitrary: data }, { weight: 1, arbitrary: big }), { maxLength: 4 }),
      options: fc.record(
        {
          flags: fc.constantFrom("w", "r+", "a", "wx"),
          start: fc.constantFrom(0, 1, 3),
          encoding: fc.constantFrom<BufferEncoding>("utf8", "hex", "latin1"),
          highWaterMark: fc.constantFrom(1, 16, 16384),
          emitClose: fc.boolean()
        },
        { requiredKeys: [] }
      )
    })
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("readStream" as const),
      path: rel,
      options: fc.oneof(
        fc.constantFrom<BufferEncoding>("utf8", "hex"),
        fc.record(
          {
            start: fc.constantFrom(0, 1, 5),
            end: fc.constantFrom(0, 3, 10, 100000),
            encoding: fc.constantFrom<BufferEncoding>("utf8", "hex", "latin1"),
            highWaterMark: fc.constantFrom(1, 7, 65536),
            flags: fc.constantFrom("r", "r+", "a+"),
            emitClose: fc.boolean()
          },
          { requiredKeys: [] }
        )
      )
    })
  }
)

/** Read-only operations, which may run at once in a concurrent group. */
const readOnly = opArb.filter(
  (o) =>
    ["stat", "readdir", "readlink", "realpath", "access", "exists"].includes(o.op) ||
    (o.op === "readFile" && o.flag !== "a+") ||
    (o.op === "readStream" && (typeof o.options === "string" || o.options.flags === undefined || o.options.flags === "r"))
)
/** A group of writes of distinct new files, which may run at once. */
const distinctWrites = fc
  .uniqueArray(fc.constantFrom("w1", "w2", "w3", "w4", "w5"), { minLength: 2, maxLength: 5 })
  .chain((files) => fc.tuple(...files.map((f) => data.map((d): Op => ({ op: "writeFile", path: `a/${f}`, data: d })))).map((ops) => ops))

/** One step: an operation, or a concurrent group (reads, or writes of distinct files). */
export const step: fc.Arbitrary<Op> = fc.oneof(
  { weight: 18, arbitrary: opArb },
  { weight: 1, arbitrary: fc.array(readOnly, { minLength: 2, maxLength: 6 }).map((ops): Op => ({ op: "group", ops })) },
  { weight: 1, arbitrary: distinctWrites.map((ops): Op => ({ op: "group", ops })) }
)

/** A sequence of steps, each run in the promise, the callback or the sync form. */
export const sequence = fc.array(fc.tuple(step, fc.constantFrom<Form>("promise", "callback", "sync")), { minLength: 1, maxLength: 24 })

// --- running --------------------------------------------------------------------------------------

/** One side of the comparison: an `fs` object, the base directory, and its open descriptors. */
export interface Side {
  readonly fs: any
  readonly base: string
  readonly slots: Array<{ readonly form: Form; readonly value: any } | undefined>
}

/** A descriptor that is open on neither side. */
const BAD_FD = 2147483000

const abs = (side: Side, r: Rel) => (r === "<empty>" ? "" : r === "" ? side.base : `${side.base}/${r}`)
const bytes = (d: Data): Buffer => (d.kind === "bytes" ? Buffer.from(d.hex, "hex") : Buffer.from(d.text, d.encoding))
const positionArg = (p: Position): number | null | bigint => (p !== null && typeof p === "object" ? BigInt(p.big) : p)

/** The outcome of one call: its result, or the error it rejected or called back with, or threw. */
export type Outcome = { readonly ok: unknown } | { readonly err: unknown } | { readonly threw: unknown }

/** Calls `f` with a callback appended; the outcome is everything the callback received. */
export const viaCallback = (f: (...a: Array<any>) => unknown, ...args: Array<unknown>): Promise<Outcome> =>
  new Promise((resolve) => {
    try {
      f(...args, (...got: Array<unknown>) => resolve(got[0] instanceof Error ? { err: got } : { ok: got }))
    } catch (e) {
      resolve({ threw: e })
    }
  })

/** Awaits `f(...args)`; a synchronous throw is told apart from a rejection. */
export const viaPromise = async (f: (...a: Array<any>) => Promise<unknown>, ...args: Array<unknown>): Promise<Outcome> => {
  let p: Promise<unknown>
  try {
    p = f(...args)
  } catch (e) {
    return { threw: e }
  }
  try {
    return { ok: await p }
  } catch (e) {
    return { err: e }
  }
}

/** Calls the sync form `f`; what it returned, or what it threw. */
export const viaSync = async (f: (...a: Array<any>) => unknown, ...args: Array<unknown>): Promise<Outcome> => {
  try {
    return { ok: f(...args) }
  } catch (e) {
    return { threw: e }
  }
}

/** `name(...args)` on `side` in `form`. */
const call = (side: Side, form: Form, name: string, ...args: Array<unknown>): Promise<Outcome> =>
  form === "promise"
    ? viaPromise(side.fs.promises[name].bind(side.fs.promises), ...args)
    : form === "sync"
      ? viaSync(side.fs[`${name}Sync`].bind(side.fs), ...args)
      : viaCallback(side.fs[name].bind(side.fs), ...args)

/** A call's value: the promise's or sync form's result, the callback's second argument. */
const valueOf = (form: Form, o: { readonly ok: unknown }): unknown => (form === "callback" ? (o.ok as Array<unknown>)[1] : o.ok)

/** Runs `op` on `side` in `form`. */
export const exec = async (side: Side, form: Form, op: Op): Promise<unknown> => {
  const P = (r: Rel) => abs(side, r)
  switch (op.op) {
    case "writeFile":
      return call(side, form, "writeFile", P(op.path), bytes(op.data), {
        ...(op.flag === undefined ? {} : { flag: op.flag }),
        ...(op.mode === undefined ? {} : { mode: op.mode })
      })
    case "appendFile":
      return op.data.kind === "text"
        ? call(side, form, "appendFile", P(op.path), op.data.text, op.data.encoding)
        : call(side, form, "appendFile", P(op.path), bytes(op.data))
    case "readFile":
      return call(side, form, "readFile", P(op.path), {
        ...(op.encoding === undefined ? {} : { encoding: op.encoding }),
        ...(op.flag === undefined ? {} : { flag: op.flag })
      })
    case "mkdir":
      return call(side, form, "mkdir", P(op.path), { recursive: op.recursive, ...(op.mode === undefined ? {} : { mode: op.mode }) })
    case "rmdir":
      return call(side, form, "rmdir", P(op.path), op.recursive ? { recursive: true } : undefined)
    case "rm":
      return call(side, form, "rm", P(op.path), { recursive: op.recursive, force: op.force })
    case "unlink":
      return call(side, form, "unlink", P(op.path))
    case "rename":
      return call(side, form, "rename", P(op.from), P(op.to))
    case "symlink":
      return call(side, form, "symlink", op.absolute ? P(op.target) : op.target, P(op.path))
    case "link":
      return call(side, form, "link", P(op.from), P(op.to))
    case "readlink":
      return call(side, form, "readlink", P(op.path), op.encoding)
    case "realpath":
      // The JavaScript realpath resolves "" against the working directory (DIFFERENCES: relative paths).
      if (op.path === "<empty>" && !op.native && form !== "promise") return { ok: "relative" }
      if (op.native && form === "callback") return viaCallback(side.fs.realpath.native, P(op.path))
      if (op.native && form === "sync") return viaSync(side.fs.realpathSync.native, P(op.path))
      return call(side, form, "realpath", P(op.path))
    case "stat":
      return call(side, form, op.follow ? "stat" : "lstat", P(op.path), { bigint: op.bigint })
    case "access":
      return call(side, form, "access", P(op.path), op.mode)
    case "chmod":
      return call(side, form, "chmod", P(op.path), op.mode)
    case "utimes": {
      const set = await call(side, form, op.follow ? "utimes" : "lutimes", P(op.path), op.atime, op.mtime)
      const after = await call(side, "promise", "lstat", P(op.path), { bigint: true })
      return { set, times: "ok" in after ? { atimeNs: String((after.ok as any).atimeNs), mtimeNs: String((after.ok as any).mtimeNs) } : after }
    }
    case "truncate":
      return call(side, form, "truncate", P(op.path), op.len)
    case "copyFile":
      return call(side, form, "copyFile", P(op.from), P(op.to), op.mode)
    case "cp": {
      const { recursive, force, errorOnExist, dereference, verbatimSymlinks } = op
      return call(side, form, "cp", P(op.from), P(op.to), { recursive, force, errorOnExist, dereference, verbatimSymlinks })
    }
    case "readdir": {
      const got = await call(side, form, "readdir", P(op.path), {
        withFileTypes: op.withFileTypes,
        recursive: op.recursive,
        ...(op.encoding === undefined ? {} : { encoding: op.encoding })
      })
      // Node 20 does a recursive readdir's callback form synchronously, so it throws what it meets (DIFFERENCES).
      return form === "callback" && op.recursive && "threw" in got ? { err: [got.threw] } : got
    }
    case "exists":
      return form === "sync" ? viaSync(side.fs.existsSync, P(op.path)) : viaCallback(side.fs.exists, P(op.path))
    case "opendir": {
      const opened = await call(side, form, "opendir", P(op.path))
      if (!("ok" in opened)) return opened
      const dir = valueOf(form, opened) as any
      const names: Array<string> = []
      if (form === "sync") {
        for (let d = dir.readSync(); d !== null; d = dir.readSync()) names.push(`${d.name}:${d.isDirectory()}`)
        dir.closeSync()
      } else for await (const d of dir as AsyncIterable<{ name: string; isDirectory(): boolean }>) names.push(`${d.name}:${d.isDirectory()}`)
      return { ok: names.sort(), path: (dir as { path: string }).path }
    }
    case "mkdtemp": {
      const made = await call(side, form, "mkdtemp", P(op.prefix))
      if (!("ok" in made)) return made
      const path = valueOf(form, made) as string
      await side.fs.promises.rmdir(path)
      return { ok: path.slice(0, -6), length: path.length }
    }
    case "statfs": {
      const got = await call(side, form, "statfs", P(op.path))
      return "ok" in got ? { ok: "StatFs" } : got
    }
    case "open": {
      const opened = await call(side, form, "open", P(op.path), op.flags, op.mode)
      if ("ok" in opened) {
        const value = valueOf(form, opened)
        const previous = side.slots[op.slot]
        if (previous !== undefined) await closeSlot(side, previous)
        side.slots[op.slot] = { form, value }
        return { ok: "opened" }
      }
      return opened
    }
    case "group":
      return Promise.all(op.ops.map((o) => exec(side, form, o)))
    case "writeStream":
      return writeStream(side, P(op.path), op.chunks, op.options)
    case "readStream":
      return readStream(side, P(op.path), op.options)
    default:
      return execSlot(side, op)
  }
}

const closeSlot = async (side: Side, s: { readonly form: Form; readonly value: any }) => {
  if (s.form === "promise") await s.value.close()
  else if (s.form === "sync") side.fs.closeSync(s.value)
  else await new Promise((resolve) => side.fs.close(s.value, resolve))
}

/** A descriptor operation on a slot, in the form the slot was opened in (a closed or empty slot is a bad descriptor). */
const execSlot = async (side: Side, op: Op): Promise<unknown> => {
  const s = "slot" in op ? side.slots[op.slot] : undefined
  const form: Form = s?.form ?? "callback"
  const fh = s?.value
  const fd = s === undefined ? BAD_FD : form === "promise" ? fh.fd : fh
  const F = side.fs
  const viaHandle = form === "promise" && s !== undefined
  /** The descriptor form of `name`: sync on a slot opened by the sync form, else the callback's. */
  const viaFd = (name: string, ...args: Array<unknown>) => (form === "sync" ? viaSync(F[`${name}Sync`], fd, ...args) : viaCallback(F[name], fd, ...args))
  switch (op.op) {
    case "close": {
      if (s !== undefined) side.slots[op.slot] = undefined
      return viaHandle ? viaPromise(() => fh.close()) : viaFd("close")
    }
    case "read": {
      const buf = Buffer.alloc(Math.max(op.length, 1), 0x2e)
      const pos = positionArg(op.position)
      return viaHandle ? viaPromise(() => fh.read(buf, 0, op.length, pos)) : viaFd("read", buf, 0, op.length, pos)
    }
    case "write": {
      const pos = positionArg(op.position)
      const d = op.data
      if (d.kind === "text") return viaHandle ? viaPromise(() => fh.write(d.text, pos, d.encoding)) : viaFd("write", d.text, pos, d.encoding)
      const b = bytes(op.data)
      return viaHandle ? viaPromise(() => fh.write(b, 0, b.length, pos)) : viaFd("write", b, 0, b.length, pos)
    }
    case "readv": {
      const bufs = op.lengths.map((n) => Buffer.alloc(n, 0x2e))
      const pos = positionArg(op.position)
      return viaHandle ? viaPromise(() => fh.readv(bufs, pos)) : viaFd("readv", bufs, pos)
    }
    case "writev": {
      const bufs = op.data.map(bytes)
      const pos = positionArg(op.position)
      return viaHandle ? viaPromise(() => fh.writev(bufs, pos)) : viaFd("writev", bufs, pos)
    }
    case "fstat":
      return viaHandle ? viaPromise(() => fh.stat()) : viaFd("fstat")
    case "ftruncate":
      return viaHandle ? viaPromise(() => fh.truncate(op.len)) : viaFd("ftruncate", op.len)
    case "fchmod":
      return viaHandle ? viaPromise(() => fh.chmod(op.mode)) : viaFd("fchmod", op.mode)
    case "futimes":
      return viaHandle ? viaPromise(() => fh.utimes(op.atime, op.mtime)) : viaFd("futimes", op.atime, op.mtime)
    case "fsync":
      return viaHandle ? viaPromise(() => fh.sync()) : viaFd("fsync")
    case "readFd": {
      const got = viaHandle ? await viaPromise(() => fh.readFile(op.encoding)) : await viaFd("readFile", op.encoding)
      return got
    }
  }
  throw new Error(`unknown operation ${op.op}`)
}

/** Writes `chunks` through a `WriteStream`; the events in order, the counts, and how it ended. */
const writeStream = (side: Side, path: string, chunks: ReadonlyArray<Data>, options: StreamOptions): Promise<unknown> =>
  new Promise((resolve) => {
    const events: Array<unknown> = []
    let w: any
    try {
      w = side.fs.createWriteStream(path, options)
    } catch (e) {
      return resolve({ threw: e })
    }
    events.push(`pending:${w.pending}`)
    for (const e of ["open", "ready", "finish", "close"]) w.on(e, () => events.push(e))
    const done = () => resolve({ events, bytesWritten: w.bytesWritten, path: w.path })
    w.on("error", (e: unknown) => {
      events.push({ error: e })
      setTimeout(done, 20)
    })
    w.on("close", done)
    for (const c of chunks) w.write(c.kind === "text" ? c.text : bytes(c), c.kind === "text" ? c.encoding : undefined)
    w.end()
    if (options.emitClose === false) w.on("finish", () => setTimeout(done, 20))
  })

/** Reads a file through a `ReadStream`; the events in order, the data, `bytesRead`, and how it ended. */
const readStream = (side: Side, path: string, options: StreamOptions | BufferEncoding): Promise<unknown> =>
  new Promise((resolve) => {
    const events: Array<unknown> = []
    const chunks: Array<unknown> = []
    let r: any
    try {
      r = side.fs.createReadStream(path, options)
    } catch (e) {
      return resolve({ threw: e })
    }
    for (const e of ["open", "ready", "end", "close"]) r.on(e, () => events.push(e))
    const done = () => resolve({ events, chunks: chunks.join("|"), bytesRead: r.bytesRead, path: r.path })
    r.on("error", (e: unknown) => {
      events.push({ error: e })
      setTimeout(done, 20)
    })
    r.on("data", (c: unknown) => chunks.push(typeof c === "string" ? `s:${c}` : `b:${(c as Buffer).toString("hex")}`))
    r.on("close", done)
    if (typeof options === "object" && options.emitClose === false) r.on("end", () => setTimeout(done, 20))
  })

/** Closes whatever a run left open on `side`. */
export const closeAll = async (side: Side) => {
  for (const s of side.slots) if (s !== undefined) await closeSlot(side, s).catch(() => undefined)
  side.slots.length = 0
}

// --- normalising -------------------------------------------------------------------------------------

/** What is compared of an error: class, name, code, message, errno, syscall, paths (`mkdtemp`'s random six characters masked). */
const errorOf = (e: any) =>
  (e?.syscall === "mkdtemp" ? masked : (x: unknown) => x)({
    class: e instanceof RangeError ? "RangeError" : e instanceof TypeError ? "TypeError" : e instanceof Error ? "Error" : typeof e,
    name: e?.name,
    code: e?.code,
    message: e?.message,
    errno: e?.errno,
    syscall: e?.syscall,
    path: e?.path,
    dest: e?.dest
  })

const masked = (e: Record<string, unknown>) => ({
  ...e,
  path: String(e["path"]).slice(0, -6) + "XXXXXX",
  message: String(e["message"]).replace(/.{6}'$/, "XXXXXX'")
})

const STAT_FIELDS = ["mode", "nlink", "uid", "gid", "rdev", "blksize"] as const

/** A value as it is compared: plain data without what `DIFFERENCES` leaves out. */
export const normalise = (v: unknown): unknown => {
  if (v === null || v === undefined || typeof v === "number" || typeof v === "string" || typeof v === "boolean") return v
  if (typeof v === "bigint") return `${v}n`
  if (typeof v === "symbol") return String(v)
  if (typeof v === "function") return "function"
  const kind = (v as { constructor?: { name?: string } }).constructor?.name
  if (kind === "Dir" || kind === "FileHandle" || kind === "StatFs" || kind === "ReadStream" || kind === "WriteStream") return `<${kind}>`
  if (Buffer.isBuffer(v)) return `buffer:${v.toString("hex")}`
  if (v instanceof Error) return errorOf(v)
  if (Array.isArray(v)) return v.map(normalise)
  const o = v as Record<string, any>
  if (typeof o.isFile === "function" && "mode" in o && "nlink" in o) {
    const isDir = o.isDirectory()
    const out: Record<string, unknown> = {
      class: typeof o.mode === "bigint" ? "BigIntStats" : "Stats",
      isDirectory: isDir,
      isFile: o.isFile(),
      isSymbolicLink: o.isSymbolicLink()
    }
    for (const k of STAT_FIELDS) out[k] = normalise(o[k])
    if (!isDir) out["size"] = normalise(o.size)
    out["keys"] = Object.keys(o).join(",")
    return out
  }
  if (typeof o.isFile === "function" && "name" in o)
    return { dirent: normalise(o.name), parentPath: normalise(o.parentPath), dir: o.isDirectory(), file: o.isFile(), link: o.isSymbolicLink() }
  if ("bytesRead" in o && "buffer" in o) return { bytesRead: o.bytesRead, buffer: normalise(o.buffer) }
  if ("bytesRead" in o && "buffers" in o) return { bytesRead: o.bytesRead, buffers: normalise(o.buffers) }
  if ("bytesWritten" in o && "buffer" in o) return { bytesWritten: o.bytesWritten, buffer: normalise(o.buffer) }
  if ("bytesWritten" in o && "buffers" in o) return { bytesWritten: o.bytesWritten, buffers: normalise(o.buffers) }
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(o)) out[k] = normalise(o[k])
  return out
}

/** Every entry under `base` on `side`: type, mode, owner, size, links, content or target, sorted by path. */
export const tree = async (side: Side): Promise<Array<unknown>> => {
  const fs = side.fs.promises
  const out: Array<unknown> = []
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const name of (await fs.readdir(dir)) as Array<string>) {
      const p = `${dir}/${name}`
      const r = `${rel}${name}`
      const s = await fs.lstat(p)
      const entry: Record<string, unknown> = { path: r, mode: s.mode.toString(8), nlink: s.nlink, uid: s.uid, gid: s.gid }
      if (s.isDirectory()) {
        out.push(entry)
        if ((s.mode & 0o500) === 0o500 || process.getuid?.() === 0) await walk(p, `${r}/`)
      } else if (s.isSymbolicLink()) out.push({ ...entry, size: s.size, target: await fs.readlink(p) })
      else
        out.push({
          ...entry,
          size: s.size,
          content: (s.mode & 0o400) !== 0 || process.getuid?.() === 0 ? ((await fs.readFile(p)) as Buffer).toString("hex") : "unreadable"
        })
    }
  }
  const top = await fs.lstat(side.base).then(
    (s: { isDirectory(): boolean }) => s.isDirectory(),
    () => false
  )
  if (top) await walk(side.base, "")
  else out.push({ base: "gone or not a directory" })
  return out
}

/** `v` as short text for a failure report: long hex and buffers abbreviated. */
export const brief = (v: unknown): string =>
  JSON.stringify(v, (_k, x) => (typeof x === "string" && x.length > 80 ? `${x.slice(0, 40)}…(${x.length})` : typeof x === "bigint" ? `${x}n` : x))

const pathsOf = (op: Op): Array<Rel> => ("path" in op ? [op.path] : "from" in op ? [op.from, op.to] : "prefix" in op ? [op.prefix] : [])
/** The path names a last component Linux treats specially: `.`, `..`, a trailing `/`, or nothing. */
const specialLast = (r: Rel) => r === "<empty>" || r === "" || r.endsWith("/") || r === "." || r === ".." || r.endsWith("/.") || r.endsWith("/..")
const codeIn = (o: unknown): string | undefined => {
  const x = o as { err?: unknown; threw?: unknown; set?: unknown; events?: Array<{ error?: { code?: string } }> } | undefined
  if (x?.set !== undefined) return codeIn(x.set)
  if (x?.err !== undefined) return ((Array.isArray(x.err) ? x.err[0] : x.err) as { code?: string }).code
  // The sync form throws its system errors.
  if (x?.threw !== undefined) return (x.threw as { code?: string }).code
  return x?.events?.find((e) => typeof e === "object" && e.error !== undefined)?.error?.code
}

/**
 * Where the VFS answers other than Linux (found by this test; the VFS's to fix): Linux resolves
 * every directory of a path before it looks at the last component, and gives `.`, `..` and a
 * trailing `/` their own answers (`rmdir("..")` is `ENOTEMPTY`, `rename` of `.` is `EBUSY`, a new
 * name with a trailing slash is `ENOENT`, `mkdir("")` is `ENOENT`); the VFS checks the last
 * component first and answers `EISDIR`/`EINVAL`, or makes the name. Linux walks `..` only from a
 * directory (`file/..` is `ENOTDIR`); the VFS steps back from anything. `mkdir -p` of an existing
 * non-directory is `EEXIST` (the VFS: `ENOTDIR`), through a dangling link `ENOTDIR` naming the
 * link (the VFS: `ENOENT`), and onto one `ENOENT` (the VFS: done). Creating through a link whose target ends in `/`
 * is `EISDIR` before the link is followed again (the VFS follows it: `ELOOP`). And `mkdir -p` of a path with
 * `..` makes what Linux's walk makes (`a/..` makes `a`); the VFS normalises `..` away first. A step that differs only so
 * is counted under its label; it ends its sequence unless neither side changed anything (both
 * failed), since the trees may differ from there. A `mkdir -p` with `..` ends its sequence
 * whatever it answered.
 */
export const vfsDivergence = (op: Op, expected: unknown, actual: unknown): { readonly label: string; readonly ends: boolean } | undefined => {
  if (op.op === "group") {
    const found = op.ops.map((o, i) => {
      const [e, a] = [(expected as Array<unknown>)[i], (actual as Array<unknown>)[i]]
      return vfsDivergence(o, e, a) ?? (JSON.stringify(e) === JSON.stringify(a) ? null : undefined)
    })
    if (found.includes(undefined)) return undefined
    const known = found.filter((f) => f != null)
    return known.length === 0 ? undefined : { label: known[0]!.label, ends: known.some((k) => k.ends) }
  }
  const label = divergenceLabel(op, expected, actual)
  if (label === undefined) return undefined
  // Where both sides failed (or only read), neither changed anything: the sequence goes on.
  const failedBoth = codeIn(expected) !== undefined && codeIn(actual) !== undefined
  return { label, ends: !(failedBoth || op.op === "readFd") || label.startsWith("mkdir -p reads") }
}

const divergenceLabel = (op: Op, expected: unknown, actual: unknown): string | undefined => {
  if (op.op === "mkdir" && op.recursive && op.path.split("/").includes("..")) return "mkdir -p reads `..` lexically"
  const [linux, vfs] = [codeIn(expected) ?? "ok", codeIn(actual) ?? "ok"]
  if (op.op === "readFd" && vfs === "EBADF" && (linux === "ok" || linux === "ERR_INVALID_ARG_TYPE")) return "Node 20 drops readFile(fd)'s EBADF (DIFFERENCES)"
  if (linux === "ENOTDIR" && JSON.stringify(expected) !== JSON.stringify(actual) && pathsOf(op).some((r) => r.split("/").slice(1).includes("..")))
    return `.. after a non-directory (${op.op}: Linux ENOTDIR, VFS ${vfs})`
  if (linux === vfs || !/^(ok|E[A-Z]+)$/.test(linux) || !/^(ok|E[A-Z]+)$/.test(vfs)) return undefined
  if (op.op === "mkdir" && op.recursive && linux === "EEXIST" && vfs === "ENOTDIR") return "mkdir -p onto a non-directory (Linux EEXIST, VFS ENOTDIR)"
  if (op.op === "mkdir" && op.recursive && linux === "ENOTDIR" && vfs === "ENOENT")
    return "mkdir -p through a dangling link (Linux ENOTDIR at the link, VFS ENOENT)"
  if (op.op === "mkdir" && op.recursive && linux === "ENOENT" && vfs === "ok") return "mkdir -p onto a dangling link (Linux ENOENT, VFS ok)"
  if (linux === "EISDIR" && vfs === "ELOOP") return "create through a link to `name/` (Linux EISDIR, VFS ELOOP)"
  if (pathsOf(op).some(specialLast)) return `last component (${op.op}: Linux ${linux}, VFS ${vfs})`
  return undefined
}
