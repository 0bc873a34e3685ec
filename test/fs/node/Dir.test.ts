/**
 * `opendir` and `fs.Dir` in their three forms, each scenario run on `node:fs` and on the facade
 * (entries compared as sets: both read in the order of their file system).
 */
import { beforeAll, describe, expect, it } from "vitest"
import { useSandbox } from "../support/sandbox.js"

const box$ = useSandbox()
beforeAll(async () => {
  await box$().both(async (fs, base) => {
    await fs.promises.mkdir(`${base}/d/sub`, { recursive: true })
    for (const n of ["a", "b", "c"]) await fs.promises.writeFile(`${base}/d/${n}`, n)
    await fs.promises.writeFile(`${base}/d/sub/inner`, "i")
    await fs.promises.symlink("a", `${base}/d/link`)
  })
})

const describeEntry = (d: { name: string; parentPath: string; isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean }, base: string) =>
  `${d.parentPath.slice(base.length)}/${d.name}:${d.isFile() ? "f" : d.isDirectory() ? "d" : d.isSymbolicLink() ? "l" : "?"}`

describe("Dir", () => {
  it("FS-0400 the promise form: read() until null, path, close(); once closed read throws and close rejects ERR_DIR_CLOSED", async () => {
    const [node, facade] = await box$().both(async (fs, base) => {
      const dir = await fs.promises.opendir(`${base}/d`)
      const seen: Array<string> = []
      for (let d = await dir.read(); d !== null; d = await dir.read()) seen.push(describeEntry(d, base))
      const path = dir.path.slice(base.length)
      await dir.close()
      let readError = ""
      try {
        dir.read()
      } catch (e) {
        readError = (e as { code: string }).code
      }
      const closeError = await dir.close().catch((e: { code: string }) => e.code)
      return { seen: seen.sort(), path, readError, closeError }
    })
    expect(facade).toEqual(node)
    expect(facade).toEqual({
      seen: ["/d/a:f", "/d/b:f", "/d/c:f", "/d/link:l", "/d/sub:d"],
      path: "/d",
      readError: "ERR_DIR_CLOSED",
      closeError: "ERR_DIR_CLOSED"
    })
  })

  it("FS-0401 the callback form: opendir(cb), read(cb) (reads queue behind one another), close(cb)", async () => {
    const [node, facade] = await box$().both(
      (fs, base) =>
        new Promise((resolve) => {
          fs.opendir(`${base}/d`, { bufferSize: 2 }, (err: unknown, dir: any) => {
            if (err) return resolve({ err })
            const seen: Array<string> = []
            let pending = 6
            for (let i = 0; i < 6; i++) {
              dir.read((e: unknown, d: any) => {
                seen.push(e ? "error" : d === null ? "end" : describeEntry(d, base))
                if (--pending === 0) dir.close((e2: unknown) => resolve({ seen: seen.sort(), closed: e2 === null }))
              })
            }
          })
        })
    )
    expect(facade).toEqual(node)
    expect(facade).toEqual({ seen: ["/d/a:f", "/d/b:f", "/d/c:f", "/d/link:l", "/d/sub:d", "end"], closed: true })
  })

  it("FS-0402 for await: every entry, then the directory closed (also on break); { recursive } walks into directories", async () => {
    const [node, facade] = await box$().both(async (fs, base) => {
      const all: Array<string> = []
      for await (const d of await fs.promises.opendir(`${base}/d`, { recursive: true })) all.push(describeEntry(d, base))
      const dir = await fs.promises.opendir(`${base}/d`)
      for await (const d of dir) if (d) break
      const afterBreak = await dir.close().catch((e: { code: string }) => e.code)
      return { all: all.sort(), afterBreak }
    })
    expect(facade).toEqual(node)
    expect(facade.all).toContain("/d/sub/inner:f")
    expect(facade.afterBreak).toBe("ERR_DIR_CLOSED")
  })

  it("FS-0403 opendir errors name opendir (ENOENT, ENOTDIR); options.bufferSize must be a positive uint32 (checked before anything is opened)", async () => {
    const [node, facade] = await box$().both(async (fs, base) => {
      const missing = await fs.promises.opendir(`${base}/none`).catch((e: { code: string; syscall: string }) => `${e.code}:${e.syscall}`)
      const file = await fs.promises.opendir(`${base}/d/a`).catch((e: { code: string; syscall: string }) => `${e.code}:${e.syscall}`)
      return { missing, file }
    })
    expect(facade).toEqual(node)
    expect(facade).toEqual({ missing: "ENOENT:opendir", file: "ENOTDIR:opendir" })
    await expect(box$().facade.promises.opendir(`${box$().base}/d`, { bufferSize: 0 })).rejects.toMatchObject({ code: "ERR_OUT_OF_RANGE" })
  })
})
