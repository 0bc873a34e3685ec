/**
 * The lab's outputs, all rendered from a `LabRun` and its computed analyses: the console summary,
 * `report.md` (the answers on one page, then a section per experiment), JSON lines (one object
 * per cell), and the README's excerpt. Nothing here decides anything: every sentence comes from an
 * experiment's analysis.
 */
import type { Analysis, CellResult, Pending, Table } from "./Experiment.js"
import type { ExperimentRun, LabRun } from "./Lab.js"

/** An experiment's run with its analysis, and its diagram when one was drawn. */
export interface Analysed {
  readonly run: ExperimentRun
  readonly analysis: Analysis
  readonly diagram: string | undefined
}

/** Analyses every experiment of a run. */
export const analyse = (run: LabRun, diagrams: Readonly<Record<string, string>> = {}): Array<Analysed> =>
  run.runs.map((r) => ({ run: r, analysis: r.experiment.analyse(r.results), diagram: diagrams[r.experiment.name] }))

/** A table as aligned text. */
export const textTable = (t: Table): string => {
  const rows = [t.header, ...t.rows]
  const text = t.textColumns ?? 1
  const widths = t.header.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)))
  const line = (r: ReadonlyArray<string>) => r.map((c, i) => (i < text ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ")
  return [line(t.header), widths.map((w) => "-".repeat(w)).join("  "), ...t.rows.map(line)].join("\n") + "\n"
}

/** A table as Markdown, with its caption above. */
export const markdownTable = (t: Table): string => {
  const text = t.textColumns ?? 1
  return [
    `**${t.caption}**`,
    "",
    `| ${t.header.join(" | ")} |`,
    `|${t.header.map((_, i) => (i < text ? "---" : "---:")).join("|")}|`,
    ...t.rows.map((r) => `| ${r.join(" | ")} |`),
    ""
  ].join("\n")
}

/** One JSON object per cell: its experiment, group, variant, parameters, metric with spread, and secondary numbers. */
export const jsonLines = (run: LabRun): string =>
  run.runs
    .flatMap((r) => r.results)
    .map((c: CellResult) =>
      JSON.stringify({
        experiment: c.experiment,
        group: c.group,
        variant: c.variant,
        ...c.params,
        metric: c.metric.name,
        unit: c.metric.unit,
        better: c.metric.better,
        median: c.value.median,
        low: c.value.low,
        high: c.value.high,
        samples: c.samples,
        rounds: c.rounds,
        ...c.extra,
        intact: c.intact
      })
    )
    .join("\n") + "\n"

/** A GitHub heading anchor. */
const anchor = (heading: string) =>
  "#" +
  heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} -]/gu, "")
    .replace(/ /g, "-")

const heading = (i: number, title: string) => `${i + 1}. ${title}`

/** An experiment of the report: measured (with its analysis) or pending. */
interface Entry {
  readonly name: string
  readonly title: string
  readonly question: string
  readonly analysed: Analysed | undefined
  readonly pending: Pending | undefined
}

/** The experiments in the thread's order, measured or pending. */
const entries = (analysed: ReadonlyArray<Analysed>, pending: ReadonlyArray<Pending>, order: ReadonlyArray<string>): Array<Entry> =>
  order.flatMap((name): Array<Entry> => {
    const a = analysed.find((x) => x.run.experiment.name === name)
    if (a !== undefined) return [{ name, title: a.run.experiment.title, question: a.run.experiment.question, analysed: a, pending: undefined }]
    const p = pending.find((x) => x.name === name)
    return p === undefined ? [] : [{ name, title: p.title, question: p.question, analysed: undefined, pending: p }]
  })

/** The one-page answer: each question, its measured answer in a sentence, and where its section is. */
const answers = (list: ReadonlyArray<Entry>, link: (i: number, title: string) => string): string =>
  [
    "| the thread asks | the lab measured | details |",
    "|---|---|---|",
    ...list.map(
      (e, i) =>
        `| ${e.title}: “${shorten(e.question)}” | ${e.analysed !== undefined ? e.analysed.analysis.answer : `**Pending.** ${e.pending!.pending}`} | ${link(i, e.title)} |`
    )
  ].join("\n")

const shorten = (q: string) => (q.length <= 140 ? q : `${q.slice(0, q.lastIndexOf(" ", 137))} …`)

/** The settings line of an experiment. */
const settingsOf = (r: ExperimentRun) => {
  const groups = new Set(r.results.map((c) => c.group)).size
  const b = r.settings.budget
  const rounds = r.results[0]?.rounds ?? 0
  return (
    `${r.results.length} cells in ${groups} groups; each cell measured in ${rounds} rounds (${r.settings.rounds.min} to ${r.settings.rounds.max}, as many as ` +
    `${r.settings.seconds} s allowed), interleaved with its group, on a fresh kernel each time: ${b.warmUpMs} ms warm-up, then ${b.runMs} ms timed. ${r.seconds.toFixed(1)} s in all.`
  )
}

