/**
 * The Node-compatible `fs` against `node:fs` as the oracle: seeded random sequences of operations
 * (paths with `.`, `..`, trailing slashes and symbolic links; flags, modes, positions, bigint
 * positions, encodings; descriptors, streams; concurrent groups), each step run in the promise, the
 * callback or the sync form on both sides, every outcome compared, then the final trees. What is left out
 * of the comparison, and why, is `DIFFERENCES` (support/differential.ts).
 *
 * `npm test` runs the default budget; `npm run fuzz -- --steps N --seed S` runs N sequences.
 */
import { FastCheck as fc } from "effect"
import * as nodeFs from "node:fs"
import { tmpdir } from "node:os"
import { isDeepStrictEqual } from "node:util"
import { afterAll, describe, it } from "vitest"
import { bootFileSystem } from "../../src/root/bootFileSystem.js"
import { fuzzBudget } from "../support/fuzz.js"
import { mirrorBase } from "./support/sandbox.js"
import { brief, closeAll, DIFFERENCES, exec, normalise, sequence, type Side, tree, vfsDivergence } from "./support/differential.js"

const root = nodeFs.mkdtempSync(`${nodeFs.existsSync("/dev/shm") ? "/dev/shm" : tmpdir()}/fsdiff-`)
afterAll(() => {
  // Operations may have taken permissions away: give them back before removing the tree.
  const open = (p: string) => {
    try {
      const s = nodeFs.lstatSync(p)
      if (s.isDirectory()) {
        nodeFs.chmodSync(p, 0o700)
        for (const n of nodeFs.readdirSync(p)) open(`${p}/${n}`)
      }
    } catch {
      // Gone already.
    }
  }
  open(root)
  nodeFs.rmSync(root, { recursive: true, force: true })
})

const uid = process.getuid?.() ?? 0
const gid = process.getgid?.() ?? 0
const umask = process.umask()

/** `p`, or a failure naming `what` if it has not settled within 5 s (nothing may hang). */
const within = <A>(p: Promise<A>, what: string): Promise<A> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`hung: ${what}`)), 5000)))]).finally(() =>
    clearTimeout(timer)
  )
}

/** The VFS's known divergences from Linux met, by label (see `vfsDivergence`). */
const divergences = new Map<string, number>()
let runs = 0
let steps = 0

describe("Node-compatible fs against node:fs", () => {
  it(`FS-0100 random operation sequences agree with node:fs, in the promise, callback and sync forms mixed (left out: ${DIFFERENCES})`, async () => {
    const budget = fuzzBudget(100)
    await fc.assert(
      fc.asyncProperty(sequence, async (seq) => {
        const base = `${root}/r${++runs}/a1/a2/w`
        nodeFs.mkdirSync(base, { recursive: true })
        const booted = await bootFileSystem({ frames: 8192, uid, gid, umask })
        try {
          await mirrorBase(booted, base)
          const node: Side = { fs: nodeFs, base, slots: [] }
          const facade: Side = { fs: booted.fs, base, slots: [] }
          for (const [op, form] of seq) {
            steps++
            const expected = normalise(await within(exec(node, form, op), `node ${form} ${brief(op)}`))
            const actual = normalise(await within(exec(facade, form, op), `facade ${form} ${brief(op)}`))
            const known = vfsDivergence(op, expected, actual)
            if (known !== undefined) {
              divergences.set(known.label, (divergences.get(known.label) ?? 0) + 1)
              if (known.ends) return
              continue
            }
            if (!isDeepStrictEqual(actual, expected)) {
              const msg = `${form} ${brief(op)}\n  node:   ${brief(expected)}\n  facade: ${brief(actual)}`
              throw new Error(msg)
            }
          }
          await closeAll(node)
          await closeAll(facade)
          const [a, b] = [await tree(node), await tree(facade)]
          if (!isDeepStrictEqual(b, a)) throw new Error(`final tree\n  node:   ${brief(a)}\n  facade: ${brief(b)}`)
        } finally {
          await booted.close()
        }
      }),
      { numRuns: budget.runs, seed: budget.seed }
    )
    const known = [...divergences].map(([label, n]) => `${n}× ${label}`).join("; ")
    console.log(`FS-0100: ${runs} sequences, ${steps} steps, seed ${budget.seed}; known VFS divergences met: ${known || "none"}`)
  }, 120_000)
})
