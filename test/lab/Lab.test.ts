import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Lab from "../../src/lab/Lab.js"
import { jsonLines, throughputSvg, winners } from "../../src/lab/Report.js"
import { STRATEGIES } from "../../src/lab/Workload.js"

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

const tiny: Lab.LabMatrix = { strategies: STRATEGIES, sizes: [64, 16384], clients: [1, 2], vfs: [], budget: 65536 }

describe("lab", () => {
  it.effect("every strategy moves the bytes intact, and the measurements agree with the kernel's counting", () =>
    Effect.gen(function* () {
      const { direct: results } = yield* Lab.run(tiny)
      expect(results.length).toBe(STRATEGIES.length * 4)
      expect(results.every((r) => r.intact)).toBe(true)
      const at = (s: string, size: number) => results.filter((r) => r.strategy === s && r.size === size)
      for (const r of at("lease", 16384)) expect(r.copiedPerByte).toBe(1)
      for (const r of at("copy", 16384)) expect(r.copiedPerByte).toBe(1)
      for (const r of at("grant", 16384)) expect([r.copiedPerByte, r.pagesPerOp]).toEqual([0, 8])
      for (const r of at("inline", 16384)) expect(r.handoffsPerOp).toBe(2 * 2 * (16384 / 256))
      const lines = jsonLines(results)
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l))
      expect(lines).toEqual(JSON.parse(JSON.stringify(results)))
      expect(winners(results).size).toBe(2)
    })
  )

  it.effect("the throughput chart is well-formed SVG with one series per strategy", () =>
    Effect.gen(function* () {
      const { direct: results } = yield* Lab.run({ ...tiny, sizes: [64], clients: [1] })
      const svg = throughputSvg(results, "test <chart> & co")
      expect(wellFormed(svg)).toBe(true)
      expect([...svg.matchAll(/<g class="series" data-strategy="(\w+)">/g)].map((m) => m[1])).toEqual([...STRATEGIES])
    })
  )

  it.effect("through the VFS, a lease write costs exactly one kernel copy per byte, a grant write none, and the VFS copies nothing", () =>
    Effect.gen(function* () {
      const { vfs } = yield* Lab.run({ ...tiny, strategies: [], sizes: [65536], clients: [2], vfs: ["vfs.lease", "vfs.grant"] })
      const [lease, grant] = vfs
      expect(lease).toMatchObject({ strategy: "vfs.lease", copiedPerByte: 1, vfsBytesCopied: 0, intact: true })
      // grant writes copy nothing; the lease reads copy every byte: half the bytes moved
      expect(grant).toMatchObject({ strategy: "vfs.grant", copiedPerByte: 0.5, vfsBytesCopied: 0, intact: true })
      // the 16 pages move twice: client → VFS, then VFS → file system
      expect(grant!.pagesPerOp).toBe(32)
    })
  )

  it.effect("trace draws a Mermaid sequence diagram of each scenario", () =>
    Effect.gen(function* () {
      for (const scenario of Lab.SCENARIOS) {
        const text = yield* Lab.trace(scenario)
        expect(text.startsWith("sequenceDiagram\n")).toBe(true)
        expect(text).toMatch(/->>/)
      }
      const write = yield* Lab.trace("write")
      expect(write).toMatch(/client0_\d+->>vfs_\d+: call/)
      expect(write).toMatch(/vfs_\d+->>ramfs__\d+: call/)
      expect(write).toMatch(/kernel: lease.read: copies 8192 B/)
      expect(yield* Lab.trace("peer-death")).toContain("call fails with PeerDied")
    })
  )

  it("the command `lab --quick --out DIR` exits 0 and writes report.md, throughput.svg and write-sequence.mmd", () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "lab-"))
    const stdout = execFileSync("npx", ["tsx", "src/bin/main.ts", "lab", "--quick", "--sizes", "64,4096", "--clients", "1", "--json", "--out", out], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"]
    })
    expect(fs.readdirSync(out).sort()).toEqual(["report.md", "throughput.svg", "write-sequence.mmd"])
    expect(fs.readFileSync(path.join(out, "report.md"), "utf8")).toMatch(/Machine: /)
    expect(wellFormed(fs.readFileSync(path.join(out, "throughput.svg"), "utf8"))).toBe(true)
    const rows = stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
    expect(rows.length).toBe((STRATEGIES.length + 2) * 2)
  }, 60_000)

  it("a bad option exits non-zero with a clear message", () => {
    const r = spawnSync("npx", ["tsx", "src/bin/main.ts", "lab", "--strategies", "teleport"], { encoding: "utf8" })
    expect(r.status).not.toBe(0)
    expect(r.stdout + r.stderr).toMatch(/unknown strategy 'teleport'/)
  }, 60_000)
})
