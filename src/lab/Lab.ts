/**
 * The lab: one experiment per question of the forum thread, run the same way — its groups of
 * cells in interleaved rounds (`Harness.inRounds`), each cell summarised by its median and
 * spread — and the trace scenarios that draw single exchanges as Mermaid diagrams. The command
 * line (`src/bin/main.ts`) is a thin shell over this module; the report is `Report.ts`.
 */
import { Effect } from "effect"
import { type ClockSource, realClock } from "./Clock.js"
import type { CellResult, Experiment, Group, Measured, Pending, Resolution, Settings } from "./Experiment.js"
import { asyncGrant } from "./experiments/asyncGrant.js"
import { directCall } from "./experiments/directCall.js"
import { ringMemory } from "./experiments/ringMemory.js"
import { serverPool } from "./experiments/serverPool.js"
import { strategy } from "./experiments/strategy.js"
import { unknownSize } from "./experiments/unknownSize.js"
import { type Budget, inRounds, KernelSeed } from "./Harness.js"
import { peerDeath } from "./scenarios/peerDeath.js"
import * as Race from "./scenarios/race.js"
import { vfsStep } from "./scenarios/vfs.js"
import { median, spread } from "./Stats.js"

/** Every experiment, in the order of the thread's questions. */
export const EXPERIMENTS: ReadonlyArray<Experiment> = [strategy, unknownSize, serverPool, asyncGrant, ringMemory, directCall]

/** The names `--experiments` takes. */
export const NAMES: ReadonlyArray<string> = EXPERIMENTS.map((e) => e.name)

/** How to run the lab. */
export interface RunOptions {
  readonly resolution: Resolution
  /** Names of the experiments to run, in any order (default: all). */
  readonly experiments?: ReadonlyArray<string> | undefined
  /** The clock cells are timed with (default: the wall clock). */
  readonly clock?: ClockSource
  /** Rounds per cell instead of the experiment's own number. */
  readonly rounds?: number | undefined
  /** The budget of every measurement instead of the experiment's own (a reduced matrix, for tests). */
  readonly budget?: Budget | undefined
  /** Boots every cell's kernel seeded with this (deterministic scheduling, for tests; default: live kernels). */
  readonly seed?: number | undefined
  /** Seconds of untimed warm-up before the first measurement (default `WARM_UP_SECONDS`; 0: none). */
  readonly warmUpSeconds?: number | undefined
  /** Keeps only the groups this accepts (a reduced matrix, for tests); default all. */
  readonly groups?: ((experiment: string, group: Group) => boolean) | undefined
  /** Told as an experiment goes: its name, progress (done of total, in groups' rounds), and the group. */
  readonly progress?: (experiment: string, done: number, total: number, group: string) => Effect.Effect<void>
}

/** One experiment's results. */
export interface ExperimentRun {
  readonly experiment: Measured
  readonly settings: Settings
  readonly results: ReadonlyArray<CellResult>
  readonly seconds: number
}

/** What a lab run measured. */
export interface LabRun {
  readonly resolution: Resolution
  readonly runs: ReadonlyArray<ExperimentRun>
  /** Experiments selected that cannot run yet. */
  readonly pending: ReadonlyArray<Pending>
  readonly seconds: number
}

/** Runs one experiment: its groups in interleaved rounds, each cell summarised over its rounds. */
const runOne = (e: Measured, options: RunOptions): Effect.Effect<ExperimentRun> =>
  Effect.gen(function* () {
    const base = e.settings[options.resolution]
    const settings: Settings = {
      ...base,
      rounds: options.rounds === undefined ? base.rounds : { min: options.rounds, max: options.rounds },
      budget: options.budget ?? base.budget
    }
    const clock = options.clock ?? realClock
    const groups = e.groups(options.resolution).filter((g) => options.groups?.(e.name, g) ?? true)
    const t0 = performance.now()
    const samples = yield* inRounds(
      groups.map((g) => g.cells),
      settings.rounds,
      settings.seconds,
      (cell) => e.once(cell, clock, settings.budget),
      (round, group) =>
        options.progress === undefined
          ? Effect.void
          : options.progress(e.name, round * groups.length + group, settings.rounds.max * groups.length, groups[group]!.key)
    )
    if (options.progress !== undefined) yield* options.progress(e.name, 1, 1, "")
    const results = groups.flatMap((group, k) =>
      group.cells.map((cell, i): CellResult => {
        const s = samples[k]![i]!
        const extras = [...new Set(s.flatMap((x) => Object.keys(x.extra)))]
        return {
          ...cell,
          experiment: e.name,
          group: group.key,
          metric: e.metric,
          value: spread(s.map((x) => x.value)),
          rounds: s.length,
          samples: s.map((x) => x.value),
          extra: Object.fromEntries(extras.map((key) => [key, median(s.map((x) => x.extra[key] ?? NaN))])),
          intact: s.every((x) => x.intact)
        }
      })
    )
    return { experiment: e, settings, results, seconds: (performance.now() - t0) / 1000 }
  })

