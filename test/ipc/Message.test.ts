import { describe, expect, it } from "@effect/vitest"
import { Either, FastCheck as fc, Schema } from "effect"
import { messageSchema } from "../../src/ipc/Message.js"
import { MessageSnapshot, readMessage } from "../../src/ipc/internal/snapshot.js"
import { Fifo } from "../../src/ipc/internal/fifo.js"
import { copyInline } from "../../src/ipc/internal/inline.js"
import type { Pcb } from "../../src/kernel/Process.js"

const config = { inlineMax: 16, maxCaps: 2, maxItems: 3 }
const decode = Schema.decodeUnknownEither(messageSchema(config))

const candidate = fc.oneof(
  fc.record(
    {
      label: fc.oneof(fc.integer({ min: -5, max: 2 ** 31 + 5 }), fc.double(), fc.constant("x")),
      data: fc.oneof(fc.uint8Array({ maxLength: 24 }), fc.array(fc.nat(255), { maxLength: 3 })),
      caps: fc.oneof(fc.array(fc.integer({ min: -2, max: 9 }), { maxLength: 3 }), fc.constant("nope"))
    },
    { requiredKeys: [] }
  ),
  fc.constant(null),
  fc.integer()
)

describe("Message", () => {
  it.prop("the syscalls' reader accepts exactly what the message schema accepts", [candidate], ([m]) => {
    expect(readMessage(m, config) instanceof MessageSnapshot).toBe(Either.isRight(decode(m)))
  })

  it("a refused message names the field and why", () => {
    expect(String((readMessage({ label: 1, data: new Uint8Array(17) }, config) as { text: string }).text)).toMatch(
      /data: inline data is 17 bytes, more than inlineMax 16/
    )
    expect(String((readMessage({ label: -1 }, config) as { text: string }).text)).toMatch(/^label: /)
  })

  it("inline copies are private: later writes to the source change nothing, and each receiver has its own chunks", () => {
    const a = {} as Pcb
    const b = {} as Pcb
    const src = new Uint8Array([1, 2, 3])
    const copy = copyInline(src, a)
    expect(copyInline(src, b).buffer).not.toBe(copy.buffer)
    src.fill(0)
    expect([...copy]).toEqual([1, 2, 3])
    const many = Array.from({ length: 1000 }, (_, i) => copyInline(new Uint8Array(200).fill(i & 255), a))
    expect(many.every((c, i) => c.length === 200 && c.every((b) => b === (i & 255)))).toBe(true)
  })
})

describe("Fifo", () => {
  it.prop("behaves as an array queue under push, unshift, shift and remove", [fc.array(fc.tuple(fc.nat(3), fc.nat(50)), { maxLength: 200 })], ([ops]) => {
    const q = new Fifo<number>(2)
    const model: Array<number> = []
    for (const [op, v] of ops) {
      if (op === 0) {
        q.push(v)
        model.push(v)
      } else if (op === 1) {
        q.unshift(v)
        model.unshift(v)
      } else if (op === 2) expect(q.shift()).toBe(model.shift())
      else {
        const i = model.indexOf(v)
        expect(q.remove(v)).toBe(i >= 0)
        if (i >= 0) model.splice(i, 1)
      }
      expect(q.length).toBe(model.length)
    }
    expect(q.drain()).toEqual(model)
  })
})
