/**
 * Tuning of the JavaScript engine for programs that run a kernel. Nothing in the library calls it:
 * a library must not change its host's engine flags behind its back. The package's own entry points
 * (the `effect-microkernel` command, `npm run bench`) call it first.
 *
 * Why: IPC keeps objects alive across fiber hand-offs — a message, its items, a decoded request
 * held while its handler calls another server. V8 watches each object-literal allocation site and,
 * when the objects it makes keep surviving scavenges, *pretenures* the site: every object from it
 * is then allocated in old space, which costs more to allocate and to collect. Whether and when a
 * site tips over depends on where scavenges happen to fall, so a process runs in one of two modes
 * and stays there: a VFS write of 4 KiB took 27 µs in one run and 46 µs in the next, a one-way
 * grant 11 µs or 24 µs. The kernel builds its own long-lived objects with `new` (which has no
 * allocation site) where it can; servers' and clients' own literals remain.
 */
import * as v8 from "node:v8"

/**
 * Turns V8's allocation-site pretenuring off for this process (`--no-allocation-site-pretenuring`),
 * so that IPC-heavy programs run in the fast mode every time. Call it before booting a kernel;
 * it affects the whole process. Errors: none (a no-op where the flag is unknown).
 */
export const disablePretenuring = (): void => {
  v8.setFlagsFromString("--no-allocation-site-pretenuring")
}
