/**
 * What an experiment of the lab is: a question of the forum thread, the groups of cells that
 * answer it, how to measure one cell once, and how to turn the measured cells into tables, one
 * chart and conclusions. The lab (`Lab.ts`) runs any experiment the same way; the report
 * (`Report.ts`) renders any analysis the same way.
 *
 * Conclusions are computed: an analysis reads only the cells' medians and spreads, and every
 * verdict in it comes from `Stats` (a winner only where the spreads separate).
 */
import type { Effect } from "effect"
import type { ClockSource } from "./Clock.js"
import type { Budget, Rounds } from "./Harness.js"
import type { Better, Spread } from "./Stats.js"

/** How finely to sweep: `quick` for tests and CI, `default` for `npm start`, `full` for the fine sweeps. */
export type Resolution = "quick" | "default" | "full"

/** A parameter value of a cell. */
export type Param = number | string

/** One configuration of an experiment. */
export interface Cell {
  /** What is compared within a group: a strategy, a server design… */
  readonly variant: string
  /** The configuration around it (size, clients…), in display order. */
  readonly params: Readonly<Record<string, Param>>
}

/** Cells compared with each other, and so measured in interleaved rounds. */
export interface Group {
  /** A short human name ("1 client, aligned, 64 KiB"). */
  readonly key: string
  readonly cells: ReadonlyArray<Cell>
}

/** One measurement of one cell. */
export interface Sample {
  /** The experiment's metric. */
  readonly value: number
  /** Secondary numbers (copies per byte, frames, p99…), summarised by their median over the rounds. */
  readonly extra: Readonly<Record<string, number>>
  /** Whether every byte arrived as sent (or the operation's own check held). */
  readonly intact: boolean
}

/** What an experiment measures, and which way is better. */
export interface Metric {
  readonly name: string
  readonly unit: string
  readonly better: Better
}

/** A cell's result over its rounds. */
export interface CellResult extends Cell {
  readonly experiment: string
  readonly group: string
  readonly metric: Metric
  /** The metric's median over the rounds, and its spread. */
  readonly value: Spread
  readonly rounds: number
  /** The metric of every round, in the order measured. */
  readonly samples: ReadonlyArray<number>
  /** The medians over the rounds of the secondary numbers. */
  readonly extra: Readonly<Record<string, number>>
  /** True if every round was intact. */
  readonly intact: boolean
}

/** A table: a header and rows of text, numbers right-aligned from column `textColumns` on. */
export interface Table {
  readonly caption: string
  readonly header: ReadonlyArray<string>
  readonly rows: ReadonlyArray<ReadonlyArray<string>>
  /** Columns at the left that hold text (left-aligned); the rest hold numbers. Default 1. */
  readonly textColumns?: number
}

/** One series of a chart: a point per x, each with its spread (drawn as a bar). */
export interface Series {
  readonly name: string
  readonly dashed?: boolean
  readonly points: ReadonlyArray<{ readonly x: number; readonly y: Spread }>
}

/** A line chart. Axes are logarithmic where their values span decades. */
export interface Chart {
  readonly title: string
  readonly x: { readonly label: string; readonly log: boolean; readonly format: (x: number) => string }
  readonly y: { readonly label: string; readonly log: boolean }
  readonly series: ReadonlyArray<Series>
}

/** What an analysis says about its cells. */
export interface Analysis {
  /** The measured answer to the question, in one sentence, for the report's first page. */
  readonly answer: string
  /** The verdicts, a sentence each: who beats whom, where, and where nothing can be told apart. */
  readonly conclusions: ReadonlyArray<string>
  /** What this run measured, in numbers (ratios, costs): they move from run to run; the verdicts should not. */
  readonly figures: ReadonlyArray<string>
  readonly tables: ReadonlyArray<Table>
  readonly chart: Chart
}

/** How long and how often an experiment measures its cells at a resolution. */
export interface Settings {
  readonly budget: Budget
  /** Rounds per cell: at least `min`, up to `max` while the experiment's `seconds` last. */
  readonly rounds: Rounds
  /** The experiment's share of the run's time, in seconds (rounds beyond `rounds.min` stop when it is spent). */
  readonly seconds: number
  /** How long each of the experiment's warm-up cells runs in the lab's warm-up (see `Lab.run`). */
  readonly warmUpMs: number
}

/** An experiment that runs. */
export interface Measured {
  readonly _tag: "Measured"
  /** The name `--experiments` takes. */
  readonly name: string
  readonly title: string
  /** The thread's question, in its words. */
  readonly question: string
  /** How the cells are built and measured (Markdown), for the report. */
  readonly method: string
  readonly metric: Metric
  readonly settings: Readonly<Record<Resolution, Settings>>
  readonly groups: (resolution: Resolution) => ReadonlyArray<Group>
  /** Cells the lab's warm-up runs, unmeasured, before anything is measured (one per variant, say). */
  readonly warmUp: ReadonlyArray<Cell>
  /** Measures one cell once, on a fresh kernel. */
  readonly once: (cell: Cell, clock: ClockSource, budget: Budget) => Effect.Effect<Sample>
  readonly analyse: (results: ReadonlyArray<CellResult>) => Analysis
  /** The Mermaid sequence diagram of one representative exchange, from a traced run. */
  readonly diagram: Effect.Effect<string>
}

/** An experiment that cannot run yet: listed, and shown as pending, never faked. */
export interface Pending {
  readonly _tag: "Pending"
  readonly name: string
  readonly title: string
  readonly question: string
  /** What it will measure, and what it waits for. */
  readonly pending: string
}

/** Any experiment. */
export type Experiment = Measured | Pending
