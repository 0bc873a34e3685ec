/**
 * Compatibility: an existing Node library that takes a custom `fs` (isomorphic-git) runs on the
 * VFS unchanged. The `fs` from `bootFileSystem()` is passed to it as is; every file operation git
 * does is IPC from a client process to the VFS and the RAM file system.
 *
 * The tests run in order and share one repository at `/repo`.
 */
import { Effect } from "effect"
import git from "isomorphic-git"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bootFileSystem, type BootedFileSystem } from "../../src/root/bootFileSystem.js"
import type { NodeFs } from "../../src/fs/NodeFs.js"
import * as Kernel from "../../src/kernel/Kernel.js"

const dir = "/repo"
const author = { name: "Ada Lovelace", email: "ada@example.org", timestamp: 1_700_000_000, timezoneOffset: 0 }
const binary = Uint8Array.from({ length: 1024 }, (_, i) => (i * 37 + 11) & 0xff)

let booted: BootedFileSystem
let fs: NodeFs
let first: string
let second: string

beforeAll(async () => {
  booted = await bootFileSystem({ frames: 8192 })
  fs = booted.fs
})
afterAll(async () => {
  await booted.close()
})

const matrix = async () => (await git.statusMatrix({ fs, dir })).map(([file, head, workdir, stage]) => `${file} ${head}${workdir}${stage}`)

describe("isomorphic-git on the VFS", () => {
  it("GIT-0001 init creates a repository", async () => {
    await fs.promises.mkdir(dir)
    await git.init({ fs, dir, defaultBranch: "main" })
    expect((await fs.promises.stat(`${dir}/.git/objects`)).isDirectory()).toBe(true)
    expect(await git.currentBranch({ fs, dir })).toBe("main")
  })

  it("GIT-0002 add stages text files, a file in a subdirectory and a binary file", async () => {
    await fs.promises.writeFile(`${dir}/README.md`, "# repo\n")
    await fs.promises.writeFile(`${dir}/notes.txt`, "first line\n")
    await fs.promises.mkdir(`${dir}/src/lib`, { recursive: true })
    await fs.promises.writeFile(`${dir}/src/lib/index.ts`, "export const x = 1\n")
    await fs.promises.writeFile(`${dir}/logo.bin`, binary)
    for (const filepath of ["README.md", "notes.txt", "src/lib/index.ts", "logo.bin"]) await git.add({ fs, dir, filepath })
    expect((await git.listFiles({ fs, dir })).sort()).toEqual(["README.md", "logo.bin", "notes.txt", "src/lib/index.ts"])
  })

  it("GIT-0003 commit with an author", async () => {
    first = await git.commit({ fs, dir, message: "first commit", author })
    expect(first).toMatch(/^[0-9a-f]{40}$/)
    expect(await git.resolveRef({ fs, dir, ref: "HEAD" })).toBe(first)
  })

  it("GIT-0004 log shows the commit", async () => {
    const log = await git.log({ fs, dir })
    expect(log).toHaveLength(1)
    expect(log[0]!.oid).toBe(first)
    expect(log[0]!.commit.message).toBe("first commit\n")
    expect(log[0]!.commit.author).toMatchObject({ name: author.name, email: author.email, timestamp: author.timestamp })
  })

  it("GIT-0005 statusMatrix is clean after the commit", async () => {
    expect(await matrix()).toEqual(["README.md 111", "logo.bin 111", "notes.txt 111", "src/lib/index.ts 111"])
  })

  it("GIT-0006 a modified file shows as modified", async () => {
    await fs.promises.appendFile(`${dir}/notes.txt`, "second line\n")
    expect(await matrix()).toContain("notes.txt 121")
    expect(await git.status({ fs, dir, filepath: "notes.txt" })).toBe("*modified")
  })

  it("GIT-0007 commit again: the log has both commits, newest first", async () => {
    await git.add({ fs, dir, filepath: "notes.txt" })
    second = await git.commit({ fs, dir, message: "second commit", author: { ...author, timestamp: author.timestamp + 60 } })
    expect((await git.log({ fs, dir })).map((e) => e.oid)).toEqual([second, first])
    expect(await matrix()).toContain("notes.txt 111")
  })

  it("GIT-0008 branch and checkout of a new branch, and back", async () => {
    await git.branch({ fs, dir, ref: "feature", checkout: true })
    expect(await git.currentBranch({ fs, dir })).toBe("feature")
    await fs.promises.writeFile(`${dir}/feature.txt`, "on feature\n")
    await git.add({ fs, dir, filepath: "feature.txt" })
    await git.commit({ fs, dir, message: "feature work", author })
    await git.checkout({ fs, dir, ref: "main" })
    expect(await git.currentBranch({ fs, dir })).toBe("main")
    await expect(fs.promises.stat(`${dir}/feature.txt`)).rejects.toMatchObject({ code: "ENOENT" })
    expect((await git.listBranches({ fs, dir })).sort()).toEqual(["feature", "main"])
    await git.checkout({ fs, dir, ref: "feature" })
    expect(await fs.promises.readFile(`${dir}/feature.txt`, "utf8")).toBe("on feature\n")
    await git.checkout({ fs, dir, ref: "main" })
  })

  it("GIT-0009 readBlob returns the exact bytes of the binary file and of a text file", async () => {
    const { blob } = await git.readBlob({ fs, dir, oid: first, filepath: "logo.bin" })
    expect(Buffer.from(blob).equals(Buffer.from(binary))).toBe(true)
    const text = await git.readBlob({ fs, dir, oid: second, filepath: "notes.txt" })
    expect(new TextDecoder().decode(text.blob)).toBe("first line\nsecond line\n")
  })

  it("GIT-0010 remove drops a file from the index; deleting it too shows it deleted", async () => {
    await git.remove({ fs, dir, filepath: "README.md" })
    expect(await git.listFiles({ fs, dir })).not.toContain("README.md")
    expect(await matrix()).toContain("README.md 110")
    await fs.promises.unlink(`${dir}/README.md`)
    expect(await matrix()).toContain("README.md 100")
    expect(await git.status({ fs, dir, filepath: "README.md" })).toBe("deleted")
  })

  it("GIT-0011 .git/HEAD read back with fs.promises.readFile", async () => {
    expect(await fs.promises.readFile(`${dir}/.git/HEAD`, "utf8")).toBe("ref: refs/heads/main\n")
    expect(await fs.promises.readFile(`${dir}/.git/refs/heads/main`, "utf8")).toBe(`${second}\n`)
  })

  it("GIT-0012 a second client process reads the repository the first one wrote", async () => {
    const other = await booted.spawnFs("git-reader")
    expect(other.client.pid).not.toBe(booted.client.pid)
    const log = await git.log({ fs: other.fs, dir, ref: "main" })
    expect(log.map((e) => e.oid)).toEqual([second, first])
    const { blob } = await git.readBlob({ fs: other.fs, dir, oid: first, filepath: "logo.bin" })
    expect(Buffer.from(blob).equals(Buffer.from(binary))).toBe(true)
    await Effect.runPromise(Kernel.kill(other.client))
  })
})
