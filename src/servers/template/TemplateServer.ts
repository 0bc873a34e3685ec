/**
 * TEMPLATE — the server: handlers for `TemplateProtocol`, and the program that serves them.
 *
 * Invariants (state yours here):
 * - A client's total is keyed by its badge, which the kernel sets and the client cannot forge;
 *   clients never see each other's totals.
 * - A total never exceeds `LIMIT`: an `Add` that would is refused and changes nothing.
 * - State lives in this process and starts empty with every incarnation (a supervisor restart
 *   forgets it); keep state that must survive in another server.
 */
import { Effect } from "effect"
import { Server } from "../../api.js"
import { LIMIT, Overflow, TemplateProtocol } from "./TemplateProtocol.js"

/**
 * The handlers, built inside the server process (so each incarnation gets fresh state). Handlers
 * that answer at once should return `Effect.succeed`/`Effect.fail`: the server answers those
 * without a trip through the runtime.
 */
export const handlers = Effect.sync((): Server.Handlers<typeof TemplateProtocol.operations> => {
  // Owned by this server's threads (and, with `direct`, its callers' threads): each handler reads
  // and changes it in one synchronous step, so no lock is needed however many run at once.
  const totals = new Map<number, number>()
  return {
    Add: ({ amount }, call) => {
      const total = totals.get(call.badge) ?? 0
      if (total + amount > LIMIT) return Effect.fail(new Overflow({ total, amount, limit: LIMIT }))
      totals.set(call.badge, total + amount)
      return Effect.succeed({ total: total + amount })
    },
    Total: (_, call) => Effect.succeed({ total: totals.get(call.badge) ?? 0 }),
    Reset: (_, call) => Effect.sync(() => void totals.delete(call.badge))
  }
})

/**
 * The server program: `Kernel.spawn(program({ register: { names: 0, name: "template" } }), …)`, or
 * under a supervisor; `{ direct: true }` serves direct calls too (the handlers are safe for it,
 * see docs/servers.md). Errors: as `Server.make`.
 */
export const program = (options: Server.ServerOptions<typeof TemplateProtocol.operations> = {}) => Server.make(TemplateProtocol, handlers, options)
