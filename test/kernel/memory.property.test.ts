import { Effect, Either, FastCheck as fc } from "effect"
import { describe, expect, it } from "vitest"
import { PageRights } from "../../src/memory/AddressSpace.js"
import { KernelCore } from "../../src/kernel/Kernel.js"
import { defaultConfig, PAGE_SIZE } from "../../src/params.js"
import type { Pcb } from "../../src/kernel/Process.js"

type Op =
  | { readonly op: "allocate"; readonly p: number; readonly pages: number }
  | { readonly op: "share"; readonly from: number; readonly to: number; readonly pick: number }
  | { readonly op: "unmap"; readonly p: number; readonly pick: number }
  | { readonly op: "kill"; readonly p: number }
  | { readonly op: "probe"; readonly p: number; readonly address: number }

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant("allocate" as const), p: fc.nat(3), pages: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ op: fc.constant("share" as const), from: fc.nat(3), to: fc.nat(3), pick: fc.nat() }),
  fc.record({ op: fc.constant("unmap" as const), p: fc.nat(3), pick: fc.nat() }),
  fc.record({ op: fc.constant("kill" as const), p: fc.nat(3) }),
  fc.record({ op: fc.constant("probe" as const), p: fc.nat(3), address: fc.integer({ min: 0, max: 64 * PAGE_SIZE }) })
)

describe("memory property", () => {
  it("random allocate / share / unmap / kill across four processes never leak a frame and never expose an ungiven byte", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const k = new KernelCore({ ...defaultConfig, frames: 64, processQuota: 64 })
        const procs: Array<Pcb> = [0, 1, 2, 3].map((i) => Either.getOrThrow(k.create({ name: `p${i}` })))
        // Model: per process, virtual page → the page id it may see. Page ids are written into each page.
        const model: Array<Map<number, number>> = procs.map(() => new Map())
        let nextId = 1
        const check = () => {
          const live = new Set<number>()
          procs.forEach((p, i) => {
            if (p.status === "dead") return
            for (const [vpn, id] of model[i]!) {
              live.add(id)
              const word = Either.getOrThrow(p.space.read(vpn * PAGE_SIZE, 4))
              expect(new DataView(word.buffer).getUint32(0)).toBe(id)
            }
          })
          expect(k.memory.framesInUse).toBe(live.size)
        }
        for (const o of ops) {
          switch (o.op) {
            case "allocate": {
              const p = procs[o.p]!
              if (p.status === "dead") break
              const r = p.space.allocate(o.pages)
              if (Either.isLeft(r)) break
              for (let i = 0; i < o.pages; i++) {
                const at = r.right + i * PAGE_SIZE
                expect(Either.getOrThrow(p.space.read(at, PAGE_SIZE)).every((b) => b === 0)).toBe(true)
                const id = nextId++
                const w = new Uint8Array(4)
                new DataView(w.buffer).setUint32(0, id)
                Either.getOrThrow(p.space.write(at, w))
                model[o.p]!.set(at / PAGE_SIZE, id)
              }
              break
            }
            case "share": {
              const from = procs[o.from]!,
                to = procs[o.to]!
              const pages = [...model[o.from]!.keys()]
              if (from.status === "dead" || to.status === "dead" || pages.length === 0) break
              const vpn = pages[o.pick % pages.length]!
              const r = k.share(from, vpn * PAGE_SIZE, 1, to, PageRights.readWrite)
              if (Either.isLeft(r)) break
              model[o.to]!.set(r.right / PAGE_SIZE, model[o.from]!.get(vpn)!)
              break
            }
            case "unmap": {
              const p = procs[o.p]!
              const pages = [...model[o.p]!.keys()]
              if (p.status === "dead" || pages.length === 0) break
              const vpn = pages[o.pick % pages.length]!
              p.space.unmapPage(vpn)
              model[o.p]!.delete(vpn)
              break
            }
            case "kill": {
              Effect.runSync(k.kill(procs[o.p]!))
              model[o.p]!.clear()
              break
            }
            case "probe": {
              const p = procs[o.p]!
              if (p.status === "dead") break
              const vpn = Math.floor(o.address / PAGE_SIZE)
              const r = p.space.read(o.address, 1)
              expect(Either.isRight(r)).toBe(model[o.p]!.has(vpn))
              break
            }
          }
          check()
        }
        for (const p of procs) Effect.runSync(k.kill(p))
        expect(k.memory.framesInUse).toBe(0)
      }),
      { numRuns: 200 }
    )
  })
})
