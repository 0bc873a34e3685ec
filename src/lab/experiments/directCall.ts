/**
 * Experiment `direct-call` — calling the server's code in the caller's own context. Pending: the
 * kernel has no direct calls yet (`Port.callDirect`, the migrating-thread call of DESIGN.md §5, is
 * being built). When it lands, this experiment measures a direct call against call/reply and a
 * typed call, for small messages and with a lease; until then it is listed, not faked.
 */
import type { Pending } from "../Experiment.js"

/** The experiment, pending. */
export const directCall: Pending = {
  _tag: "Pending",
  name: "direct-call",
  title: "Calling the server's code in your own context",
  question:
    "I worked with a message passing kernel once that had a mechanism for calling the code in another process space in your own context. … don't get locked into a design that is uniform just for uniformity's sake.",
  pending:
    "Direct calls (`Port.callDirect`: the caller's fiber runs the server's handler with the server's `Process`) do not exist in the kernel yet. " +
    "Once they do, this experiment compares a direct call with call/reply and with a typed call, for small messages and with a lease."
}
