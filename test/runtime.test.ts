import { describe, expect, it } from "vitest"
import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"

/**
 * Runs a probe in a child process (V8's flags and heap are per process): an allocation site whose
 * objects all survive scavenges, then where a fresh object from that site is allocated.
 */
const probe = (tuned: boolean): string => {
  const runtime = fileURLToPath(new URL("../src/runtime.ts", import.meta.url))
  const script = `
    const { disablePretenuring } = await import(${JSON.stringify(runtime)})
    if (${tuned}) disablePretenuring()
    const make = (i) => ({ a: i, b: i + 1 })
    const keep = []
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 20000; i++) keep.push(make(i))
      gc({ type: "minor" })
    }
    process.stdout.write(%InYoungGeneration(make(1)) ? "young" : "old")`
  return execFileSync(process.execPath, ["--allow-natives-syntax", "--expose-gc", "--import", "tsx", "--input-type=module", "-e", script]).toString()
}

describe("runtime tuning", () => {
  it("RUNTIME-0001 disablePretenuring keeps a long-lived literal site's objects young (V8 pretenures them otherwise)", () => {
    expect(probe(false)).toBe("old")
    expect(probe(true)).toBe("young")
  })
})
