/**
 * One directory on `node:fs` (tmpfs when there is one) and the same absolute path on a freshly
 * booted facade, with the test process's credentials, so that a scenario can run on both and its
 * results compare as they are (the property and argument tests work the same way). The Node side
 * is `node:fs`'s module object (what `require("fs")` gives), which libraries may extend.
 */
import nodeFs from "node:fs"
import { tmpdir } from "node:os"
import { afterAll, beforeAll } from "vitest"
import { type BootedFileSystem, bootFileSystem } from "../../../src/root/bootFileSystem.js"

/** Both sides of a sandbox. */
export interface Sandbox {
  readonly base: string
  readonly node: typeof nodeFs
  readonly facade: BootedFileSystem["fs"]
  readonly booted: BootedFileSystem
  /** Runs `scenario` on both sides; its two results, Node's first. */
  readonly both: <A>(scenario: (fs: any, base: string) => Promise<A>) => Promise<readonly [A, A]>
  readonly close: () => Promise<void>
}

/** Makes `base` on the facade `booted` as it is on `node:fs`: its ancestors with Node's modes and owners (made by root). */
export const mirrorBase = async (booted: BootedFileSystem, base: string): Promise<void> => {
  const admin = (await booted.spawnFs("admin")).fs.promises
  await admin.mkdir(base, { recursive: true })
  for (let p = base; p !== "/"; p = p.slice(0, p.lastIndexOf("/")) || "/") {
    const s = nodeFs.statSync(p)
    await admin.chmod(p, s.mode & 0o7777)
    await admin.chown(p, s.uid, s.gid)
  }
}

/** `name(...args)` of a callback API, the callback's arguments as the result. */
export const viaCallbackArgs =
  (fs: any, name: string) =>
  (...args: Array<unknown>): Promise<Array<unknown>> =>
    new Promise((resolve) => fs[name](...args, (...got: Array<unknown>) => resolve(got)))

/** A sandbox for the tests of one file: made before them, removed after them. */
export const useSandbox = (): (() => Sandbox) => {
  let box: Sandbox | undefined
  beforeAll(async () => {
    box = await sandbox()
  })
  afterAll(async () => {
    await box?.close()
  })
  return () => box!
}

/** A fresh sandbox (`frames` for the facade's kernel). */
export const sandbox = async (frames = 8192): Promise<Sandbox> => {
  const root = nodeFs.mkdtempSync(`${nodeFs.existsSync("/dev/shm") ? "/dev/shm" : tmpdir()}/fssandbox-`)
  const base = `${root}/w`
  nodeFs.mkdirSync(base)
  const booted = await bootFileSystem({ frames, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, umask: process.umask() })
  await mirrorBase(booted, base)
  return {
    base,
    node: nodeFs,
    facade: booted.fs,
    booted,
    both: async (scenario) => [await scenario(nodeFs, base), await scenario(booted.fs, base)] as const,
    close: async () => {
      await booted.close()
      nodeFs.rmSync(root, { recursive: true, force: true })
    }
  }
}
