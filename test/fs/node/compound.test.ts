/**
 * The operations Node composes from several calls, composed alike by the facade: `cp` and its
 * options, `rm`/`rmdir({ recursive })`, the JavaScript `realpath` against `realpath.native`, and
 * `readdir({ recursive })` in the order of each form, each scenario run on `node:fs` and on the facade.
 */
import { describe, expect, it } from "vitest"
import { useSandbox } from "../support/sandbox.js"

const box$ = useSandbox()

const cb =
  (fs: any, name: string) =>
  (...args: Array<unknown>): Promise<unknown> =>
    new Promise((resolve) => fs[name](...args, (e: unknown, v?: unknown) => resolve(e ? describeError(e) : { ok: v })))
const describeError = (e: any) => ({ name: e.name, code: e.code, syscall: e.syscall, message: e.message, errno: e.errno, info: e.info })
const attempt = (p: Promise<unknown>) => p.then((v) => ({ ok: v }), describeError)

/** A listing of everything under `dir`: path, kind, content or target. */
const listing = async (fs: any, dir: string): Promise<Array<string>> => {
  const out: Array<string> = []
  for (const name of (await fs.promises.readdir(dir, { recursive: true })) as Array<string>) {
    const p = `${dir}/${name}`
    const s = await fs.promises.lstat(p)
    out.push(
      `${name}:${s.isDirectory() ? "d" : s.isSymbolicLink() ? `l>${await fs.promises.readlink(p)}` : `f=${await fs.promises.readFile(p, "utf8")}`}:${(s.mode & 0o777).toString(8)}`
    )
  }
  return out.sort()
}

describe("cp", () => {
  it("FS-0500 copies a file, a tree with recursive (links as links, made absolute, or verbatim), with modes; dereference copies what links point to", async () => {
    const [node, facade] = await box$().both(async (fs, base) => {
      const src = `${base}/cp/src`
      await fs.promises.mkdir(`${src}/sub`, { recursive: true })
      await fs.promises.writeFile(`${src}/a`, "A", { mode: 0o640 })
      await fs.promises.writeFile(`${src}/sub/b`, "B")
      await fs.promises.symlink("a", `${src}/rel`)
      await fs.promises.cp(`${src}/a`, `${base}/cp/one`)
      await fs.promises.cp(src, `${base}/cp/tree`, { recursive: true })
      await fs.promises.cp(src, `${base}/cp/verbatim`, { recursive: true, verbatimSymlinks: true })
      await fs.promises.cp(src, `${base}/cp/deref`, { recursive: true, dereference: true })
      const rel = (await listing(fs, `${base}/cp`)).map((l) => l.replace(base, "<base>"))
      return rel
    })
    expect(facade).toEqual(node)
    expect(facade).toContain("tree/rel:l><base>/cp/src/a:777")
    expect(facade).toContain("verbatim/rel:l>a:777")
    expect(facade).toContain("deref/rel:f=A:640")
  })

  it("FS-0501 cp's errors: a directory without recursive (ERR_FS_EISDIR), into itself (ERR_FS_CP_EINVAL), onto a file (ERR_FS_CP_DIR_TO_NON_DIR), errorOnExist with force false (ERR_FS_CP_EEXIST); filter skips", async () => {
    const [node, facade] = await box$().both(async (fs, base) => {
      const src = `${base}/cpe/src`
      await fs.promises.mkdir(src, { recursive: true })
      await fs.promises.writeFile(`${src}/keep`, "k")
      await fs.promises.writeFile(`${src}/skip`, "s")
      await fs.promises.writeFile(`${base}/cpe/file`, "f")
      const mask = (r: any) => JSON.parse(JSON.stringify(r).replaceAll(base, "<base>"))
      return mask({
        dir: await attempt(fs.promises.cp(src, `${base}/cpe/x`)),
        self: await attempt(fs.promises.cp(src, `${src}/inside`, { recursive: true })),
        onFile: await attempt(fs.promises.cp(src, `${base}/cpe/file`, { recursive: true })),
        exists: await attempt(fs.promises.cp(`${src}/keep`, `${base}/cpe/file`, { force: false, errorOnExist: true })),
        keptByDefault: await attempt(fs.promises.cp(`${src}/keep`, `${base}/cpe/file`, { force: false })),
        filtered: await cb(fs, "cp")(src, `${base}/cpe/f`, { recursive: true, filter: async (s: string) => !s.endsWith("skip") }),
        after: await fs.promises.readdir(`${base}/cpe/f`),
        file: await fs.promises.readFile(`${base}/cpe/file`, "utf8")
      })
    })
    expect(facade).toEqual(node)
    expect(facade.dir).toMatchObject({ name: "SystemError", code: "ERR_FS_EISDIR" })
    expect(facade.self).toMatchObject({ code: "ERR_FS_CP_EINVAL" })
    expect(facade.onFile).toMatchObject({ code: "ERR_FS_CP_DIR_TO_NON_DIR" })
    expect(facade.exists).toMatchObject({ code: "ERR_FS_CP_EEXIST" })
    expect(facade.after).toEqual(["keep"])
  })
})

