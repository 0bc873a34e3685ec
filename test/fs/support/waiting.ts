/**
 * Waiting in the file-system tests: a pause, a condition awaited with a deadline, and a facade
 * booted for one test and closed after it.
 */
import { type BootedFileSystem, bootFileSystem } from "../../../src/root/bootFileSystem.js"

/** Resolves after `ms` milliseconds. */
export const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Resolves once `until()` holds (checked every few milliseconds), or rejects after `ms`. */
export const eventually = async (until: () => boolean, ms = 2000) => {
  const end = Date.now() + ms
  while (!until()) {
    if (Date.now() > end) throw new Error("not within the time")
    await pause(5)
  }
}

/** Boots a facade, runs `f` on it, and closes it. */
export const withFs = async <A>(f: (b: BootedFileSystem) => Promise<A>): Promise<A> => {
  const booted = await bootFileSystem()
  try {
    return await f(booted)
  } finally {
    await booted.close()
  }
}
