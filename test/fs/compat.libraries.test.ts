/**
 * Compatibility: popular unmodified libraries that take a custom `fs` object, run on the facade and
 * on `node:fs` over the same tree, on their async, stream and sync paths, must give the same
 * results: fast-glob (globbing), @nodelib/fs.walk (walking), enhanced-resolve (module resolution),
 * proper-lockfile (locks), tar-fs (packing and extracting a tar archive).
 *
 * The sync paths (`fast-glob`'s `sync`, `walkSync`, `resolveSync`, `lockSync`) run on the facade
 * over a copy of the tree that exists only in the VFS, so an answer read from the host's disk
 * instead could not agree.
 */
import * as nodeWalk from "@nodelib/fs.walk"
import enhancedResolve from "enhanced-resolve"
import fg from "fast-glob"
import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import lockfile from "proper-lockfile"
import * as tarFs from "tar-fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Sandbox, sandbox } from "./support/sandbox.js"

let box: Sandbox
beforeAll(async () => {
  box = await sandbox()
  await box.both(async (fs, base) => {
    const files: Record<string, string> = {
      "proj/package.json": JSON.stringify({ name: "proj", main: "lib/index.js" }),
      "proj/lib/index.js": "module.exports = 1",
      "proj/lib/util.ts": "export const u = 1",
      "proj/src/a.ts": "a",
      "proj/src/deep/b.ts": "b",
      "proj/src/deep/c.js": "c",
      "proj/node_modules/dep/package.json": JSON.stringify({ name: "dep", exports: { ".": "./main.js", "./sub": "./sub/x.js" } }),
      "proj/node_modules/dep/main.js": "",
      "proj/node_modules/dep/sub/x.js": "",
      "proj/.hidden/h.ts": "h"
    }
    for (const [p, text] of Object.entries(files)) {
      await fs.promises.mkdir(`${base}/${p.slice(0, p.lastIndexOf("/"))}`, { recursive: true })
      await fs.promises.writeFile(`${base}/${p}`, text)
    }
    await fs.promises.symlink("src/deep", `${base}/proj/linked`)
  })
})
afterAll(async () => {
  await box.close()
})

const rel = (base: string, xs: Array<string>) => xs.map((x) => x.replace(base, "<base>")).sort()

