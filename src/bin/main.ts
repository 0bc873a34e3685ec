/**
 * The `effect-microkernel` command line.
 *
 * - `lab` (what `npm start` runs): measures the file workload through every transfer strategy,
 *   prints the table, and writes `report.md`, `throughput.svg` and `write-sequence.mmd`.
 * - `trace <scenario> [--seed N]`: prints (or writes) the Mermaid sequence diagram of one scenario (`--seed` seeds `race`).
 */
import { Args, Command, HelpDoc, Options, ValidationError } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Option } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Lab from "../lab/Lab.js"
import { disablePretenuring } from "../runtime.js"
import { jsonLines, markdownTable, sizeLabel, textTable, throughputSvg, winners } from "../lab/Report.js"
import { STRATEGIES, type Strategy } from "../lab/Workload.js"

const invalid = (message: string) => ValidationError.invalidValue(HelpDoc.p(message))

/** A comma-separated list of positive integers (sizes accept K and M suffixes). */
const integers = (name: string, max: number) =>
  Options.text(name).pipe(
    Options.mapEffect((text) => {
      const values = text.split(",").map((t) => {
        const m = /^(\d+)([kKmM]?)$/.exec(t.trim())
        return m === null ? NaN : Number(m[1]) * (m[2] === "" ? 1 : /[kK]/.test(m[2]!) ? 1024 : 1048576)
      })
      return values.every((v) => Number.isInteger(v) && v > 0 && v <= max)
        ? Effect.succeed(values)
        : Effect.fail(invalid(`--${name} takes a comma-separated list of integers from 1 to ${max}, got '${text}'`))
    }),
    Options.optional
  )

const strategiesOption = Options.text("strategies").pipe(
  Options.withDescription(`comma-separated subset of ${STRATEGIES.join(", ")}`),
  Options.mapEffect((text) => {
    const names = text.split(",").map((t) => t.trim())
    const bad = names.filter((n) => !(STRATEGIES as ReadonlyArray<string>).includes(n))
    return bad.length === 0
      ? Effect.succeed(names as Array<Strategy>)
      : Effect.fail(invalid(`unknown strategy '${bad.join(",")}': choose from ${STRATEGIES.join(", ")}`))
  }),
  Options.optional
)

const options = {
  out: Options.directory("out").pipe(Options.withDefault("lab-report"), Options.withDescription("folder for report.md, throughput.svg and write-sequence.mmd")),
  json: Options.boolean("json").pipe(Options.withDescription("print the results as JSON lines instead of a table")),
  quick: Options.boolean("quick").pipe(Options.withDescription("a reduced matrix that runs in a few seconds")),
  sizes: integers("sizes", 16 * 1048576).pipe(Options.withDescription("transfer sizes in bytes, e.g. 64,4K,1M")),
  clients: integers("clients", 256).pipe(Options.withDescription("numbers of concurrent clients, e.g. 1,8,64")),
  rounds: Options.integer("rounds").pipe(
    Options.mapEffect((n) => (n >= 1 && n <= 20 ? Effect.succeed(n) : Effect.fail(invalid(`rounds must be between 1 and 20, got ${n}`)))),
    Options.optional,
    Options.withDescription("times each cell is measured, keeping the fastest (default 3; 1 with --quick)")
  ),
  strategies: strategiesOption
}

const machine = () => {
  const cpus = os.cpus()
  return `${cpus.length} × ${cpus[0]?.model ?? "unknown CPU"}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}`
}

const progressBar = (done: number, total: number, cell: { readonly strategy: string; readonly size: number; readonly clients: number }) =>
  Effect.sync(() => {
    const width = 30
    const filled = Math.round((done / total) * width)
    const what = done === total ? "done" : `${cell.strategy} ${sizeLabel(cell.size)} × ${cell.clients} client${cell.clients === 1 ? "" : "s"}`
    process.stderr.write(`\r[${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total} ${what.padEnd(32)}${done === total ? "\n" : ""}`)
  })