/**
 * Seconds of warm-up by resolution. The engine runs a code path several times slower during its
 * first second or so (until it is compiled and optimised), and cells last milliseconds: without
 * a warm-up the first groups measured the compiler.
 */
export const WARM_UP_SECONDS: Readonly<Record<Resolution, number>> = { quick: 1, default: 2, full: 6 }

/**
 * Runs the warm-up cells of `experiments` in turn, each for its experiment's `warmUpMs`, until
 * `seconds` have passed (at least once each when `seconds` > 0). Nothing is recorded.
 */
const warmUp = (experiments: ReadonlyArray<Measured>, options: RunOptions): Effect.Effect<void> =>
  Effect.gen(function* () {
    const seconds = options.warmUpSeconds ?? WARM_UP_SECONDS[options.resolution]
    if (seconds <= 0) return
    const clock = options.clock ?? realClock
    const t0 = performance.now()
    do {
      for (const e of experiments) {
        if (options.progress !== undefined) yield* options.progress("warm-up", 0, 1, e.name)
        for (const cell of e.warmUp) yield* e.once(cell, clock, { warmUpMs: 0, runMs: e.settings[options.resolution].warmUpMs })
      }
    } while (performance.now() - t0 < seconds * 1000)
  })

/**
 * Runs the selected experiments in the thread's order, after a warm-up. Names that match no experiment are a
 * defect (the command line checks them first).
 */
export const run = (options: RunOptions): Effect.Effect<LabRun> =>
  Effect.gen(function* () {
    const wanted = options.experiments ?? NAMES
    const unknown = wanted.filter((n) => !NAMES.includes(n))
    if (unknown.length > 0) return yield* Effect.dieMessage(`unknown experiment ${unknown.join(", ")}`)
    const selected = EXPERIMENTS.filter((e) => wanted.includes(e.name))
    const t0 = performance.now()
    const measured = selected.filter((e): e is Measured => e._tag === "Measured")
    yield* warmUp(measured, options)
    const runs: Array<ExperimentRun> = []
    for (const e of measured) runs.push(yield* Effect.locally(runOne(e, options), KernelSeed, options.seed))
    return {
      resolution: options.resolution,
      runs,
      pending: selected.filter((e): e is Pending => e._tag === "Pending"),
      seconds: (performance.now() - t0) / 1000
    }
  })

/** A trace scenario: what it shows, and the traced run that draws it. */
export interface Scenario {
  readonly about: string
  readonly run: Effect.Effect<string>
}

/** The scenarios `trace` can draw: a line each. */
export const SCENARIOS: Readonly<Record<string, Scenario>> = {
  write: { about: "an 8 KiB write through the VFS to the RAM file system", run: vfsStep("write") },
  read: { about: "an 8 KiB read through the VFS", run: vfsStep("read") },
  open: { about: "an open through the VFS", run: vfsStep("open") },
  "peer-death": { about: "a server killed with one caller served and one queued", run: peerDeath },
  race: { about: "three clients race an exclusive create and a rename through the VFS, on a seeded kernel (--seed)", run: Race.diagram(1) },
  ...Object.fromEntries(EXPERIMENTS.flatMap((e) => (e._tag === "Measured" ? [[e.name, { about: e.title, run: e.diagram }]] : [])))
}

/**
 * The diagram of the scenario `name` (one of `SCENARIOS`'s keys); `seed` seeds the kernel of a
 * seeded scenario (`race`), and is ignored by the others. An unknown name is a defect.
 */
export const trace = (name: string, seed = 1): Effect.Effect<string> => {
  if (name === "race") return Race.diagram(seed)
  const scenario = SCENARIOS[name]
  return scenario === undefined ? Effect.dieMessage(`unknown scenario ${name}`) : scenario.run
}
