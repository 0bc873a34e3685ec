/**
 * The built-ins the kernel's checks and copies rely on, captured once when this module loads
 * (Node core's "primordials"). Programs share the realm's globals with the kernel: a program that
 * later replaces `Number.isInteger`, `Array.isArray` or `Uint8Array.prototype.set` changes what it
 * itself sees, never what the kernel decides or copies.
 *
 * Methods are captured "uncurried" (`TypedArrayPrototypeSet(target, source)` for
 * `target.set(source)`): bound at load to the original function, so a later change to the
 * prototype, or to `Function.prototype.call`, is not seen. Kernel code uses these instead of the
 * globals in every check of a value that came from a program and in every copy of bytes.
 *
 * Import only what a module needs; this module imports nothing.
 */

type Uncurried<T, A extends ReadonlyArray<unknown>, R> = (self: T, ...args: A) => R

const bind = Function.prototype.bind
const call = Function.prototype.call
/** `f.call` bound to `f`, at load: `uncurry(f)(self, ...args)` is `f.apply(self, args)` with the original `f`. */
const uncurry = <T, A extends ReadonlyArray<unknown>, R>(f: (this: T, ...args: A) => R): Uncurried<T, A, R> => bind.call(call, f) as Uncurried<T, A, R>

const getter = (o: object, key: PropertyKey): ((this: unknown) => unknown) => {
  const d = Object.getOwnPropertyDescriptor(o, key)
  if (d?.get === undefined) throw new Error(`invariant violated: primordial getter ${String(key)} missing`)
  return d.get
}

export const NumberIsInteger: (n: unknown) => boolean = Number.isInteger
export const NumberIsSafeInteger: (n: unknown) => boolean = Number.isSafeInteger
export const NumberIsFinite: (n: unknown) => boolean = Number.isFinite
export const ArrayIsArray: (a: unknown) => a is Array<unknown> = Array.isArray
export const MathMin: (...values: Array<number>) => number = Math.min
export const MathMax: (...values: Array<number>) => number = Math.max
export const MathCeil: (x: number) => number = Math.ceil
export const MathFloor: (x: number) => number = Math.floor
export const ObjectFreeze: <T>(o: T) => Readonly<T> = Object.freeze
export const StringCtor: (v: unknown) => string = String

const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object

/** The typed arrays the kernel uses. */
export type TypedArray = Uint8Array | Int32Array | Uint32Array | Float64Array

/** The `[[TypedArrayName]]` of `v` ("Uint8Array", …), or undefined for anything else (a proxy included). */
export const TypedArrayPrototypeGetSymbolToStringTag = uncurry(getter(TypedArrayPrototype, Symbol.toStringTag)) as (v: unknown) => string | undefined
/** The length of a typed array (its internal slot: no getter of the object runs). Throws for a non-typed-array. */
export const TypedArrayPrototypeGetLength = uncurry(getter(TypedArrayPrototype, "length")) as (v: TypedArray) => number
export const TypedArrayPrototypeSet = uncurry(Uint8Array.prototype.set) as <T extends TypedArray>(target: T, source: ArrayLike<number>, offset?: number) => void
export const TypedArrayPrototypeSubarray = uncurry(Uint8Array.prototype.subarray) as <T extends TypedArray>(a: T, start?: number, end?: number) => T
export const TypedArrayPrototypeSlice = uncurry(Uint8Array.prototype.slice) as <T extends TypedArray>(a: T, start?: number, end?: number) => T
export const TypedArrayPrototypeFill = uncurry(Uint8Array.prototype.fill) as <T extends TypedArray>(a: T, value: number, start?: number, end?: number) => T
export const TypedArrayPrototypeCopyWithin = uncurry(Uint8Array.prototype.copyWithin) as <T extends TypedArray>(
  a: T,
  target: number,
  start: number,
  end?: number
) => T

/** Whether `v` is a real `Uint8Array` (not a proxy, not an object that only claims to be one). */
export const isUint8Array = (v: unknown): v is Uint8Array => TypedArrayPrototypeGetSymbolToStringTag(v) === "Uint8Array"

/** `FunctionPrototypeCall(f, self, ...args)` is `f.call(self, ...args)` with the original `call`. */
export const FunctionPrototypeCall = uncurry(call) as <T, A extends ReadonlyArray<unknown>, R>(f: (this: T, ...args: A) => R, self: T, ...args: A) => R
export const ArrayPrototypePush = uncurry(Array.prototype.push) as <T>(a: Array<T>, ...items: Array<T>) => number
export const ArrayPrototypeSplice = uncurry(Array.prototype.splice) as <T>(a: Array<T>, start: number, deleteCount?: number, ...items: Array<T>) => Array<T>
export const ArrayPrototypeIndexOf = uncurry(Array.prototype.indexOf) as <T>(a: ReadonlyArray<T>, item: T) => number

export const MapPrototypeGet = uncurry(Map.prototype.get) as <K, V>(m: Map<K, V>, key: K) => V | undefined
export const MapPrototypeSet = uncurry(Map.prototype.set) as <K, V>(m: Map<K, V>, key: K, value: V) => Map<K, V>
export const MapPrototypeHas = uncurry(Map.prototype.has) as <K, V>(m: Map<K, V>, key: K) => boolean
export const MapPrototypeDelete = uncurry(Map.prototype.delete) as <K, V>(m: Map<K, V>, key: K) => boolean
export const WeakMapPrototypeGet = uncurry(WeakMap.prototype.get) as <K extends object, V>(m: WeakMap<K, V>, key: K) => V | undefined
export const WeakMapPrototypeSet = uncurry(WeakMap.prototype.set) as <K extends object, V>(m: WeakMap<K, V>, key: K, value: V) => WeakMap<K, V>

/**
 * A new array of `n` elements, every one `value`, with no holes: reading a hole looks the index up
 * on `Array.prototype`, where a program could have put a getter. Kernel arrays read by index are
 * made with this.
 */
export const filled = <T>(n: number, value: T): Array<T> => {
  const a = new Array<T>(n)
  for (let i = 0; i < n; i++) a[i] = value
  return a
}
