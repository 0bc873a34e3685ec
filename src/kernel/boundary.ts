/**
 * The syscall boundary's readers: how a value a program passes becomes a kernel-owned value (Hubris
 * `USlice`, seL4's decode). Every syscall reads each argument, message field, item and window
 * exactly once, checking its type and range as it reads, and from then on uses only what it read.
 * A getter that returns a different value on each read, a proxy, a subclass with its own
 * `length`, a string where a number goes: each is a `Refusal` naming the field, never a second
 * read, never a defect. The readers use the kernel's captured built-ins (`primordials.ts`).
 *
 * Reading an object's property may run the program's code (a getter, a proxy trap). That code
 * runs before the syscall has checked or changed anything, so whatever it does (even another
 * syscall) cannot invalidate a check: a syscall reads everything first, then checks, then acts.
 */
import {
  ArrayIsArray,
  isUint8Array,
  NumberIsInteger,
  NumberIsSafeInteger,
  StringCtor,
  TypedArrayPrototypeGetLength,
  TypedArrayPrototypeSet
} from "../primordials.js"

/** Why a value a program passed was not accepted: the field (a path such as `items[2].pages`) and the reason. */
export class Refusal {
  constructor(
    readonly field: string,
    readonly reason: string
  ) {}

  /** `field: reason`, for an error's text. */
  get text(): string {
    return this.field === "" ? this.reason : `${this.field}: ${this.reason}`
  }
}

/** What a value is, for a refusal's text (no user code runs: no `toString`, no getters). */
export const describe = (v: unknown): string => {
  switch (typeof v) {
    case "number":
      return `the number ${StringCtor(v)}`
    case "bigint":
      return "a bigint"
    case "string":
      return "a string"
    case "boolean":
      return `${StringCtor(v)}`
    case "symbol":
      return "a symbol"
    case "undefined":
      return "undefined"
    case "function":
      return "a function"
    default:
      return v === null ? "null" : ArrayIsArray(v) ? "an array" : "an object"
  }
}

/** Reads `o[key]` once. A getter or proxy trap that throws is a refusal. */
export const field = (o: object, key: string, path: string): unknown => {
  try {
    return (o as Record<string, unknown>)[key]
  } catch {
    return new Refusal(path, "reading it threw")
  }
}

/** `v` if it is a non-null object (what a message, item, window or options must be). */
export const object = (v: unknown, path: string): object | Refusal =>
  typeof v === "object" && v !== null ? v : new Refusal(path, `expected an object, got ${describe(v)}`)

/** `v` if it is an integer in `min .. max` (safe integers only). */
export const int = (v: unknown, path: string, min: number, max: number): number | Refusal =>
  typeof v === "number" && NumberIsSafeInteger(v) && v >= min && v <= max
    ? v
    : new Refusal(path, `expected an integer in ${min}..${max}, got ${v instanceof Refusal ? "a value that could not be read" : describe(v)}`)

/** Reads the integer field `key` of `o` (see `int`); an absent field is `fallback` when one is given. */
export const intField = (o: object, key: string, path: string, min: number, max: number, fallback?: number): number | Refusal => {
  const v = field(o, key, path)
  if (v instanceof Refusal) return v
  if (v === undefined && fallback !== undefined) return fallback
  return int(v, path, min, max)
}

/** `v` if it is one of `values`. */
export const oneOf = <A extends string>(v: unknown, path: string, values: ReadonlyArray<A>): A | Refusal => {
  for (let i = 0; i < values.length; i++) if (v === values[i]) return v as A
  return new Refusal(path, `expected one of ${values.join(", ")}, got ${describe(v)}`)
}

/** `v` if it is a boolean; undefined reads as `fallback`. */
export const bool = (v: unknown, path: string, fallback: boolean): boolean | Refusal =>
  v === undefined ? fallback : typeof v === "boolean" ? v : new Refusal(path, `expected a boolean, got ${describe(v)}`)

/**
 * The elements of the array `v` (at most `max`), each read once, in a new array the kernel owns.
 * `undefined` reads as an empty list when `optional`.
 */
export const list = (v: unknown, path: string, max: number, optional: boolean): Array<unknown> | Refusal => {
  if (v === undefined && optional) return []
  if (!ArrayIsArray(v)) return new Refusal(path, `expected an array, got ${describe(v)}`)
  let n: unknown
  try {
    n = v.length
  } catch {
    return new Refusal(path, "reading its length threw")
  }
  if (typeof n !== "number" || !NumberIsInteger(n) || n < 0) return new Refusal(path, "its length is not an integer")
  if (n > max) return new Refusal(path, `${n} elements, more than ${max}`)
  const out = new Array<unknown>(n)
  for (let i = 0; i < n; i++) {
    const e = field(v, StringCtor(i), `${path}[${i}]`)
    if (e instanceof Refusal) return e
    out[i] = e
  }
  return out
}

/**
 * The length of `v` if it is a real `Uint8Array` of at most `max` bytes, read from its internal
 * slot (no getter of the object runs, a proxy is refused).
 */
export const byteLength = (v: unknown, path: string, max: number): number | Refusal => {
  if (!isUint8Array(v)) return new Refusal(path, `expected a Uint8Array, got ${describe(v)}`)
  const n = TypedArrayPrototypeGetLength(v)
  return n <= max ? n : new Refusal(path, `${n} bytes, more than ${max}`)
}

/** Copies the bytes of a checked `Uint8Array` (see `byteLength`) into a new array the kernel owns. */
export const copyBytes = (v: Uint8Array, n: number): Uint8Array => {
  const out = new Uint8Array(n)
  if (n > 0) TypedArrayPrototypeSet(out, v)
  return out
}
