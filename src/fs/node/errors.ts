/**
 * Node's errors, as `node:fs` throws and rejects with them on Node 20: the argument errors
 * (`ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE`, `ERR_OUT_OF_RANGE`, …) with Node's classes
 * (`TypeError`, `RangeError`, `Error`), own `code` and message text; the system errors of a failed
 * call (`ENOENT: no such file or directory, open '/x'`, with `errno`, `code`, `syscall`, `path`,
 * `dest`); and the `SystemError`s of the compound operations (`ERR_FS_EISDIR`, `ERR_FS_CP_*`).
 *
 * Invariant: every message is built from the arguments alone (no global state), so the same bad
 * argument gives the same text in the promise, callback and sync forms.
 */
import { inspect } from "node:util"

/** Linux's errno and libuv's description of each code the file system answers. */
const uvErrors: Record<string, readonly [number, string]> = {
  EPERM: [-1, "operation not permitted"],
  ENOENT: [-2, "no such file or directory"],
  EIO: [-5, "i/o error"],
  EBADF: [-9, "bad file descriptor"],
  EAGAIN: [-11, "resource temporarily unavailable"],
  ENOMEM: [-12, "not enough memory"],
  EACCES: [-13, "permission denied"],
  EFAULT: [-14, "bad address in system call argument"],
  EBUSY: [-16, "resource busy or locked"],
  EEXIST: [-17, "file already exists"],
  EXDEV: [-18, "cross-device link not permitted"],
  ENOTDIR: [-20, "not a directory"],
  EISDIR: [-21, "illegal operation on a directory"],
  EINVAL: [-22, "invalid argument"],
  EMFILE: [-24, "too many open files"],
  EFBIG: [-27, "file too large"],
  EDEADLK: [-35, "resource deadlock avoided"],
  ENOSPC: [-28, "no space left on device"],
  ENAMETOOLONG: [-36, "name too long"],
  ENOTEMPTY: [-39, "directory not empty"],
  ELOOP: [-40, "too many symbolic links encountered"],
  ENOTSUP: [-95, "operation not supported on socket"],
  ESTALE: [-116, "stale file handle"]
}

/**
 * A failed system call as Node reports it (libuv's `UVException`): `errno` (negative, Linux's),
 * `code`, `syscall`, `path` and `dest` when the call named them, message
 * `CODE: description, syscall 'path' -> 'dest'`. Its constructor reads as `Error`, as Node's does.
 */
export class NodeFsError extends Error {
  declare readonly errno: number
  declare readonly code: string
  declare readonly syscall: string
  declare readonly path?: string
  declare readonly dest?: string
  constructor(code: string, syscall: string, path?: string, dest?: string) {
    const [errno, text] = uvErrors[code] ?? [-5, code.toLowerCase()]
    super(`${code}: ${text}, ${syscall}${path === undefined ? "" : ` '${path}'`}${dest === undefined ? "" : ` -> '${dest}'`}`)
    // Own, enumerable, in Node's order: errno, code, syscall, path, dest.
    Object.assign(this, { errno, code, syscall })
    if (path !== undefined) Object.assign(this, { path })
    if (dest !== undefined) Object.assign(this, { dest })
  }
}
Object.defineProperty(NodeFsError.prototype, "constructor", { get: () => Error, configurable: true })
Object.defineProperty(NodeFsError.prototype, "name", { value: "Error", writable: true, configurable: true })

/**
 * Gives `error` Node's code: an own enumerable `code`, `toString()` and the first stack line as
 * `Name [CODE]: message` (Node's `NodeError`), and a constructor that reads as the base class.
 */
const coded = <E extends Error>(error: E, code: string): E => {
  Object.defineProperty(error, "name", { value: `${error.name} [${code}]`, configurable: true, writable: true, enumerable: false })
  void error.stack
  delete (error as { name?: string }).name
  Object.assign(error, { code })
  return error
}

type Base = ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor

/** `Name [CODE]: message`, Node's `NodeError.prototype.toString`. */
function codedToString(this: Error & { code?: unknown }) {
  return `${this.name} [${String(this.code)}]: ${this.message}`
}