describe("rm and rmdir", () => {
  it("FS-0502 rm of a directory without recursive is ERR_FS_EISDIR (a SystemError: info, errno, syscall rm); recursive removes a tree; force passes a missing path", async () => {
    const [node, facade] = await box$().both(async (fs, base) => {
      await fs.promises.mkdir(`${base}/rm/a/b/c`, { recursive: true })
      for (const n of ["x", "a/y", "a/b/z", "a/b/c/w"]) await fs.promises.writeFile(`${base}/rm/${n}`, n)
      const notRecursive = await attempt(fs.promises.rm(`${base}/rm`))
      const e = await fs.promises.rm(`${base}/rm`).catch((x: unknown) => x)
      const shape = { str: String(e).replace(base, "<base>"), keys: Object.keys(e).sort(), errno: e.errno, syscall: e.syscall }
      await fs.promises.rm(`${base}/rm`, { recursive: true })
      const gone = await attempt(fs.promises.access(`${base}/rm`))
      const forced = await attempt(fs.promises.rm(`${base}/rm`, { force: true }))
      const missing = await cb(fs, "rm")(`${base}/rm`)
      return JSON.parse(JSON.stringify({ notRecursive, shape, gone, forced, missing }).replaceAll(base, "<base>"))
    })
    expect(facade).toEqual(node)
    expect(facade.shape).toEqual({
      str: "SystemError [ERR_FS_EISDIR]: Path is a directory: rm returned EISDIR (is a directory) <base>/rm",
      keys: ["code", "errno", "info", "path", "syscall"],
      errno: 21,
      syscall: "rm"
    })
  })

  it("FS-0503 rmdir({ recursive }): a tree goes; a file is ENOTDIR (rmdir); a missing path fails at lstat in the callback form and at stat in the promise form", async () => {
    const [node, facade] = await box$().both(async (fs, base) => {
      await fs.promises.mkdir(`${base}/rd/t/u`, { recursive: true })
      await fs.promises.writeFile(`${base}/rd/t/u/f`, "f")
      await fs.promises.writeFile(`${base}/rd/file`, "f")
      const tree = await cb(fs, "rmdir")(`${base}/rd/t`, { recursive: true })
      const file = await cb(fs, "rmdir")(`${base}/rd/file`, { recursive: true })
      const missingCb = await cb(fs, "rmdir")(`${base}/rd/none`, { recursive: true })
      const missingPromise = await attempt(fs.promises.rmdir(`${base}/rd/none`, { recursive: true }))
      return JSON.parse(JSON.stringify({ tree, file, missingCb, missingPromise }).replaceAll(base, "<base>"))
    })
    expect(facade).toEqual(node)
    expect([facade.file, facade.missingCb, facade.missingPromise].map((r: any) => `${r.code}:${r.syscall}`)).toEqual([
      "ENOTDIR:rmdir",
      "ENOENT:lstat",
      "ENOENT:stat"
    ])
  })
})

describe("realpath and recursive readdir", () => {
  it("FS-0504 the callback realpath walks with lstat (its errors name lstat); realpath.native and promises.realpath name realpath; both resolve links", async () => {
    const [node, facade] = await box$().both(async (fs, base) => {
      await fs.promises.mkdir(`${base}/rp/real/deeper`, { recursive: true })
      await fs.promises.symlink("real", `${base}/rp/link`)
      await fs.promises.symlink(`${base}/rp/link/deeper`, `${base}/rp/abs`)
      const r = {
        js: await cb(fs, "realpath")(`${base}/rp/abs/`),
        native: await new Promise((res) => fs.realpath.native(`${base}/rp/link`, (e: unknown, v: unknown) => res(e ? describeError(e) : v))),
        promise: await fs.promises.realpath(`${base}/rp/abs`),
        jsMissing: await cb(fs, "realpath")(`${base}/rp/none/x`),
        nativeMissing: await attempt(fs.promises.realpath(`${base}/rp/none/x`)),
        buffer: Buffer.isBuffer(await fs.promises.realpath(`${base}/rp/link`, "buffer"))
      }
      return JSON.parse(JSON.stringify(r).replaceAll(base, "<base>"))
    })
    expect(facade).toEqual(node)
    expect(facade).toMatchObject({ js: { ok: "<base>/rp/real/deeper" }, jsMissing: { syscall: "lstat" }, nativeMissing: { syscall: "realpath" }, buffer: true })
  })

  it("FS-0505 readdir({ recursive }): the callback form breadth first, the promise form depth first (Node 20's orders), names relative; withFileTypes gives Dirents with parentPath", async () => {
    const [node, facade] = await box$().both(async (fs, base) => {
      await fs.promises.mkdir(`${base}/rr/a/b`, { recursive: true })
      await fs.promises.mkdir(`${base}/rr/c`)
      for (const n of ["a/f", "a/b/g", "c/h", "z"]) await fs.promises.writeFile(`${base}/rr/${n}`, n)
      await fs.promises.symlink("a", `${base}/rr/la`)
      const callback = await cb(fs, "readdir")(`${base}/rr`, { recursive: true })
      const promise = await fs.promises.readdir(`${base}/rr`, { recursive: true })
      const dirents = ((await fs.promises.readdir(`${base}/rr`, { recursive: true, withFileTypes: true })) as Array<any>).map(
        (d) => `${d.parentPath.slice(base.length)}|${d.name}`
      )
      return { callback, promise, dirents }
    })
    expect(facade).toEqual(node)
    expect(facade.callback).toEqual({ ok: ["a", "c", "la", "z", "a/b", "a/f", "c/h", "la/b", "la/f", "a/b/g", "la/b/g"] })
    expect(facade.promise).toEqual(["a", "c", "la", "z", "la/b", "la/f", "la/b/g", "c/h", "a/b", "a/f", "a/b/g"])
  })
})
