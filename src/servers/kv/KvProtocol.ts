/**
 * The key-value store's protocol: string keys to string values, each with a version that grows
 * on every change, a compare-and-set, prefix listing, and watches that answer when a key changes.
 *
 * | operation | request | answer | failures | idempotent |
 * |---|---|---|---|---|
 * | `Get` | `{ key }` | `{ value, version }` | `NoSuchKey` | yes |
 * | `Put` | `{ key, value }` | `{ version }` (unchanged when the value is) | `StoreFull` | yes |
 * | `Delete` | `{ key }` | `{ existed }` | — | yes |
 * | `List` | `{ prefix }` | the keys with that prefix, sorted | — | yes |
 * | `CompareAndSet` | `{ key, version, value }` | `{ version }` | `VersionMismatch`, `StoreFull` | no |
 * | `Watch` | `{ key, after }` | `{ value, version }` once the key's version exceeds `after` | `NoSuchKey` (deleted while watched) | yes |
 *
 * Keys are 1 to 256 characters; a message (a value, a listing) may be up to 64 KiB, so long
 * values and long listings travel spilled (DESIGN §7). Version 0 means "absent": `CompareAndSet`
 * with version 0 creates a key, `Watch` with `after: 0` waits for it to exist.
 */
import { Schema } from "effect"
import { Protocol } from "../../api.js"

/** A key: 1 to 256 characters. */
export const Key = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(256))
/** A version: 0 for absent, then 1, 2, … per change. */
export const Version = Schema.Int.pipe(Schema.nonNegative())

/** The key does not exist. */
export class NoSuchKey extends Schema.TaggedError<NoSuchKey>()("NoSuchKey", { key: Schema.String }) {}
/** The key's version is not the one the compare-and-set expected; nothing changed. */
export class VersionMismatch extends Schema.TaggedError<VersionMismatch>()("VersionMismatch", {
  key: Schema.String,
  expected: Schema.Int,
  actual: Schema.Int
}) {}
/** The store holds its maximum number of keys; nothing was added. */
export class StoreFull extends Schema.TaggedError<StoreFull>()("StoreFull", { limit: Schema.Int }) {}

const Entry = Schema.Struct({ value: Schema.String, version: Version })

/** The protocol. */
export const KvProtocol = Protocol.make(
  "kv",
  {
    Get: Protocol.operation({ payload: { key: Key }, success: Entry, failure: NoSuchKey, idempotent: true }),
    Put: Protocol.operation({ payload: { key: Key, value: Schema.String }, success: { version: Version }, failure: StoreFull, idempotent: true }),
    Delete: Protocol.operation({ payload: { key: Key }, success: { existed: Schema.Boolean }, idempotent: true }),
    List: Protocol.operation({ payload: { prefix: Schema.String }, success: Schema.Array(Schema.String), idempotent: true }),
    CompareAndSet: Protocol.operation({
      payload: { key: Key, version: Version, value: Schema.String },
      success: { version: Version },
      failure: Schema.Union(VersionMismatch, StoreFull)
    }),
    Watch: Protocol.operation({ payload: { key: Key, after: Version }, success: Entry, failure: NoSuchKey, idempotent: true })
  },
  { maxMessage: 65536 }
)