/** The subclasses of `Error`, `TypeError` and `RangeError` whose instances print as Node's coded errors; each constructor reads as its base. */
const classes = new Map<Base, Base>(
  [Error, TypeError, RangeError].map((base: Base) => {
    const K = function (this: Error, message: string) {
      return Reflect.construct(base, [message], new.target ?? K)
    } as unknown as Base
    Object.setPrototypeOf(K, base)
    ;(K as { prototype: unknown }).prototype = Object.create(base.prototype, {
      constructor: { get: () => base, configurable: true },
      toString: { value: codedToString, writable: true, configurable: true }
    })
    return [base, K]
  })
)

/** A Node error of class `base` with `code` and `message`, as Node's `NodeError` builds it. */
export const nodeError = (base: Base, code: string, message: string): Error => coded(new (classes.get(base) ?? base)(message), code)

/**
 * The errors Node's C++ bindings throw for a bad descriptor or mode: a plain `TypeError`/`RangeError`
 * with an own `code` (its `toString()` shows no code, unlike `nodeError`).
 */
export const bindingError = (base: TypeErrorConstructor | RangeErrorConstructor, code: string, message: string): Error =>
  Object.assign(new base(message), { code })

// --- argument errors --------------------------------------------------------------------------

const kTypes = ["string", "function", "number", "object", "Function", "Object", "boolean", "bigint", "symbol"]
const classRegExp = /^([A-Z][a-z0-9]*)+$/

/** Node's `determineSpecificType`: how a received value is described. */
export const describe = (value: unknown): string => {
  if (value === null) return "null"
  if (value === undefined) return "undefined"
  switch (typeof value) {
    case "bigint":
      return `type bigint (${value}n)`
    case "number":
      if (value === 0) return 1 / value === -Infinity ? "type number (-0)" : "type number (0)"
      return `type number (${value})`
    case "boolean":
      return `type boolean (${value})`
    case "symbol":
      return `type symbol (${String(value)})`
    case "function":
      return `function ${value.name}`
    case "object": {
      const ctor = (value as { constructor?: { name?: unknown } }).constructor
      if (ctor && "name" in ctor) return `an instance of ${String(ctor.name)}`
      return inspect(value, { depth: -1 })
    }
    case "string": {
      const s = value.length > 28 ? `${value.slice(0, 25)}...` : value
      return s.includes("'") ? `type string (${JSON.stringify(s)})` : `type string ('${s}')`
    }
  }
  return `type ${typeof value}`
}

const list = (items: Array<string>, prefix: string) =>
  items.length > 2 ? `${prefix}${items.slice(0, -1).join(", ")}, or ${items[items.length - 1]}` : `${prefix}${items.join(" or ")}`

/** Node's `ERR_INVALID_ARG_TYPE` (a `TypeError`): `name` must be one of `expected` (types, classes, or words). */
export const invalidArgType = (name: string, expected: string | ReadonlyArray<string>, actual: unknown): Error => {
  const wanted = typeof expected === "string" ? [expected] : [...expected]
  let msg = name.endsWith(" argument") ? `The ${name} must be ` : `The "${name}" ${name.includes(".") ? "property" : "argument"} must be `
  const types: Array<string> = []
  const instances: Array<string> = []
  const other: Array<string> = []
  for (const value of wanted) {
    if (kTypes.includes(value)) types.push(value.toLowerCase())
    else if (classRegExp.test(value)) instances.push(value)
    else other.push(value)
  }
  // `object` among classes is spelled as the class `Object`, to set it apart from the others.
  if (instances.length > 0) {
    const at = types.indexOf("object")
    if (at !== -1) {
      types.splice(at, 1)
      instances.push("Object")
    }
  }
  if (types.length > 0) {
    msg += types.length > 2 ? list(types, "one of type ") : types.length === 2 ? `one of type ${types[0]} or ${types[1]}` : `of type ${types[0]}`
    if (instances.length > 0 || other.length > 0) msg += " or "
  }
  if (instances.length > 0) {
    msg += list(instances, "an instance of ")
    if (other.length > 0) msg += " or "
  }
  if (other.length > 0) {
    if (other.length > 1) msg += list(other, "one of ")
    else msg += `${other[0]!.toLowerCase() !== other[0] ? "an " : ""}${other[0]}`
  }
  return nodeError(TypeError, "ERR_INVALID_ARG_TYPE", `${msg}. Received ${describe(actual)}`)
}

