/**
 * Node's argument checks for `fs` (its `internal/validators` and `internal/fs/utils`), one
 * function each, with Node's error for each bad value. They are shared by the promise, callback
 * and sync forms, so one argument gets one answer in all three.
 *
 * Pure: each throws (synchronously) or returns the normalised value; nothing here does I/O.
 */
import { Buffer } from "node:buffer"
import { fileURLToPath } from "node:url"
import { types } from "node:util"
import { flagsNumber, O } from "../../servers/vfs/flags.js"
import { bindingError, describe, incompatibleOptionPair, invalidArgType, invalidArgValue, invalidSymlinkType, outOfRange } from "./errors.js"

const isUint8Array = (v: unknown): v is Uint8Array => v instanceof Uint8Array
/** `ArrayBuffer.isView`: a `Buffer`, any typed array, or a `DataView`. */
export const isArrayBufferView = (v: unknown): v is ArrayBufferView => ArrayBuffer.isView(v)

/** Node's `validateInteger`: a number, an integer, within `[min, max]`. */
export const validateInteger = (value: unknown, name: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number => {
  if (typeof value !== "number") throw invalidArgType(name, "number", value)
  if (!Number.isInteger(value)) throw outOfRange(name, "an integer", value)
  if (value < min || value > max) throw outOfRange(name, `>= ${min} && <= ${max}`, value)
  return value
}

/** Node's `validateInt32`. */
export const validateInt32 = (value: unknown, name: string, min = -2147483648, max = 2147483647): number => validateInteger(value, name, min, max)

/** Node's `validateUint32` (`positive`: at least 1). */
export const validateUint32 = (value: unknown, name: string, positive = false): number => validateInteger(value, name, positive ? 1 : 0, 4294967295)

/** Node's `validateBoolean`. */
export const validateBoolean = (value: unknown, name: string): boolean => {
  if (typeof value !== "boolean") throw invalidArgType(name, "boolean", value)
  return value
}

/** Node's `validateString`. */
export const validateString = (value: unknown, name: string): string => {
  if (typeof value !== "string") throw invalidArgType(name, "string", value)
  return value
}

/** Node's `validateFunction`. */
export const validateFunction = <F extends (...args: Array<any>) => unknown>(value: unknown, name: string): F => {
  if (typeof value !== "function") throw invalidArgType(name, "Function", value)
  return value as F
}

/** Node's `validateObject` (`nullable`: `null` passes too; arrays never do). */
export const validateObject = (value: unknown, name: string, nullable = false): void => {
  if ((value === null && !nullable) || Array.isArray(value) || (typeof value !== "object" && value !== null)) throw invalidArgType(name, "Object", value)
}

/** Node's `validateBuffer`. */
export const validateBuffer = (buffer: unknown, name = "buffer"): ArrayBufferView => {
  if (!isArrayBufferView(buffer)) throw invalidArgType(name, ["Buffer", "TypedArray", "DataView"], buffer)
  return buffer
}

/** Node's `validateAbortSignal`: `undefined`, or an object with `aborted`. */
export const validateAbortSignal = (signal: unknown, name: string): AbortSignal | undefined => {
  if (signal !== undefined && (signal === null || typeof signal !== "object" || !("aborted" in signal))) throw invalidArgType(name, "AbortSignal", signal)
  return signal as AbortSignal | undefined
}

/** Node's `validateOneOf`. */
export const validateOneOf = (value: unknown, name: string, oneOf: ReadonlyArray<unknown>): void => {
  if (!oneOf.includes(value)) {
    const allowed = oneOf.map((v) => (typeof v === "string" ? `'${v}'` : String(v))).join(", ")
    throw invalidArgValue(name, value, `must be one of: ${allowed}`)
  }
}

/** Node's `validateEncoding`: hex text must have an even length. */
export const validateEncoding = (data: string, encoding: unknown): void => {
  if (typeof encoding === "string" && encoding.toLowerCase() === "hex" && data.length % 2 !== 0) {
    throw invalidArgValue("encoding", encoding, `is invalid for data of length ${data.length}`)
  }
}

/** Node's `validateStringAfterArrayBufferView`: what is not a view must be a string. */
export const validateStringAfterArrayBufferView = (value: unknown, name: string): string => {
  if (typeof value !== "string") throw invalidArgType(name, ["string", "Buffer", "TypedArray", "DataView"], value)
  return value
}

/** Node's `parseFileMode`: a 32-bit unsigned integer or an octal string; `def` when absent. */
export const parseFileMode = (value: unknown, name: string, def?: number): number => {
  let v = value ?? def
  if (typeof v === "string") {
    if (!/^[0-7]+$/.test(v)) throw invalidArgValue(name, v, "must be a 32-bit unsigned integer or an octal string")
    v = Number.parseInt(v, 8)
  }
  return validateUint32(v, name)
}

/** Node's `assertEncoding` (through `getOptions`): a known encoding, or `buffer`. */
const assertEncoding = (encoding: unknown): void => {
  if (encoding && encoding !== "buffer" && !Buffer.isEncoding(encoding as string)) throw invalidArgValue("encoding", encoding, "is invalid encoding")
}

/** Options as `getOptions` returns them: an object (the caller's own, or defaults with `encoding`). */
export type Options = Record<string, any>

/** Node's `getOptions`: `null`/a function → `defaults`; a string → `{ ...defaults, encoding }`; an object as is (checked). */
export const getOptions = (options: unknown, defaults: Options = {}): Options => {
  if (options == null || typeof options === "function") return defaults
  let o: Options
  if (typeof options === "string") o = { ...defaults, encoding: options }
  else if (typeof options !== "object") throw invalidArgType("options", ["string", "Object"], options)
  else o = options as Options
  assertEncoding(o.encoding)
  if (o.signal !== undefined) validateAbortSignal(o.signal, "options.signal")
  return o
}

/** Node's `copyObject`: the enumerable properties (own and inherited) into a fresh object. */
export const copyObject = (source: Options): Options => {
  const target: Options = {}
  for (const key in source) target[key] = source[key]
  return target
}

/** A path as given to Node: a string, or a `Buffer` (any `Uint8Array`), after `file:` URLs became paths. */
export type PathArg = string | Uint8Array

/** Node's `getValidatedPath`: a string, `Uint8Array` or `file:` URL, without null bytes. */
export const getValidatedPath = (fileURLOrPath: unknown, name = "path"): PathArg => {
  const path = toPathIfFileURL(fileURLOrPath)
  validatePath(path, name)
  return path as PathArg
}

/** Node's `toPathIfFileURL`: a URL (Node's `isURL`: `href` and `protocol`, no `auth` or `path`) becomes its file path. */
export const toPathIfFileURL = (v: unknown): unknown => {
  const u = v as { href?: unknown; protocol?: unknown; auth?: unknown; path?: unknown } | null | undefined
  return u?.href && u.protocol && u.auth === undefined && u.path === undefined ? fileURLToPath(v as URL) : v
}

/** Node's `validatePath`. */
export const validatePath = (path: unknown, name = "path"): void => {
  if (typeof path !== "string" && !isUint8Array(path)) throw invalidArgType(name, ["string", "Buffer", "URL"], path)
  if ((typeof path === "string" && path.includes("\u0000")) || (isUint8Array(path) && path.includes(0))) {
    throw invalidArgValue(name, path, "must be a string, Uint8Array, or URL without null bytes")
  }
}

/** A validated path as the text the VFS speaks (a `Buffer` path's bytes read as UTF-8). */
export const pathText = (p: PathArg): string => (typeof p === "string" ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString("utf8"))

/**
 * Node's descriptor check in JS (`getValidatedFd`: `read`, `write`, `readv`, `writev`): an int32 ≥ 0
 * (`-0` is 0).
 */
export const getValidatedFd = (fd: unknown, name = "fd"): number => (Object.is(fd, -0) ? 0 : validateInt32(fd, name, 0))

/**
 * The descriptor check of Node's C++ bindings (`close`, `fstat`, `fsync`, `ftruncate`, `futimes`,
 * `fchmod`, `fchown`…): the same rule as `getValidatedFd`, thrown as a plain `TypeError`/`RangeError`
 * whose text the C++ side builds (a bigint without its `n`, a function without its name, the
 * message cut at a null byte, as a C string is).
 */
export const bindingFd = (fd: unknown): number => {
  if (typeof fd !== "number")
    throw bindingError(TypeError, "ERR_INVALID_ARG_TYPE", cString(`The "fd" argument must be of type number. Received ${bindingDescribe(fd)}`))
  if (!Number.isInteger(fd)) throw bindingError(RangeError, "ERR_OUT_OF_RANGE", `The value of "fd" is out of range. It must be an integer. Received ${fd}`)
  if (fd < 0 || fd > 2147483647)
    throw bindingError(RangeError, "ERR_OUT_OF_RANGE", `The value of "fd" is out of range. It must be >= 0 && <= 2147483647. Received ${fd}`)
  return fd === 0 ? 0 : fd
}
const bindingDescribe = (v: unknown): string =>
  typeof v === "bigint"
    ? `type bigint (${v})`
    : typeof v === "function"
      ? "function"
      : typeof v === "object" && v !== null
        ? `an instance of ${(v as { constructor?: { name?: string } }).constructor?.name ?? "Object"}`
        : describe(v)
const cString = (s: string) => (s.includes("\u0000") ? s.slice(0, s.indexOf("\u0000")) : s)

/**
 * The access/copy mode check of Node's C++ bindings: absent → `def`; a number, not NaN or infinite,
 * truncated to an int32 as C does (out of range: the lowest int32), within `[0, max]`.
 */
export const bindingMode = (mode: unknown, max: number, def = 0): number => {
  if (mode == null) return def
  if (typeof mode !== "number") throw bindingError(TypeError, "ERR_INVALID_ARG_TYPE", "mode must be int32 or null/undefined")
  if (!Number.isFinite(mode)) throw bindingError(RangeError, "ERR_OUT_OF_RANGE", "mode is out of range")
  const t = Math.trunc(mode)
  const m = t >= -2147483648 && t <= 2147483647 ? t : -2147483648
  if (m < 0 || m > max) throw bindingError(RangeError, "ERR_OUT_OF_RANGE", `mode is out of range: >= 0 && <= ${max}`)
  return m
}

/** Node's `stringToFlags`: an int32, a known flag string (`servers/vfs/flags.ts`), or `r` when absent. */
export const stringToFlags = (flags: unknown, name = "flags"): number => {
  if (typeof flags === "number") return validateInt32(flags, name)
  if (flags == null) return O.RDONLY
  // Only a flag string's own entry counts (not `constructor` or `toString` of the table).
  const n: unknown = typeof flags === "string" ? flagsNumber(flags) : undefined
  if (typeof n !== "number") throw invalidArgValue("flags", flags)
  return n
}

/** Node's `stringToSymlinkType` (the type is only checked on Linux). */
export const validateSymlinkType = (type: unknown): void => {
  if (typeof type === "string" && type !== "dir" && type !== "junction" && type !== "file") throw invalidSymlinkType(type)
}

/** Node's `toUnixTimestamp`: seconds since the epoch from a number, a numeric string or a `Date`. */
export const toUnixTimestamp = (time: unknown, name = "time"): number => {
  if (typeof time === "string" && +time == (time as unknown as number)) return +time
  if (typeof time === "number" && Number.isFinite(time)) return time < 0 ? Date.now() / 1000 : time
  if (types.isDate(time)) return (time as Date).getTime() / 1000
  throw invalidArgType(name, ["Date", "Time in seconds"], time)
}

/** Node's `validateOffsetLengthRead`. */
export const validateOffsetLengthRead = (offset: number, length: number, bufferLength: number): void => {
  if (offset < 0) throw outOfRange("offset", ">= 0", offset)
  if (length < 0) throw outOfRange("length", ">= 0", length)
  if (offset + length > bufferLength) throw outOfRange("length", `<= ${bufferLength - offset}`, length)
}

/** Node's `validateOffsetLengthWrite`. */
export const validateOffsetLengthWrite = (offset: number, length: number, byteLength: number): void => {
  if (offset > byteLength) throw outOfRange("offset", `<= ${byteLength}`, offset)
  if (length > byteLength - offset) throw outOfRange("length", `<= ${byteLength - offset}`, length)
  if (length < 0) throw outOfRange("length", ">= 0", length)
  validateInt32(length, "length", 0)
}

/** Node's `validatePosition`: an integer ≥ -1, or a bigint within int64. */
export const validatePosition = (position: unknown, name: string): number | bigint => {
  if (typeof position === "number") return validateInteger(position, name, -1)
  if (typeof position === "bigint") {
    if (!(position >= -(2n ** 63n) && position <= 2n ** 63n - 1n)) throw outOfRange(name, `>= ${-(2n ** 63n)} && <= ${2n ** 63n - 1n}`, position)
    return position
  }
  throw invalidArgType(name, ["integer", "bigint"], position)
}

/** Node's `validateBufferArray`. */
export const validateBufferArray = (buffers: unknown, name = "buffers"): Array<ArrayBufferView> => {
  if (!Array.isArray(buffers) || !buffers.every(isArrayBufferView)) throw invalidArgType(name, "ArrayBufferView[]", buffers)
  return buffers
}

/** `rmdir`'s options, checked (Node's `validateRmdirOptions`). */
export interface RmdirOptions {
  readonly recursive: boolean
  readonly retryDelay: number
  readonly maxRetries: number
}
/** `rm`'s options, checked (Node's `validateRmOptions`, before its `lstat`). */
export interface RmOptions extends RmdirOptions {
  readonly force: boolean
}

/** Node's `validateRmdirOptions` (with `defaults`). */
export const validateRmdirOptions = <D extends RmdirOptions>(options: unknown, defaults: D): D => {
  if (options === undefined) return defaults
  validateObject(options, "options")
  const o = { ...defaults, ...(options as object) }
  validateBoolean(o.recursive, "options.recursive")
  validateInt32(o.retryDelay, "options.retryDelay", 0)
  validateUint32(o.maxRetries, "options.maxRetries")
  return o
}

/** `rmdir`'s defaults. */
export const defaultRmdirOptions: RmdirOptions = { retryDelay: 100, maxRetries: 0, recursive: false }
/** `rm`'s defaults. */
export const defaultRmOptions: RmOptions = { recursive: false, force: false, retryDelay: 100, maxRetries: 0 }

/** Node's `validateRmOptions`, the argument half (the `lstat` half is the operation's). */
export const validateRmOptions = (options: unknown): RmOptions => {
  const o = validateRmdirOptions(options, defaultRmOptions)
  validateBoolean(o.force, "options.force")
  return o
}

/** `cp`'s options, checked. */
export interface CpOptions {
  readonly dereference: boolean
  readonly errorOnExist: boolean
  readonly filter: ((src: string, dest: string) => boolean | Promise<boolean>) | undefined
  readonly force: boolean
  readonly preserveTimestamps: boolean
  readonly recursive: boolean
  readonly verbatimSymlinks: boolean
  readonly mode: number
}

/** Node's `validateCpOptions`. */
export const validateCpOptions = (options: unknown): CpOptions => {
  const defaults = {
    dereference: false,
    errorOnExist: false,
    filter: undefined,
    force: true,
    preserveTimestamps: false,
    recursive: false,
    verbatimSymlinks: false,
    mode: 0
  }
  if (options === undefined) return defaults
  validateObject(options, "options")
  const o = { ...defaults, ...(options as object) } as Options
  validateBoolean(o.dereference, "options.dereference")
  validateBoolean(o.errorOnExist, "options.errorOnExist")
  validateBoolean(o.force, "options.force")
  validateBoolean(o.preserveTimestamps, "options.preserveTimestamps")
  validateBoolean(o.recursive, "options.recursive")
  validateBoolean(o.verbatimSymlinks, "options.verbatimSymlinks")
  o.mode = o.mode == null ? 0 : validateInteger(o.mode, "mode", 0, 7)
  if (o.dereference === true && o.verbatimSymlinks === true) throw incompatibleOptionPair("dereference", "verbatimSymlinks")
  if (o.filter !== undefined) validateFunction(o.filter, "options.filter")
  return o as CpOptions
}

/**
 * Node's `({ offset = 0, length = buffer.byteLength - offset, position = null } = options ?? {})`
 * for `read`/`write` options (a default only where the option is `undefined`).
 */
export const transferOptions = (options: unknown, buffer: ArrayBufferView | undefined): { offset: unknown; length: unknown; position: unknown } => {
  const o = (options ?? {}) as Options
  const offset = o.offset === undefined ? 0 : o.offset
  return {
    offset,
    length: o.length === undefined ? (buffer?.byteLength as number) - (offset as number) : o.length,
    position: o.position === undefined ? null : o.position
  }
}

/**
 * Node 20's `isFd` (for `readFile`/`writeFile`/`appendFile`): an int32 given where a path goes. It
 * is Node's `value === (value | 0)`, so a bigint, a symbol or an object without a primitive value
 * throws the `TypeError` that conversion throws, as in Node.
 */
export const isFd = (path: unknown): path is number => path === ((path as number) | 0)
