/**
 * The message-sequence trace: when a kernel's tracer is on, IPC records who sent what to whom and
 * what the kernel did for it (copies, lease operations, pages moved). `toMermaid` renders the
 * events as a Mermaid `sequenceDiagram`. Off by default; when off it costs one comparison per
 * recorded point, so it never slows the message path that benchmarks measure.
 */

/** One traced step. */
export interface TraceEvent {
  /** Participant that acts (a process, as `name#pid`). */
  readonly from: string
  /** Participant acted upon; equal to `from` for a note over one participant. */
  readonly to: string
  /**
   * `message` and `reply` are arrows; `direct` is a thread entering or leaving a server in a
   * direct call (an open arrow: no message waits anywhere); `kernel` is a note over both participants.
   */
  readonly kind: "message" | "reply" | "direct" | "kernel"
  readonly text: string
}

/** Collects events, up to `limit` of them (later ones are counted, not kept). */
export class Tracer {
  readonly events: Array<TraceEvent> = []
  dropped = 0
  constructor(readonly limit = 10_000) {}

  record(event: TraceEvent): void {
    if (this.events.length < this.limit) this.events.push(event)
    else this.dropped++
  }
}

/** The participant name of a process. */
export const participant = (p: { readonly name: string; readonly pid: number }): string => `${p.name}#${p.pid}`

const id = (name: string) => name.replace(/[^A-Za-z0-9_]/g, "_")
const escape = (text: string) => text.replace(/[;#\n]/g, " ")

/** Renders events as a Mermaid `sequenceDiagram`, participants in order of first appearance. */
export const toMermaid = (events: ReadonlyArray<TraceEvent>, title?: string): string => {
  const order: Array<string> = []
  for (const e of events) for (const n of [e.from, e.to]) if (!order.includes(n)) order.push(n)
  const lines = ["sequenceDiagram"]
  if (title !== undefined) lines.push(`    title ${escape(title)}`)
  for (const n of order) lines.push(`    participant ${id(n)} as ${escape(n.replace(/#(\d+)$/, " (pid $1)"))}`)
  for (const e of events) {
    if (e.kind === "kernel") {
      lines.push(`    Note over ${id(e.from)}${e.to === e.from ? "" : `,${id(e.to)}`}: kernel: ${escape(e.text)}`)
    } else {
      const arrow = e.kind === "message" ? "->>" : e.kind === "reply" ? "-->>" : "-)"
      lines.push(`    ${id(e.from)}${arrow}${id(e.to)}: ${escape(e.text)}`)
    }
  }
  return lines.join("\n") + "\n"
}