/** Node's `ERR_INVALID_ARG_VALUE` (a `TypeError`, or `RangeError` where Node uses that variant). */
export const invalidArgValue = (name: string, value: unknown, reason = "is invalid", base: Base = TypeError): Error => {
  let shown = inspect(value)
  if (shown.length > 128) shown = `${shown.slice(0, 128)}...`
  return nodeError(base, "ERR_INVALID_ARG_VALUE", `The ${name.includes(".") ? "property" : "argument"} '${name}' ${reason}. Received ${shown}`)
}

/** `1_000_000`: Node's digit grouping in range errors. */
const grouped = (digits: string): string => {
  let out = ""
  let i = digits.length
  const start = digits[0] === "-" ? 1 : 0
  for (; i >= start + 4; i -= 3) out = `_${digits.slice(i - 3, i)}${out}`
  return `${digits.slice(0, i)}${out}`
}

/** Node's `ERR_OUT_OF_RANGE` (a `RangeError`): the value of `name` must be `range`. */
export const outOfRange = (name: string, range: string, input: unknown): Error => {
  let received: string
  if (Number.isInteger(input) && Math.abs(input as number) > 2 ** 32) received = grouped(String(input))
  else if (typeof input === "bigint") received = `${input > 2n ** 32n || input < -(2n ** 32n) ? grouped(String(input)) : String(input)}n`
  else received = inspect(input)
  return nodeError(RangeError, "ERR_OUT_OF_RANGE", `The value of "${name}" is out of range. It must be ${range}. Received ${received}`)
}

/** Node's `ERR_INCOMPATIBLE_OPTION_PAIR`. */
export const incompatibleOptionPair = (a: string, b: string): Error =>
  nodeError(TypeError, "ERR_INCOMPATIBLE_OPTION_PAIR", `Option "${a}" cannot be used in combination with option "${b}"`)

/** Node's `ERR_FS_INVALID_SYMLINK_TYPE`. */
export const invalidSymlinkType = (type: string): Error =>
  nodeError(Error, "ERR_FS_INVALID_SYMLINK_TYPE", `Symlink type must be one of "dir", "file", or "junction". Received "${type}"`)

/** Node's `ERR_METHOD_NOT_IMPLEMENTED`. */
export const methodNotImplemented = (method: string): Error => nodeError(Error, "ERR_METHOD_NOT_IMPLEMENTED", `The ${method} method is not implemented`)

/** Node's `ERR_INVALID_STATE`. */
export const invalidState = (what: string): Error => nodeError(Error, "ERR_INVALID_STATE", `Invalid state: ${what}`)

/** Node's `ERR_DIR_CLOSED`. */
export const dirClosed = (): Error => nodeError(Error, "ERR_DIR_CLOSED", "Directory handle was closed")

/** Node's `ERR_DIR_CONCURRENT_OPERATION`. */
export const dirConcurrentOperation = (): Error =>
  nodeError(Error, "ERR_DIR_CONCURRENT_OPERATION", "Cannot do synchronous work on directory handle with concurrent asynchronous operations")

/** Node's `ERR_FS_FILE_TOO_LARGE`. */
/** Node's `ERR_INVALID_RETURN_VALUE`: `name` returned `value` where `input` was expected. */
export const invalidReturnValue = (input: string, name: string, value: unknown): Error => {
  const ctor = (value as { constructor?: { name?: string } } | null | undefined)?.constructor?.name
  const type = ctor ? `an instance of ${ctor}` : `type ${typeof value}`
  return nodeError(TypeError, "ERR_INVALID_RETURN_VALUE", `Expected ${input} to be returned from the "${name}" function but got ${type}.`)
}

export const fileTooLarge = (size: number): Error => nodeError(RangeError, "ERR_FS_FILE_TOO_LARGE", `File size (${size}) is greater than 2 GiB`)

/** Node's `AbortError` (`code: "ABORT_ERR"`), the signal's reason as `cause`. */
export class AbortError extends Error {
  declare readonly code: "ABORT_ERR"
  constructor(message = "The operation was aborted", options?: { cause?: unknown }) {
    super(message, options)
    Object.assign(this, { code: "ABORT_ERR", name: "AbortError" })
  }
}