/** What the report says about how to read it. */
const HOW_TO_READ = [
  "Each cell (a variant in one configuration) runs on a fresh kernel for a time budget after a warm-up, in rounds",
  "interleaved with the cells it is compared with. Where every client makes many operations in a round, its rate comes",
  "from the median operation time (clients × work per operation ÷ median time), so an operation during which the",
  "machine paused the lab (other programs share its cores) or collected garbage does not count; where hundreds of",
  "clients queue, it is what was done in the timed section, by the wall clock (see each method). Every number is the",
  "median over the rounds, with its 95 % bootstrap interval in parentheses (the lowest to the highest round for up",
  "to 5 rounds; without the extremes from 7). A cell *beats* another only when their intervals do not overlap and",
  "their medians differ by 1.5 × at least (smaller differences do not come out the same run after run on a shared",
  "machine); a group's verdict names a winner only when nothing ties with the leader, and says *tie* otherwise. The",
  "conclusions are those verdicts; the figures are this run's numbers. Every sentence is computed from the numbers by",
  "the lab's code (`src/lab/`), not written by hand."
].join(" ")

/**
 * `report.md`: the answers on one page, then a section per experiment with its question, method,
 * conclusions, tables, chart (`<name>.svg` beside the report) and traced exchange.
 */
export const report = (run: LabRun, analysed: ReadonlyArray<Analysed>, machine: string, order: ReadonlyArray<string>): string => {
  const list = entries(analysed, run.pending, order)
  const out: Array<string> = [
    "# effect-microkernel lab report",
    "",
    `Machine: ${machine}. Resolution: ${run.resolution}. The run took ${run.seconds.toFixed(1)} s.`,
    "",
    HOW_TO_READ,
    "",
    "## The answers",
    "",
    answers(list, (i, title) => `[§${i + 1}](${anchor(heading(i, title))})`),
    ""
  ]
  list.forEach((e, i) => {
    out.push(`## ${heading(i, e.title)}`, "", `> ${e.question}`, "")
    if (e.analysed === undefined) {
      out.push(`**Pending.** ${e.pending!.pending}`, "")
      return
    }
    const { run: r, analysis: a, diagram } = e.analysed
    out.push(r.experiment.method, "", settingsOf(r), "")
    if (r.results.some((c) => !c.intact)) out.push(`**Integrity:** ${r.results.filter((c) => !c.intact).length} cells did NOT read back what they wrote.`, "")
    out.push("**Conclusions**", "", ...a.conclusions.map((c) => `- ${c}`), "")
    if (a.figures.length > 0) out.push("**Figures of this run**", "", ...a.figures.map((c) => `- ${c}`), "")
    out.push(`![${a.chart.title}](${r.experiment.name}.svg)`, "")
    for (const t of a.tables) out.push(markdownTable(t))
    if (diagram !== undefined) out.push("**One exchange, traced**", "", "```mermaid", diagram.trimEnd(), "```", "")
  })
  return out.join("\n")
}

/** The console summary: per experiment, its answer, conclusions and first table. */
export const summary = (run: LabRun, analysed: ReadonlyArray<Analysed>, order: ReadonlyArray<string>): string =>
  entries(analysed, run.pending, order)
    .map((e, i) => {
      const head = `${heading(i, e.title)} (${e.name})`
      if (e.analysed === undefined) return `${head}\n  pending: ${e.pending!.pending}\n`
      const a = e.analysed.analysis
      return [`${head}`, "", textTable(a.tables[0]!), ...a.conclusions.map((c) => `- ${c}`), ...a.figures.map((c) => `- ${c}`), ""].join("\n")
    })
    .join("\n")

/**
 * The README's excerpt: the answers on one page (linking to `docs/lab.md` for the method), the
 * first experiment's chart and table, and where it came from.
 */
export const readmeExcerpt = (run: LabRun, analysed: ReadonlyArray<Analysed>, machine: string, order: ReadonlyArray<string>, chart: string): string => {
  const list = entries(analysed, run.pending, order)
  const first = analysed[0]
  return [
    `Generated by \`npm start -- --readme README.md\` from one ${run.resolution} run (${machine}; ${run.seconds.toFixed(0)} s). ${HOW_TO_READ}`,
    "",
    answers(list, (i, title) => `[§${i + 1} ${title.toLowerCase()}](docs/lab.md#the-experiments)`),
    "",
    ...(first === undefined ? [] : [`![${first.analysis.chart.title}](${chart})`, "", markdownTable(first.analysis.tables[0]!)])
  ].join("\n")
}