const report = (results: Lab.LabResults, matrix: Lab.LabMatrix, seconds: number, diagram: string) => {
  const win = winners(results.direct)
  return [
    "# effect-microkernel lab report",
    "",
    `Machine: ${machine()}.`,
    `Settings: strategies ${matrix.strategies.join(", ")}; sizes ${matrix.sizes.map(sizeLabel).join(", ")}; clients ${matrix.clients.join(", ")}; ` +
      `about ${sizeLabel(matrix.budget)} per cell and direction (1 to 200 operations per client), the fastest of ${matrix.rounds ?? 1} round${(matrix.rounds ?? 1) === 1 ? "" : "s"}. Run took ${seconds.toFixed(1)} s.`,
    "",
    "Each operation writes `size` bytes from a client to a server and reads them back, moving the bytes by",
    'one strategy. MB/s counts both directions. "copied/byte" is the bytes the kernel copied per byte moved;',
    '"pages/op" the pages mapped or granted; "frames in use" all memory in use when the timed operations',
    'end; "hand-offs/op" the fiber wake-ups.',
    "",
    "## Fastest strategy at each size",
    "",
    ...[...win].map(([size, s]) => `- ${sizeLabel(size)}: **${s}**`),
    "",
    "## Results: client ↔ storage server, by strategy",
    "",
    markdownTable(results.direct),
    ...(results.vfs.length === 0
      ? []
      : [
          "## Results: through the VFS to the RAM file system",
          "",
          "Writes by lease (the VFS forwards the client's lease; the file system copies once) or by grant (the",
          "pages become file pages); reads by lease. The VFS process copied " + `${results.vfs.reduce((n, r) => n + r.vfsBytesCopied, 0)} bytes in all.`,
          "",
          markdownTable(results.vfs)
        ]),
    "## Throughput",
    "",
    "![throughput by strategy and size](throughput.svg)",
    "",
    "## One traced write",
    "",
    "```mermaid",
    diagram.trimEnd(),
    "```",
    ""
  ].join("\n")
}

const lab = Command.make("lab", options, (o) =>
  Effect.gen(function* () {
    const base = o.quick ? Lab.quickMatrix : Lab.fullMatrix
    const matrix: Lab.LabMatrix = {
      ...base,
      sizes: Option.getOrElse(o.sizes, () => base.sizes),
      clients: Option.getOrElse(o.clients, () => base.clients),
      strategies: Option.getOrElse(o.strategies, () => base.strategies),
      vfs: Option.isSome(o.strategies) ? [] : base.vfs,
      rounds: Option.getOrElse(o.rounds, () => base.rounds ?? 1)
    }
    const t0 = performance.now()
    const results = yield* Lab.run(matrix, progressBar)
    const seconds = (performance.now() - t0) / 1000
    const diagram = yield* Lab.trace("write")
    const all = [...results.direct, ...results.vfs]
    yield* Console.log(
      o.json
        ? jsonLines(all).trimEnd()
        : textTable(results.direct) + (results.vfs.length > 0 ? `\nthrough the VFS and the RAM file system:\n\n${textTable(results.vfs, false)}` : "")
    )
    yield* Effect.try({
      try: () => {
        fs.mkdirSync(o.out, { recursive: true })
        fs.writeFileSync(path.join(o.out, "report.md"), report(results, matrix, seconds, diagram))
        fs.writeFileSync(path.join(o.out, "throughput.svg"), throughputSvg(all, "Throughput by transfer strategy (write + read)"))
        fs.writeFileSync(path.join(o.out, "write-sequence.mmd"), diagram)
      },
      catch: (e) => new Error(`cannot write the report to ${o.out}: ${String(e)}`)
    })
    if (!o.json) yield* Console.log(`report written to ${o.out}/ (report.md, throughput.svg, write-sequence.mmd)`)
  })
).pipe(Command.withDescription("Measure every transfer strategy on a file workload and write a report."))

const trace = Command.make(
  "trace",
  {
    scenario: Args.choice(
      Lab.SCENARIOS.map((s) => [s, s] as const),
      { name: "scenario" }
    ),
    out: Options.file("out").pipe(Options.optional, Options.withDescription("write the diagram to this file instead of printing it")),
    seed: Options.integer("seed").pipe(Options.withDefault(1), Options.withDescription("the seed of a seeded scenario's kernel (race)"))
  },
  ({ scenario, out, seed }) =>
    Effect.gen(function* () {
      const diagram = yield* Lab.trace(scenario, seed)
      if (Option.isSome(out)) yield* Effect.sync(() => fs.writeFileSync(out.value, diagram))
      else yield* Console.log(diagram.trimEnd())
    })
).pipe(Command.withDescription(`Print the Mermaid sequence diagram of one scenario: ${Lab.SCENARIOS.join(", ")}.`))

const root = Command.make("effect-microkernel").pipe(
  Command.withDescription("A microkernel model on Effect: measure how to move data between processes and servers."),
  Command.withSubcommands([lab, trace])
)

const cli = Command.run(root, { name: "effect-microkernel", version: "0.1.0" })

// A program that runs kernels: keep V8 from pretenuring message allocation sites (src/runtime.ts).
disablePretenuring()

cli(process.argv).pipe(Effect.provide(NodeContext.layer), NodeRuntime.runMain({ disableErrorReporting: true }))
