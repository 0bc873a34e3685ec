import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { toSvg } from "../../src/lab/Chart.js"
import { workClock } from "../../src/lab/Clock.js"
import type { Cell, Group, Measured } from "../../src/lab/Experiment.js"
import { asyncGrant } from "../../src/lab/experiments/asyncGrant.js"
import { directCall, VARIANTS as DIRECT_VARIANTS } from "../../src/lab/experiments/directCall.js"
import { ringMemory } from "../../src/lab/experiments/ringMemory.js"
import { serverPool } from "../../src/lab/experiments/serverPool.js"
import { STRATEGIES, strategy } from "../../src/lab/experiments/strategy.js"
import { unknownSize } from "../../src/lab/experiments/unknownSize.js"
import { inRounds, order } from "../../src/lab/Harness.js"
import * as Lab from "../../src/lab/Lab.js"
import { analyse, jsonLines, report } from "../../src/lab/Report.js"

/** A minimal well-formedness check: every tag closes, in order, and the text has one root. */
const wellFormed = (xml: string): boolean => {
  const stack: Array<string> = []
  const tags = xml.replace(/<\?xml[^>]*\?>/, "").matchAll(/<(\/?)([A-Za-z][\w:-]*)([^>]*?)(\/?)>/g)
  let roots = 0
  for (const [, close, name, , selfClose] of tags) {
    if (close) {
      if (stack.pop() !== name) return false
    } else if (!selfClose) {
      if (stack.length === 0) roots++
      stack.push(name!)
    } else if (stack.length === 0) roots++
  }
  return stack.length === 0 && roots === 1 && !/&(?!amp;|lt;|gt;|quot;|#)/.test(xml)
}

/** One measurement of `cell` with the stand-in clock and a short budget. */
const measureOnce = (e: Measured, variant: string, params: Cell["params"]) => e.once({ variant, params }, workClock, { warmUpMs: 0.5, runMs: 2 })

/** The reduced matrix of the determinism test: a few groups of every experiment, every variant in each. */
const REDUCED: Readonly<Record<string, (g: Group) => boolean>> = {
  strategy: (g) => ["1 client, aligned, 64 B", "1 client, aligned, 16 KiB", "1 client, unaligned, 16 KiB", "8 clients, aligned, 4 KiB"].includes(g.key),
  "unknown-size": (g) => ["64 B", "256 KiB"].includes(g.key),
  "server-pool": (g) => g.key === "64 clients",
  "async-grant": (g) => g.key === "4 KiB",
  "ring-memory": (g) => g.key === "1 client" || g.key === "100 clients",
  "direct-call": (g) => g.key === "1 client, null" || g.key === "8 clients, 64 KiB lease"
}

const reducedRun = () =>
  Lab.run({
    resolution: "quick",
    clock: workClock,
    seed: 1,
    rounds: 2,
    budget: { warmUpMs: 0.5, runMs: 1.5 },
    warmUpSeconds: 0,
    groups: (name, g) => REDUCED[name]?.(g) ?? true
  })

/** The reduced run, made once for the tests that read it. */
let firstRun: ReturnType<typeof Effect.runPromise<Lab.LabRun, never>> | undefined
const reduced = () => Effect.promise(() => (firstRun ??= Effect.runPromise(reducedRun())))

describe("lab", () => {
  it.effect("LAB-0201 every strategy moves the bytes intact, aligned and unaligned, and its costs agree with the kernel's counting", () =>
    Effect.gen(function* () {
      for (const s of STRATEGIES) expect((yield* measureOnce(strategy, s, { size: 16384, clients: 2, buffer: "aligned" })).intact).toBe(true)
      for (const s of ["inline", "copy", "lease", "ring", "plan"]) {
        expect((yield* measureOnce(strategy, s, { size: 300_000, clients: 1, buffer: "unaligned" })).intact).toBe(true)
      }
      const at16k = (s: string) => measureOnce(strategy, s, { size: 16384, clients: 1, buffer: "aligned" })
      expect((yield* at16k("copy")).extra["copiedPerByte"]).toBe(1)
      expect((yield* at16k("lease")).extra["copiedPerByte"]).toBe(1)
      // A direct call moves the bytes by lease as well, on the caller's own thread: no hand-off.
      expect((yield* at16k("direct")).extra).toMatchObject({ copiedPerByte: 1, handoffsPerOp: 0 })
      // 4 pages out, 4 pages back, nothing copied
      expect((yield* at16k("grant")).extra).toMatchObject({ copiedPerByte: 0, pagesPerOp: 8 })
      expect((yield* at16k("inline")).extra["handoffsPerOp"]).toBe(2 * 2 * (16384 / 256))
      // The planner moves a 64 KiB aligned buffer by grant, and shares only the whole pages of an unaligned one.
      expect((yield* measureOnce(strategy, "plan", { size: 65536, clients: 1, buffer: "aligned" })).extra).toMatchObject({ copiedPerByte: 0, pagesPerOp: 32 })
      const shared = yield* measureOnce(strategy, "plan", { size: 300_000, clients: 1, buffer: "unaligned" })
      expect(shared.extra["pagesPerOp"]).toBe(Math.floor((300_000 + 100) / 4096) - 1)
    })
  )

  it.effect("LAB-0202 unknown size: each answer's calls per write, every byte copied once", () =>
    Effect.gen(function* () {
      const calls = (v: string, size: number) => Effect.map(measureOnce(unknownSize, v, { size }), (s) => s.extra)
      expect(yield* calls("max-window", 64)).toMatchObject({ callsPerWrite: 1, copiedPerByte: 1 })
      expect(yield* calls("ask-first", 64)).toMatchObject({ callsPerWrite: 2, copiedPerByte: 1 })
      expect(yield* calls("chunks-4K", 262144)).toMatchObject({ callsPerWrite: 64, copiedPerByte: 1 })
      expect(yield* calls("chunks-64K", 262144)).toMatchObject({ callsPerWrite: 4, copiedPerByte: 1 })
      expect(yield* calls("lease", 262144)).toMatchObject({ callsPerWrite: 1, copiedPerByte: 1, windowBytes: 0 })
      expect(yield* calls("max-window", 3 * 1048576)).toMatchObject({ callsPerWrite: 3, copiedPerByte: 1 })
    })
  )

  it.effect("LAB-0203 server pool: one blocking worker serves one request per file-system wait; the others overlap them", () =>
    Effect.gen(function* () {
      const rate = (design: string) =>
        Effect.map(serverPool.once({ variant: design, params: { clients: 16 } }, workClock, { warmUpMs: 5, runMs: 50 }), (s) => s.value)
      const one = yield* rate("workers-1")
      expect(one).toBeGreaterThan(900)
      expect(one).toBeLessThan(1000)
      for (const d of ["workers-16", "per-request", "deferred"]) expect(yield* rate(d)).toBeGreaterThan(10 * one)
    })
  )

  it.effect("LAB-0204 async grant: pages move and nothing is copied; one-way copies go 256 bytes at a time", () =>
    Effect.gen(function* () {
      const grant = yield* measureOnce(asyncGrant, "async-grant", { size: 65536 })
      expect(grant.extra).toMatchObject({ pagesPerWrite: 16, copiedPerByte: 0 })
      const copy = yield* measureOnce(asyncGrant, "async-copy", { size: 65536 })
      // 256 one-way copies per write, and one flush call per batch of 16 writes
      expect(copy.extra["messagesPerWrite"]).toBe(256 + 1 / 16)
      expect((yield* measureOnce(asyncGrant, "sync-lease", { size: 65536 })).extra).toMatchObject({ copiedPerByte: 1, messagesPerWrite: 1 })
    })
  )

  it.effect("LAB-0205 ring memory: a ring costs its pages per client; every variant delivers", () =>
    Effect.gen(function* () {
      const frames = (v: string, clients: number) => Effect.map(measureOnce(ringMemory, v, { clients }), (s) => s.extra["framesInUse"]!)
      const ringSlope = ((yield* frames("ring", 20)) - (yield* frames("ring", 10))) / 10
      const portSlope = ((yield* frames("port-lease", 20)) - (yield* frames("port-lease", 10))) / 10
      // the client's message page, then two ring pages (header and entries)
      expect([portSlope, ringSlope]).toEqual([1, 3])
      for (const v of ["ring", "port-lease", "port-inline"]) expect((yield* measureOnce(ringMemory, v, { clients: 4 })).value).toBeGreaterThan(0)
    })
  )

  it.effect("LAB-0213 direct calls: every payload arrives intact; a direct call hands off nothing and is counted as one, call/reply hands off twice", () =>
    Effect.gen(function* () {
      const cell = (v: string, payload: string, size: number, clients: number) => measureOnce(directCall, v, { payload, size, clients })
      for (const v of DIRECT_VARIANTS) {
        const direct = v === "direct" || v === "typed-direct"
        for (const [payload, size] of [
          ["null", 0],
          ["inline", 64],
          ["inline", 256],
          ["lease", 65536]
        ] as const) {
          const s = yield* cell(v, payload, size, 1)
          expect(s.intact, `${v} ${payload} ${size}`).toBe(true)
          expect(s.extra, `${v} ${payload} ${size}`).toMatchObject({ handoffsPerOp: direct ? 0 : 2, directPerOp: direct ? 1 : 0, messagesPerOp: 1 })
          expect(s.extra["copiedPerOp"]).toBe(payload === "lease" ? size : 0)
        }
        // Eight callers: direct calls still hand off nothing; call/reply's callers queue for the one worker,
        // which takes the next request without waiting, so fewer than two hand-offs per call.
        const many = yield* cell(v, "lease", 4096, 8)
        expect(many.intact).toBe(true)
        if (direct) expect(many.extra).toMatchObject({ handoffsPerOp: 0, directPerOp: 1 })
        else expect(many.extra["handoffsPerOp"]).toBeLessThan(2)
        expect(many.value).toBeGreaterThan(0)
      }
    })
  )

  it.effect(
    "LAB-0206 rounds are interleaved: each round runs every group's cells, in an order of its own that repeats from run to run; extra rounds only while time is left",
    () =>
      Effect.gen(function* () {
        const seen: Array<string> = []
        const record = (c: string) => Effect.sync(() => (seen.push(c), c.toLowerCase()))
        const groups = [
          ["A", "B", "C"],
          ["D", "E"]
        ]
        const samples = yield* inRounds(groups, { min: 3, max: 3 }, 0, record)
        expect(seen.slice(0, 5)).toEqual(["A", "B", "C", "D", "E"])
        for (let r = 0; r < 3; r++) {
          const round = seen.slice(5 * r, 5 * r + 5)
          expect([[...round.slice(0, 3)].sort(), [...round.slice(3)].sort()]).toEqual(groups)
        }
        expect(samples).toEqual([
          [
            ["a", "a", "a"],
            ["b", "b", "b"],
            ["c", "c", "c"]
          ],
          [
            ["d", "d", "d"],
            ["e", "e", "e"]
          ]
        ])
        expect(order(8, 3, 1)).toEqual(order(8, 3, 1))
        // The cell before a cell differs from round to round (a rotation would keep it the same).
        const before = (o: Array<number>, cell: number) => o[o.indexOf(cell) - 1]
        expect(new Set([1, 2, 3, 4, 5].map((r) => before(order(8, r, 0), 5))).size).toBeGreaterThan(1)
        const quick = yield* inRounds([["A", "B"]], { min: 2, max: 9 }, 0, record)
        expect(quick[0]!.map((s) => s.length)).toEqual([2, 2])
        const long = yield* inRounds([["A", "B"]], { min: 2, max: 4 }, 60, record)
        expect(long[0]!.map((s) => s.length)).toEqual([4, 4])
      })
  )

  it.effect(
    "LAB-0207 two runs of a reduced matrix with the stand-in clock measure the same cells and reach the same conclusions",
    () =>
      Effect.gen(function* () {
        const a = yield* reduced()
        const b = yield* reducedRun()
        expect(jsonLines(b)).toBe(jsonLines(a))
        const said = (run: Lab.LabRun) => analyse(run).map((x) => [x.analysis.answer, ...x.analysis.conclusions, ...x.analysis.figures])
        expect(said(b)).toEqual(said(a))
        expect(a.runs.map((r) => r.experiment.name)).toEqual(["strategy", "unknown-size", "server-pool", "async-grant", "ring-memory", "direct-call"])
        expect(a.pending).toEqual([])
        expect(a.runs.every((r) => r.results.every((c) => c.intact && c.rounds === 2))).toBe(true)
      }),
    120_000
  )

  it.effect(
    "LAB-0208 the report opens with every question of the thread and its computed answer, then a section each; nothing is pending",
    () =>
      Effect.gen(function* () {
        const run = yield* reduced()
        const analysed = analyse(run, { strategy: "sequenceDiagram\n    a->>b: call\n" })
        const text = report(run, analysed, "test machine", Lab.NAMES)
        const answers = text.slice(text.indexOf("## The answers"), text.indexOf("## 1."))
        for (const [i, e] of Lab.EXPERIMENTS.entries()) {
          expect(answers).toContain(e.title)
          expect(text).toContain(`## ${i + 1}. ${e.title}`)
        }
        expect(answers).toMatch(/\[§1\]\(#1-how-to-move-a-buffer\)/)
        expect(text).not.toContain("Pending")
        expect(answers).toMatch(/\[§6\]\(#6-calling-the-servers-code-in-your-own-context\)/)
        for (const a of analysed) expect(answers).toContain(a.analysis.answer)
        expect(text).toContain("![Moving a buffer: write + read back, 1 client](strategy.svg)")
        expect(text).toContain("```mermaid\nsequenceDiagram")
        expect(text).toMatch(/\*\*Conclusions\*\*\n\n- Fastest at each size, 1 client, aligned buffers: /)
      }),
    120_000
  )

  it.effect(
    "LAB-0209 one JSON object per cell with its experiment; one readable chart per experiment",
    () =>
      Effect.gen(function* () {
        const run = yield* reduced()
        const lines = jsonLines(run)
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l))
        expect(lines).toHaveLength(run.runs.reduce((n, r) => n + r.results.length, 0))
        expect(new Set(lines.map((l) => l.experiment))).toEqual(new Set(run.runs.map((r) => r.experiment.name)))
        for (const l of lines)
          expect(l).toMatchObject({ median: expect.any(Number), low: expect.any(Number), high: expect.any(Number), rounds: 2, samples: expect.any(Array) })
        for (const a of analyse(run)) {
          const svg = toSvg(a.analysis.chart)
          expect(wellFormed(svg)).toBe(true)
          expect(svg).toContain("(log scale)")
          expect([...svg.matchAll(/<g class="series" data-series="([^"]+)">/g)].map((m) => m[1])).toEqual(a.analysis.chart.series.map((s) => s.name))
        }
      }),
    120_000
  )

  it.live(
    "LAB-0210 every trace scenario draws a Mermaid sequence diagram from a traced run",
    () =>
      Effect.gen(function* () {
        for (const [name, scenario] of Object.entries(Lab.SCENARIOS)) {
          const text = yield* scenario.run
          expect(text.startsWith("sequenceDiagram\n"), name).toBe(true)
          expect(text, name).toMatch(/->>/)
        }
        const write = yield* Lab.SCENARIOS["write"]!.run
        expect(write).toMatch(/client0_\d+->>vfs_\d+: call/)
        expect(write).toMatch(/vfs_\d+->>ramfs__\d+: call/)
        expect(write).toMatch(/kernel: lease.read: copies 8192 B/)
        expect(yield* Lab.SCENARIOS["peer-death"]!.run).toContain("call fails with PeerDied")
        expect(yield* Lab.SCENARIOS["server-pool"]!.run).toMatch(/vfs_\d+->>fs_\d+: send/)
        expect(yield* Lab.SCENARIOS["async-grant"]!.run).toContain("moves 256 granted pages")
        const direct = yield* Lab.SCENARIOS["direct-call"]!.run
        expect(direct).toMatch(/client0_\d+-\)server_\d+: enters server/)
        expect(direct).toMatch(/kernel: lease.read: copies 4096 B/)
        expect(direct).toMatch(/server_\d+-\)client0_\d+: leaves server/)
      }),
    60_000
  )

  it("LAB-0211 the command runs the selected experiments, writes the report and rewrites the README's excerpt", () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "lab-"))
    const readme = path.join(out, "README.md")
    fs.writeFileSync(readme, "# title\n\n<!-- lab:begin -->\nold text\n<!-- lab:end -->\n\nafter\n")
    const r = spawnSync(
      "npx",
      ["tsx", "src/bin/main.ts", "lab", "--quick", "--experiments", "unknown-size,direct-call", "--json", "--out", out, "--readme", readme],
      { encoding: "utf8" }
    )
    expect(r.status, r.stderr).toBe(0)
    const rows = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
    expect(rows.filter((row) => row.experiment === "unknown-size").length).toBe(4 * 5)
    expect(rows.filter((row) => row.experiment === "direct-call").length).toBe(6 * 4)
    expect(rows.length).toBe(4 * 5 + 6 * 4)
    expect(fs.readdirSync(out).sort()).toEqual(["README.md", "direct-call.mmd", "direct-call.svg", "docs", "report.md", "unknown-size.mmd", "unknown-size.svg"])
    expect(fs.readFileSync(path.join(out, "report.md"), "utf8")).toMatch(/Machine: .*Resolution: quick/)
    const rewritten = fs.readFileSync(readme, "utf8")
    expect(rewritten).not.toContain("old text")
    expect(rewritten).toMatch(/^# title\n\n<!-- lab:begin -->\nGenerated by `npm start -- --readme README.md` from one quick run/)
    expect(rewritten).toContain("<!-- lab:end -->\n\nafter\n")
    expect(rewritten).toContain("(docs/img/lab-unknown-size.svg)")
    expect(wellFormed(fs.readFileSync(path.join(out, "docs/img/lab-unknown-size.svg"), "utf8"))).toBe(true)
  }, 90_000)

  it("LAB-0212 a bad option exits non-zero with a clear message", () => {
    const bad = spawnSync("npx", ["tsx", "src/bin/main.ts", "lab", "--experiments", "teleport"], { encoding: "utf8" })
    expect(bad.status).not.toBe(0)
    expect(bad.stdout + bad.stderr).toMatch(/unknown experiment 'teleport'/)
    const both = spawnSync("npx", ["tsx", "src/bin/main.ts", "lab", "--quick", "--full", "--experiments", "direct-call"], { encoding: "utf8" })
    expect(both.status).not.toBe(0)
    expect(both.stdout + both.stderr).toMatch(/--quick and --full exclude each other/)
  }, 60_000)
})