describe("libraries that take an fs", () => {
  it("LIB-0001 fast-glob: async globs and the stream API (patterns, dot, onlyFiles, followSymbolicLinks, stats) give what they give on node:fs", async () => {
    const [node, facade] = await box.both(async (fs, base) => {
      const cwd = `${base}/proj`
      const opts = { cwd, fs }
      const streamed: Array<string> = []
      for await (const e of fg.stream("**/*.js", opts)) streamed.push(String(e))
      return {
        ts: (await fg("**/*.ts", opts)).sort(),
        dot: (await fg("**/*.ts", { ...opts, dot: true })).sort(),
        dirs: (await fg("**", { ...opts, onlyDirectories: true })).sort(),
        noFollow: (await fg("**/*.ts", { ...opts, followSymbolicLinks: false })).sort(),
        stats: (await fg("src/*", { ...opts, stats: true })).map((e) => `${e.path}:${e.stats?.size}`).sort(),
        absolute: rel(base, await fg("lib/*", { ...opts, absolute: true })),
        streamed: streamed.sort()
      }
    })
    expect(facade).toEqual(node)
    expect(facade.ts).toEqual(["lib/util.ts", "linked/b.ts", "src/a.ts", "src/deep/b.ts"])
  })

  it("LIB-0002 @nodelib/fs.walk: the async walk and the stream walk, with and without following links, give what they give on node:fs", async () => {
    const [node, facade] = await box.both(async (fs, base) => {
      const walk = (settings: nodeWalk.Options) =>
        new Promise<Array<string>>((resolve, reject) =>
          nodeWalk.walk(`${base}/proj`, new nodeWalk.Settings({ ...settings, fs }), (e, entries) =>
            e
              ? reject(e)
              : resolve(
                  rel(
                    base,
                    entries.map((x) => `${x.path}:${x.dirent.isDirectory() ? "d" : x.dirent.isSymbolicLink() ? "l" : "f"}`)
                  )
                )
          )
        )
      const streamed: Array<string> = []
      for await (const e of nodeWalk.walkStream(`${base}/proj`, new nodeWalk.Settings({ fs, followSymbolicLinks: true })))
        streamed.push((e as nodeWalk.Entry).path)
      return { plain: await walk({}), follow: await walk({ followSymbolicLinks: true, stats: true }), streamed: rel(base, streamed) }
    })
    expect(facade).toEqual(node)
    expect(facade.plain).toContain("<base>/proj/linked:l")
  })

  it("LIB-0003 enhanced-resolve: resolves files, directories' main, package exports and failures as on node:fs", async () => {
    const [node, facade] = await box.both(async (fs, base) => {
      const resolver = enhancedResolve.ResolverFactory.createResolver({
        fileSystem: new enhancedResolve.CachedInputFileSystem(fs, 0),
        extensions: [".js", ".ts"],
        conditionNames: ["node", "require"]
      })
      const resolve = (request: string) =>
        new Promise<string>((res) =>
          resolver.resolve({}, `${base}/proj/src`, request, {}, (e, r) =>
            res(e ? `error: ${e.message.split("\n")[0]?.replace(base, "<base>")}` : String(r).replace(base, "<base>"))
          )
        )
      return Promise.all(["./a", "./deep/b", "../lib", "..", "dep", "dep/sub", "dep/missing", "./none"].map(resolve))
    })
    expect(facade).toEqual(node)
    expect(facade.slice(0, 5)).toEqual([
      "<base>/proj/src/a.ts",
      "<base>/proj/src/deep/b.ts",
      "<base>/proj/lib/index.js",
      "<base>/proj/lib/index.js",
      "<base>/proj/node_modules/dep/main.js"
    ])
  })

  it("LIB-0004 proper-lockfile: lock, check, a second lock refused (ELOCKED), unlock, and a released lock gone, as on node:fs", async () => {
    const [node, facade] = await box.both(async (fs, base) => {
      const file = `${base}/proj/package.json`
      const out: Array<unknown> = []
      const release = await lockfile.lock(file, { fs, realpath: true })
      out.push(await lockfile.check(file, { fs }))
      out.push(
        await lockfile.lock(file, { fs }).then(
          () => "locked twice",
          (e: { code: string }) => e.code
        )
      )
      out.push(await fs.promises.stat(`${file}.lock`).then((s: { isDirectory(): boolean }) => s.isDirectory()))
      await release()
      out.push(await lockfile.check(file, { fs }))
      out.push(
        await fs.promises.access(`${file}.lock`).then(
          () => "still there",
          (e: { code: string }) => e.code
        )
      )
      return out
    })
    expect(facade).toEqual(node)
    expect(facade).toEqual([true, "ELOCKED", true, false, "ENOENT"])
  })

  it("LIB-0005 tar-fs: packs a tree through this fs and extracts the archive into it again, byte for byte as on node:fs", async () => {
    const [node, facade] = await box.both(async (fs, base) => {
      const chunks: Array<Buffer> = []
      const collect = async (source: AsyncIterable<unknown>) => {
        for await (const c of source) chunks.push(c as Buffer)
      }
      await pipeline(tarFs.pack(`${base}/proj/src`, { fs, sort: true } as tarFs.PackOptions), collect)
      const archive = Buffer.concat(chunks)
      await pipeline(Readable.from([archive]), tarFs.extract(`${base}/unpacked`, { fs } as tarFs.ExtractOptions))
      const files = (await fs.promises.readdir(`${base}/unpacked`, { recursive: true })).sort()
      const contents = await Promise.all(
        files.filter((f: string) => f.endsWith(".ts") || f.endsWith(".js")).map((f: string) => fs.promises.readFile(`${base}/unpacked/${f}`, "utf8"))
      )
      return { entries: archive.length > 0, files, contents }
    })
    expect(facade).toEqual(node)
    expect(facade.files).toEqual(["a.ts", "deep", "deep/b.ts", "deep/c.js"])
  })

  it("LIB-0006 the sync paths (fast-glob's sync, walkSync, enhanced-resolve's resolveSync, proper-lockfile's lockSync/checkSync/unlockSync) read the VFS, not the host's disk, and answer as on node:fs", () => {
    const { base, facade, node, booted } = box
    // A copy of the tree that only the VFS has.
    const only = base.replace(/\/w$/, "/vfs-only")
    facade.cpSync(`${base}/proj`, `${only}/proj`, { recursive: true, verbatimSymlinks: true })
    expect(node.existsSync(only)).toBe(false)
    const calls = () => Object.values(booted.system.vfsCounters.operations).reduce((n, c) => n + (c as { calls: number }).calls, 0)
    const run = (fs: any, root: string) => {
      const cwd = `${root}/proj`
      const walked = nodeWalk
        .walkSync(cwd, new nodeWalk.Settings({ fs, followSymbolicLinks: true }))
        .map((e) => e.path.slice(root.length))
        .sort()
      const resolver = enhancedResolve.ResolverFactory.createResolver({
        fileSystem: new enhancedResolve.CachedInputFileSystem(fs, 0),
        useSyncFileSystemCalls: true,
        extensions: [".js", ".ts"],
        conditionNames: ["node", "require"]
      })
      const resolved = ["./a", "../lib", "dep/sub"].map((r) => String(resolver.resolveSync({}, `${cwd}/src`, r)).slice(root.length))
      const file = `${cwd}/package.json`
      lockfile.lockSync(file, { fs, realpath: true })
      const locked = [lockfile.checkSync(file, { fs }), fs.statSync(`${file}.lock`).isDirectory()]
      lockfile.unlockSync(file, { fs })
      return {
        glob: fg.sync("**/*.ts", { cwd, fs }).sort(),
        dirs: fg.sync("**", { cwd, fs, onlyDirectories: true, followSymbolicLinks: false }).sort(),
        walked,
        resolved,
        locked: [...locked, lockfile.checkSync(file, { fs }), fs.existsSync(`${file}.lock`)]
      }
    }
    const expected = run(node, base)
    const before = calls()
    const actual = run(facade, only)
    expect(actual).toEqual(expected)
    expect(actual.glob).toEqual(["lib/util.ts", "linked/b.ts", "src/a.ts", "src/deep/b.ts"])
    expect(actual.locked).toEqual([true, true, false, false])
    expect(calls() - before).toBeGreaterThan(20)
  })
})
