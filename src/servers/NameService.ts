/**
 * The name service (DESIGN §7): servers register a port under a name; a client that looks the
 * name up gets a capability minted with its own badge, so the server knows who calls.
 *
 * - `NameProtocol` and its errors: the wire contract (`names/protocol.ts`).
 * - `program(options)`: the server (`names/server.ts`).
 * - `register`, `lookup`, `target`, `client`: the client side (`names/client.ts`); `client`
 *   builds a typed client of another protocol that finds its server by name and finds it again
 *   after a restart.
 */
export { BadRegistration, Name, NameNotFound, NameProtocol, NameTaken, NotOwner, Unavailable } from "./names/protocol.js"
export { client, type LookupError, lookup, register, target } from "./names/client.js"
export { program } from "./names/server.js"
