/**
 * The scheduler's pure parts, apart from fibers (unit-tested without an Effect runtime): the run
 * queue of ready tasks, the seeded generator that picks among them, and the deadline queue of the
 * virtual clock. `Scheduler.ts` drives them.
 *
 * Invariants:
 * - `RunQueue` holds each pushed entry exactly once until it is taken; `take` takes the oldest,
 *   `takeAt(i)` the i-th oldest (the others keep their order but for the head, which moves to i).
 * - `Prng` is a pure function of its seed: the same seed gives the same sequence on every host.
 * - `TimerQueue` pops timers in order of deadline, and in order of `add` among equal deadlines;
 *   a cancelled timer is never popped.
 */

// Captured at load, as the kernel's other built-ins: a program that replaces them changes only what it sees.
const imul = Math.imul
const floor = Math.floor

/**
 * Ready tasks and who they run for, in a circular buffer that doubles when full (two parallel
 * arrays: pushing allocates nothing). The owner of the last task taken is in `owner`.
 */
export class RunQueue<T, O> {
  private tasks: Array<T | undefined>
  private owners: Array<O | undefined>
  private head = 0
  private mask: number
  /** Entries waiting. */
  size = 0
  /** The owner of the task the last `take`/`takeAt` returned. */
  owner: O | undefined = undefined

  constructor(capacity = 64) {
    let c = 1
    while (c < capacity) c *= 2
    this.tasks = new Array<T | undefined>(c)
    this.owners = new Array<O | undefined>(c)
    this.mask = c - 1
  }

  push(task: T, owner: O): void {
    if (this.size > this.mask) this.grow()
    const i = (this.head + this.size) & this.mask
    this.tasks[i] = task
    this.owners[i] = owner
    this.size++
  }

  /** Takes the oldest entry. The queue must not be empty. */
  take(): T {
    const i = this.head
    const task = this.tasks[i]!
    this.owner = this.owners[i]
    this.tasks[i] = undefined
    this.owners[i] = undefined
    this.head = (i + 1) & this.mask
    this.size--
    return task
  }

  /** Takes the `index`-th oldest entry (`0 <= index < size`); the head entry moves into its place. */
  takeAt(index: number): T {
    if (index !== 0) {
      const h = this.head
      const i = (h + index) & this.mask
      const task = this.tasks[i]
      const owner = this.owners[i]
      this.tasks[i] = this.tasks[h]
      this.owners[i] = this.owners[h]
      this.tasks[h] = task
      this.owners[h] = owner
    }
    return this.take()
  }

  private grow(): void {
    const n = this.mask + 1
    const tasks = new Array<T | undefined>(2 * n)
    const owners = new Array<O | undefined>(2 * n)
    for (let k = 0; k < this.size; k++) {
      tasks[k] = this.tasks[(this.head + k) & this.mask]
      owners[k] = this.owners[(this.head + k) & this.mask]
    }
    this.tasks = tasks
    this.owners = owners
    this.head = 0
    this.mask = 2 * n - 1
  }
}

/**
 * A small seeded pseudo-random generator (sfc32, its state filled from the seed by splitmix32):
 * fast, 32-bit, and the same on every host. Not for secrets.
 */
export class Prng {
  private a: number
  private b: number
  private c: number
  private d: number

  /** `seed`: any safe integer; its low 53 bits matter. */
  constructor(seed: number) {
    let s = (seed >>> 0) ^ floor(seed / 4294967296)
    const split = () => {
      s = (s + 0x9e3779b9) | 0
      let z = s
      z = imul(z ^ (z >>> 16), 0x85ebca6b)
      z = imul(z ^ (z >>> 13), 0xc2b2ae35)
      return (z ^ (z >>> 16)) >>> 0
    }
    this.a = split()
    this.b = split()
    this.c = split()
    this.d = split()
    for (let i = 0; i < 12; i++) this.next()
  }

  /** The next 32-bit unsigned integer. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0
    this.d = (this.d + 1) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (this.c << 21) | (this.c >>> 11)
    this.c = (this.c + t) | 0
    return t >>> 0
  }

  /** An integer in `[0, n)`, for `1 <= n <= 2^32`. */
  below(n: number): number {
    return floor((this.next() / 4294967296) * n)
  }
}

/** A pending deadline of the virtual clock. Built with `new` (lives until its time comes). */
export class Timer {
  /** Where it sits in the heap; -1 once popped or cancelled. */
  index = -1
  constructor(
    readonly at: number,
    readonly seq: number,
    readonly fire: () => void
  ) {}
}

const before = (x: Timer, y: Timer) => x.at < y.at || (x.at === y.at && x.seq < y.seq)

/** Deadlines in a binary min-heap, by time then by order of `add`. */
export class TimerQueue {
  private readonly heap: Array<Timer> = []
  private seq = 0

  get size(): number {
    return this.heap.length
  }

  /** Adds a deadline at time `at` that runs `fire` when popped. */
  add(at: number, fire: () => void): Timer {
    const t = new Timer(at, this.seq++, fire)
    t.index = this.heap.length
    this.heap.push(t)
    this.up(t.index)
    return t
  }

  /** Removes `t` if it is still pending; true if it was. */
  cancel(t: Timer): boolean {
    const i = t.index
    if (i < 0 || this.heap[i] !== t) return false
    this.removeAt(i)
    return true
  }

  /** The earliest pending timer, if any. */
  peek(): Timer | undefined {
    return this.heap[0]
  }

  /** Removes and returns the earliest pending timer, if any. */
  pop(): Timer | undefined {
    const t = this.heap[0]
    if (t !== undefined) this.removeAt(0)
    return t
  }

  private removeAt(i: number): void {
    const t = this.heap[i]!
    const last = this.heap.pop()!
    t.index = -1
    if (last === t) return
    this.heap[i] = last
    last.index = i
    this.up(i)
    this.down(last.index)
  }

  private up(i: number): void {
    const h = this.heap
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!before(h[i]!, h[p]!)) break
      this.swap(i, p)
      i = p
    }
  }

  private down(i: number): void {
    const h = this.heap
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < h.length && before(h[l]!, h[m]!)) m = l
      if (r < h.length && before(h[r]!, h[m]!)) m = r
      if (m === i) return
      this.swap(i, m)
      i = m
    }
  }

  private swap(i: number, j: number): void {
    const h = this.heap
    const x = h[i]!
    const y = h[j]!
    h[i] = y
    h[j] = x
    y.index = i
    x.index = j
  }
}
