/**
 * A first-in-first-out queue on a growable circular array, with removal from the middle (a
 * withdrawn message, an interrupted waiter). Pure; no fibers.
 */
import { filled } from "../../primordials.js"
export class Fifo<A> {
  private items: Array<A | undefined>
  private head = 0
  private size = 0

  constructor(initialCapacity = 8) {
    this.items = filled<A | undefined>(Math.max(2, initialCapacity), undefined)
  }

  get length(): number {
    return this.size
  }

  push(a: A): void {
    if (this.size === this.items.length) this.grow()
    this.items[(this.head + this.size) % this.items.length] = a
    this.size++
  }

  /** Puts `a` at the front (a message handed back by an interrupted receiver). */
  unshift(a: A): void {
    if (this.size === this.items.length) this.grow()
    this.head = (this.head - 1 + this.items.length) % this.items.length
    this.items[this.head] = a
    this.size++
  }

  shift(): A | undefined {
    if (this.size === 0) return undefined
    const a = this.items[this.head]
    this.items[this.head] = undefined
    this.head = (this.head + 1) % this.items.length
    this.size--
    return a
  }

  /** Removes `a` if present; returns whether it was. */
  remove(a: A): boolean {
    const n = this.items.length
    for (let i = 0; i < this.size; i++) {
      if (this.items[(this.head + i) % n] !== a) continue
      for (let j = i; j < this.size - 1; j++) {
        this.items[(this.head + j) % n] = this.items[(this.head + j + 1) % n]
      }
      this.items[(this.head + this.size - 1) % n] = undefined
      this.size--
      return true
    }
    return false
  }

  /** Empties the queue, returning its items in order. */
  drain(): Array<A> {
    const out: Array<A> = []
    let a: A | undefined
    while ((a = this.shift()) !== undefined) out[out.length] = a
    return out
  }

  private grow(): void {
    const bigger = filled<A | undefined>(this.items.length * 2, undefined)
    for (let i = 0; i < this.size; i++) bigger[i] = this.items[(this.head + i) % this.items.length]
    this.items = bigger
    this.head = 0
  }
}