/**
 * The closed-`FileHandle` error Node's `fsCall` throws: a plain `Error('file closed')` with
 * `code: "EBADF"` and the method's `syscall`.
 */
export const fileClosed = (syscall: string): Error => Object.assign(new Error("file closed"), { code: "EBADF", syscall })

// --- SystemError: compound operations ----------------------------------------------------------

/** What a `SystemError` says happened: the system call, its code and text, the paths. */
export interface SystemErrorContext {
  readonly code: string
  readonly message: string
  readonly path?: string
  readonly dest?: string
  readonly syscall: string
  readonly errno: number
}

const systemPrefixes: Record<string, string> = {
  ERR_FS_EISDIR: "Path is a directory",
  ERR_FS_CP_DIR_TO_NON_DIR: "Cannot overwrite non-directory with directory",
  ERR_FS_CP_EEXIST: "Target already exists",
  ERR_FS_CP_EINVAL: "Invalid src or dest",
  ERR_FS_CP_NON_DIR_TO_DIR: "Cannot overwrite directory with non-directory",
  ERR_FS_CP_SYMLINK_TO_SUBDIRECTORY: "Cannot overwrite symlink in subdirectory of self",
  ERR_FS_CP_UNKNOWN: "Cannot copy an unknown file type"
}

/**
 * Node's `SystemError` (`ERR_FS_EISDIR`, `ERR_FS_CP_*`): name `SystemError`, message
 * `Prefix: syscall returned CODE (text) path => dest`, the context as `info`, and `errno`,
 * `syscall`, `path`, `dest` read through it.
 */
export class SystemError extends Error {
  declare readonly code: string
  declare readonly info: SystemErrorContext
  declare readonly errno: number
  declare readonly syscall: string
  declare readonly path?: string
  declare readonly dest?: string
  constructor(key: keyof typeof systemPrefixes, context: SystemErrorContext) {
    super()
    let message = `${systemPrefixes[key]}: ${context.syscall} returned ${context.code} (${context.message})`
    if (context.path !== undefined) message += ` ${context.path}`
    if (context.dest !== undefined) message += ` => ${context.dest}`
    this.code = key
    const info = { ...context }
    Object.defineProperties(this, {
      name: { value: "SystemError", enumerable: false, writable: true, configurable: true },
      message: { value: message, enumerable: false, writable: true, configurable: true },
      info: { value: info, enumerable: true, configurable: true, writable: false },
      errno: { get: () => info.errno, enumerable: true, configurable: true },
      syscall: { get: () => info.syscall, enumerable: true, configurable: true }
    })
    if (info.path !== undefined) Object.defineProperty(this, "path", { get: () => info.path, enumerable: true, configurable: true })
    if (info.dest !== undefined) Object.defineProperty(this, "dest", { get: () => info.dest, enumerable: true, configurable: true })
    Object.defineProperty(this, "stack", {
      value: `${this.name} [${key}]: ${message}${(this.stack ?? "").slice((this.stack ?? "").indexOf("\n"))}`,
      writable: true,
      configurable: true,
      enumerable: false
    })
  }
  override toString() {
    return `${this.name} [${this.code}]: ${this.message}`
  }
}

/**
 * A synchronous call that cannot finish on the caller's stack (the kernel's `WouldWaitOnHost` or
 * `ReentrantRunSync`, as `cause`): Node's system error `EDEADLK` ("resource deadlock avoided") for
 * `syscall` — waiting for the host's event loop (or for the kernel this stack is running) while
 * holding that very stack would never end.
 */
export const syncDeadlock = (syscall: string, cause: unknown): NodeFsError => {
  const e = new NodeFsError("EDEADLK", syscall)
  Object.defineProperty(e, "cause", { value: cause, writable: true, configurable: true, enumerable: false })
  return e
}

/** Linux's positive errno values for the `SystemError`s' context. */
export const errnoOf = { EEXIST: 17, EISDIR: 21, EINVAL: 22, ENOTDIR: 20 } as const

/** `true` when `e` is a Node system error with `code`. */
export const hasCode = (e: unknown, code: string): boolean => typeof e === "object" && e !== null && (e as { code?: unknown }).code === code
