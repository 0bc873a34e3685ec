/**
 * The key-value store server (an example plugin): handlers for `KvProtocol` and the program.
 *
 * Invariants:
 * - A key's version grows by one on every change of its value and never goes back while the
 *   server lives; a `Put` of the value already stored changes nothing (so `Put` is idempotent).
 * - At most `maxKeys` keys: a write that would add one more is `StoreFull` and changes nothing.
 * - A watch is answered exactly once: when its key's version passes `after` (with the new
 *   value), or with `NoSuchKey` when the key is deleted. A watcher that has gone away costs one
 *   dropped reply, nothing else.
 * - The store is this process's memory: a restart (by a supervisor) starts it empty. Watches held
 *   by a dying server end with `PeerDied`; `Watch` is idempotent, so clients built from a name
 *   watch again on the new incarnation.
 */
import { Effect } from "effect"
import { type Process, Server } from "../../api.js"
import { KvProtocol, NoSuchKey, StoreFull, VersionMismatch } from "./KvProtocol.js"

type Ops = typeof KvProtocol.operations

/** Options of `handlers` and `program`. */
export interface KvOptions {
  /** Most keys stored. Default 10,000. */
  readonly maxKeys?: number
}

/** The handlers, with a fresh store per incarnation. */
export const handlers = (options: KvOptions = {}): Effect.Effect<Server.Handlers<Ops>> =>
  Effect.sync(() => {
    const maxKeys = options.maxKeys ?? 10_000
    // Owned by this server's threads; changed only between syscalls.
    const store = new Map<string, { readonly value: string; readonly version: number }>()
    const watchers = new Map<string, Array<{ readonly after: number; readonly responder: Server.Responder<Ops["Watch"]> }>>()
    /** Versions of deleted keys, so a re-created key's version still grows. */
    const tombstones = new Map<string, number>()

    const notify = (key: string): Effect.Effect<void, never, Process.Process> => {
      const waiting = watchers.get(key)
      if (waiting === undefined) return Effect.void
      const entry = store.get(key)
      const due = entry === undefined ? waiting : waiting.filter((w) => entry.version > w.after)
      const rest = entry === undefined ? [] : waiting.filter((w) => entry.version <= w.after)
      if (rest.length === 0) watchers.delete(key)
      else watchers.set(key, rest)
      return Effect.forEach(due, (w) => Effect.ignore(entry === undefined ? w.responder.fail(new NoSuchKey({ key })) : w.responder.succeed(entry)), {
        discard: true
      })
    }

    const write = (key: string, value: string): Effect.Effect<{ readonly version: number }, StoreFull, Process.Process> => {
      const current = store.get(key)
      if (current?.value === value) return Effect.succeed({ version: current.version })
      if (current === undefined && store.size >= maxKeys) return Effect.fail(new StoreFull({ limit: maxKeys }))
      const version = (current?.version ?? tombstones.get(key) ?? 0) + 1
      store.set(key, { value, version })
      tombstones.delete(key)
      return Effect.as(notify(key), { version })
    }

    return {
      Get: ({ key }) => {
        const entry = store.get(key)
        return entry === undefined ? Effect.fail(new NoSuchKey({ key })) : Effect.succeed(entry)
      },
      Put: ({ key, value }) => write(key, value),
      Delete: ({ key }) => {
        const entry = store.get(key)
        if (entry === undefined) return Effect.succeed({ existed: false })
        store.delete(key)
        tombstones.set(key, entry.version)
        return Effect.as(notify(key), { existed: true })
      },
      List: ({ prefix }) => Effect.succeed([...store.keys()].filter((k) => k.startsWith(prefix)).sort()),
      CompareAndSet: ({ key, version, value }) => {
        const actual = store.get(key)?.version ?? 0
        return actual === version ? write(key, value) : Effect.fail(new VersionMismatch({ key, expected: version, actual }))
      },
      Watch: ({ key, after }, call) =>
        Effect.sync(() => {
          const entry = store.get(key)
          if (entry !== undefined && entry.version > after) return entry
          const responder = call.defer()
          watchers.set(key, [...(watchers.get(key) ?? []), { after, responder }])
          return responder
        })
    }
  })

/** The key-value server program. Errors: as `Server.make`. */
export const program = (options: KvOptions & Server.ServerOptions<Ops> = {}) => Server.make(KvProtocol, handlers(options), options)
