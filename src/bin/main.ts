/**
 * The `effect-microkernel` command line.
 *
 * - `lab` (what `npm start` runs): runs the experiments (one per question of the forum thread),
 *   prints their answers, and writes `report.md` with a chart (`<experiment>.svg`) and a traced
 *   exchange (`<experiment>.mmd`) per experiment. `--readme FILE` also rewrites FILE's lab excerpt.
 * - `trace <scenario> [--seed N]`: prints (or writes) the Mermaid sequence diagram of one scenario (`--seed` seeds `race`).
 */
import { Args, Command, HelpDoc, Options, ValidationError } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, Console, Effect, Option } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { toSvg } from "../lab/Chart.js"
import type { Resolution } from "../lab/Experiment.js"
import * as Lab from "../lab/Lab.js"
import { analyse, jsonLines, readmeExcerpt, report, summary } from "../lab/Report.js"
import { disablePretenuring } from "../runtime.js"

const invalid = (message: string) => ValidationError.invalidValue(HelpDoc.p(message))

const experimentsOption = Options.text("experiments").pipe(
  Options.withDescription(`comma-separated subset of ${Lab.NAMES.join(", ")}`),
  Options.mapEffect((text) => {
    const names = text.split(",").map((t) => t.trim())
    const bad = names.filter((n) => !Lab.NAMES.includes(n))
    return bad.length === 0 ? Effect.succeed(names) : Effect.fail(invalid(`unknown experiment '${bad.join(",")}': choose from ${Lab.NAMES.join(", ")}`))
  }),
  Options.optional
)

const options = {
  out: Options.directory("out").pipe(
    Options.withDefault("lab-report"),
    Options.withDescription("folder for report.md and each experiment's chart and diagram")
  ),
  json: Options.boolean("json").pipe(Options.withDescription("print one JSON object per cell instead of the summary")),
  quick: Options.boolean("quick").pipe(Options.withDescription("every experiment at a reduced resolution (under 20 s)")),
  full: Options.boolean("full").pipe(Options.withDescription("the fine sweeps (several minutes)")),
  experiments: experimentsOption,
  rounds: Options.integer("rounds").pipe(
    Options.mapEffect((n) => (n >= 1 && n <= 20 ? Effect.succeed(n) : Effect.fail(invalid(`rounds must be between 1 and 20, got ${n}`)))),
    Options.optional,
    Options.withDescription("rounds per cell instead of each experiment's own (3, or 5 with --full)")
  ),
  readme: Options.file("readme").pipe(
    Options.optional,
    Options.withDescription("rewrite this README's lab excerpt (between <!-- lab:begin --> and <!-- lab:end -->) from this run")
  )
}

const machine = () => {
  const cpus = os.cpus()
  return `${cpus.length} × ${cpus[0]?.model.trim() ?? "unknown CPU"}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}`
}

/** A progress bar on a terminal; elsewhere one line per experiment, when it is done. */
const progressBar = (experiment: string, done: number, total: number, group: string) =>
  Effect.sync(() => {
    if (!process.stderr.isTTY) {
      if (done === total && total > 1) process.stderr.write(`${experiment}: ${total} measurements done\n`)
      return
    }
    const width = 30
    const filled = Math.round((done / total) * width)
    const what = done === total ? "done" : group
    process.stderr.write(
      `\r${experiment.padEnd(12)} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${`${done}/${total}`.padStart(9)} ${what.padEnd(34)}${done === total ? "\n" : ""}`
    )
  })

const BEGIN = "<!-- lab:begin -->"
const END = "<!-- lab:end -->"

/** Replaces the text between the markers of `file`; the markers must be there. */
const rewriteExcerpt = (file: string, excerpt: string) => {
  const text = fs.readFileSync(file, "utf8")
  const begin = text.indexOf(BEGIN)
  const end = text.indexOf(END)
  if (begin < 0 || end < begin) throw new Error(`${file} has no ${BEGIN} … ${END} section`)
  fs.writeFileSync(file, `${text.slice(0, begin + BEGIN.length)}\n${excerpt.trimEnd()}\n${text.slice(end)}`)
}

const lab = Command.make("lab", options, (o) =>
  Effect.gen(function* () {
    if (o.quick && o.full) return yield* Effect.fail(new Error("--quick and --full exclude each other"))
    const resolution: Resolution = o.quick ? "quick" : o.full ? "full" : "default"
    const run = yield* Lab.run({
      resolution,
      experiments: Option.getOrUndefined(o.experiments),
      rounds: Option.getOrUndefined(o.rounds),
      progress: progressBar
    })
    const diagrams: Record<string, string> = {}
    for (const r of run.runs) diagrams[r.experiment.name] = yield* r.experiment.diagram
    const analysed = analyse(run, diagrams)
    const where = machine()
    yield* Console.log(o.json ? jsonLines(run).trimEnd() : summary(run, analysed, Lab.NAMES))
    yield* Effect.try({
      try: () => {
        fs.mkdirSync(o.out, { recursive: true })
        fs.writeFileSync(path.join(o.out, "report.md"), report(run, analysed, where, Lab.NAMES))
        for (const a of analysed) {
          fs.writeFileSync(path.join(o.out, `${a.run.experiment.name}.svg`), toSvg(a.analysis.chart))
          if (a.diagram !== undefined) fs.writeFileSync(path.join(o.out, `${a.run.experiment.name}.mmd`), a.diagram)
        }
        if (Option.isSome(o.readme)) {
          const first = analysed[0]
          const chart = first === undefined ? "" : `docs/img/lab-${first.run.experiment.name}.svg`
          if (first !== undefined) {
            const target = path.join(path.dirname(o.readme.value), chart)
            fs.mkdirSync(path.dirname(target), { recursive: true })
            fs.writeFileSync(target, toSvg(first.analysis.chart))
          }
          rewriteExcerpt(o.readme.value, readmeExcerpt(run, analysed, where, Lab.NAMES, chart))
        }
      },
      catch: (e) => new Error(`cannot write the report: ${String(e)}`)
    })
    if (!o.json) yield* Console.log(`report written to ${o.out}/report.md${Option.isSome(o.readme) ? `; excerpt rewritten in ${o.readme.value}` : ""}`)
  }).pipe(
    // The runtime is told not to report errors (the command line's own are printed by @effect/cli):
    // say what stopped the lab here, with the stack of a defect.
    Effect.tapErrorCause((cause) => {
      const e = Cause.squash(cause)
      return Console.error(`lab: ${Cause.isDie(cause) && e instanceof Error ? (e.stack ?? e.message) : e instanceof Error ? e.message : String(e)}`)
    })
  )
).pipe(Command.withDescription("Run the experiments that answer the forum thread's questions and write a report."))

const trace = Command.make(
  "trace",
  {
    scenario: Args.choice(
      Object.keys(Lab.SCENARIOS).map((s) => [s, s] as const),
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
).pipe(
  Command.withDescription(
    `Print the Mermaid sequence diagram of one scenario: ${Object.entries(Lab.SCENARIOS)
      .map(([name, s]) => `${name} (${s.about})`)
      .join("; ")}.`
  )
)

const root = Command.make("effect-microkernel").pipe(
  Command.withDescription("A microkernel model on Effect: measure how to move data between processes and servers."),
  Command.withSubcommands([lab, trace])
)

const cli = Command.run(root, { name: "effect-microkernel", version: "0.1.0" })

// A program that runs kernels: keep V8 from pretenuring message allocation sites (src/runtime.ts).
disablePretenuring()

cli(process.argv).pipe(Effect.provide(NodeContext.layer), NodeRuntime.runMain({ disableErrorReporting: true }))
