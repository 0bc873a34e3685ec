import * as NodeFs from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bootFileSystem, type BootedFileSystem } from "../../src/root/bootFileSystem.js"

let booted: BootedFileSystem
beforeAll(async () => {
  booted = await bootFileSystem({ frames: 8192 })
})
afterAll(async () => {
  await booted.close()
})

describe("Node-compatible fs", () => {
  it("FS-0001 writeFile/readFile/appendFile round trip, with encodings", async () => {
    const fs = booted.fs.promises
    await fs.writeFile("/a.txt", "hello")
    await fs.appendFile("/a.txt", ", world")
    expect(await fs.readFile("/a.txt", "utf8")).toBe("hello, world")
    expect(Buffer.isBuffer(await fs.readFile("/a.txt"))).toBe(true)
  })

  it("FS-0002 errors are Node's: code, errno, syscall, path and message", async () => {
    const fs = booted.fs.promises
    const e = await fs.readFile("/x").catch((x) => x)
    expect(e).toMatchObject({ code: "ENOENT", errno: -2, syscall: "open", path: "/x" })
    expect(e.message).toBe("ENOENT: no such file or directory, open '/x'")
    await fs.mkdir("/d")
    await expect(fs.mkdir("/d")).rejects.toMatchObject({ code: "EEXIST", syscall: "mkdir", path: "/d" })
    await fs.writeFile("/d/f", "1")
    await expect(fs.rmdir("/d")).rejects.toMatchObject({ code: "ENOTEMPTY" })
    await expect(fs.readFile("/d")).rejects.toMatchObject({ code: "EISDIR" })
    await expect(fs.stat("/d/f/x")).rejects.toMatchObject({ code: "ENOTDIR" })
    await expect(fs.readlink("/d/f")).rejects.toMatchObject({ code: "EINVAL" })
    await fs.symlink("/l2", "/l1")
    await fs.symlink("/l1", "/l2")
    await expect(fs.stat("/l1")).rejects.toMatchObject({ code: "ELOOP" })
  })

  it("FS-0003 invalid arguments reject with ERR_INVALID_ARG_TYPE instead of throwing", async () => {
    const p = booted.fs.promises.readFile(42 as unknown as string)
    await expect(p).rejects.toMatchObject({ code: "ERR_INVALID_ARG_TYPE" })
  })

  it("FS-0004 Stats carry every Node field; mtime changes on every write; ino is stable", async () => {
    const fs = booted.fs.promises
    await fs.writeFile("/s", "abc")
    const s1 = await fs.stat("/s")
    const b1 = await fs.stat("/s", { bigint: true })
    await fs.appendFile("/s", "d")
    const s2 = await fs.stat("/s")
    const b2 = await fs.stat("/s", { bigint: true })
    for (const k of ["dev", "ino", "mode", "nlink", "uid", "gid", "rdev", "size", "blksize", "blocks", "atimeMs", "mtimeMs", "ctimeMs", "birthtimeMs"]) {
      expect(typeof (s1 as unknown as Record<string, unknown>)[k]).toBe("number")
    }
    expect(s1.mtime).toBeInstanceOf(Date)
    expect(s1.isFile() && !s1.isDirectory()).toBe(true)
    expect(s2.size).toBe(4)
    expect(s2.ino).toBe(s1.ino)
    expect(b2.mtimeNs > b1.mtimeNs).toBe(true)
  })

  it("FS-0005 open → FileHandle: write, read at positions, truncate, stat, close; EBADF after close", async () => {
    const fs = booted.fs.promises
    const fh = await fs.open("/h", "w+")
    await fh.write("0123456789")
    const { bytesRead, buffer } = await fh.read(Buffer.alloc(4), 0, 4, 3)
    expect(buffer.subarray(0, bytesRead).toString()).toBe("3456")
    await fh.truncate(5)
    expect((await fh.stat()).size).toBe(5)
    await fh.close()
    await expect(fh.stat()).rejects.toMatchObject({ code: "EBADF" })
  })

  it("FS-0006 readdir (withFileTypes), mkdir recursive, rename, link, realpath, rm recursive/force, copyFile, chmod, utimes, mkdtemp", async () => {
    const fs = booted.fs.promises
    expect(await fs.mkdir("/r/s/t", { recursive: true })).toBe("/r")
    await fs.writeFile("/r/s/t/f", "x")
    await fs.rename("/r/s/t/f", "/r/g")
    await fs.link("/r/g", "/r/h")
    expect((await fs.stat("/r/h")).nlink).toBe(2)
    const ents = (await fs.readdir("/r", { withFileTypes: true })) as Array<{ name: string; isDirectory(): boolean }>
    expect(ents.map((e) => `${e.name}:${e.isDirectory()}`).sort()).toEqual(["g:false", "h:false", "s:true"])
    await fs.symlink("/r/s", "/rs")
    expect(await fs.realpath("/rs/t/")).toBe("/r/s/t")
    await fs.copyFile("/r/g", "/r/copy")
    await expect(fs.copyFile("/r/g", "/r/copy", 1)).rejects.toMatchObject({ code: "EEXIST" })
    await fs.chmod("/r/g", 0o600)
    expect((await fs.stat("/r/g")).mode & 0o777).toBe(0o600)
    await fs.utimes("/r/g", new Date(1000), new Date(2000))
    expect((await fs.stat("/r/g")).mtimeMs).toBe(2000)
    const tmp = await fs.mkdtemp("/tmp-")
    expect(tmp.startsWith("/tmp-")).toBe(true)
    await expect(fs.rm("/r")).rejects.toMatchObject({ code: "ERR_FS_EISDIR", name: "SystemError", syscall: "rm", path: "/r" })
    await fs.rm("/r", { recursive: true })
    await fs.rm("/r", { force: true })
    await expect(fs.access("/r")).rejects.toMatchObject({ code: "ENOENT", syscall: "access" })
  })

  it("FS-0007 callback API and streams", async () => {
    const fs = booted.fs
    await new Promise<void>((res, rej) => fs.writeFile("/cb", "callback", (e: unknown) => (e ? rej(e) : res())))
    const text = await new Promise<string>((res, rej) => fs.readFile("/cb", "utf8", (e: unknown, v: string) => (e ? rej(e) : res(v))))
    expect(text).toBe("callback")
    const err = await new Promise<unknown>((res) => fs.stat("/missing", (e: unknown) => res(e)))
    expect(err).toMatchObject({ code: "ENOENT" })
    await new Promise<void>((res, rej) => {
      const w = fs.createWriteStream("/stream")
      w.on("error", rej).on("finish", () => res())
      w.write("a".repeat(100000))
      w.end("b")
    })
    let total = 0
    for await (const chunk of fs.createReadStream("/stream", { highWaterMark: 16384 })) total += (chunk as Buffer).length
    expect(total).toBe(100001)
  })

  it("FS-0008 64 client threads at once: one wx winner, one mkdir winner, appends whole, content intact", async () => {
    const fs = booted.fs.promises
    const n = 64
    const wx = await Promise.allSettled(Array.from({ length: n }, (_, i) => fs.writeFile("/race", `w${i}`, { flag: "wx" })))
    expect(wx.filter((r) => r.status === "fulfilled")).toHaveLength(1)
    expect(wx.filter((r) => r.status === "rejected").every((r) => (r as PromiseRejectedResult).reason.code === "EEXIST")).toBe(true)
    const md = await Promise.allSettled(Array.from({ length: n }, () => fs.mkdir("/racedir")))
    expect(md.filter((r) => r.status === "fulfilled")).toHaveLength(1)
    const line = (i: number) => `client ${i} `.padEnd(200, String.fromCharCode(97 + (i % 26))) + "\n"
    await Promise.all(Array.from({ length: n }, (_, i) => fs.appendFile("/log", line(i))))
    const lines = ((await fs.readFile("/log", "utf8")) as string).split("\n").filter((l: string) => l !== "")
    expect(lines.sort()).toEqual(Array.from({ length: n }, (_, i) => line(i).slice(0, -1)).sort())
    await Promise.all(Array.from({ length: n }, (_, i) => fs.writeFile(`/own${i}`, Buffer.alloc(5000 + i, i))))
    const back = await Promise.all(Array.from({ length: n }, (_, i) => fs.readFile(`/own${i}`)))
    expect(back.every((b, i) => (b as Buffer).length === 5000 + i && (b as Buffer).every((x) => x === i))).toBe(true)
  })

  it("FS-0009 errors name the path the caller passed, as Node's do, even when a parent directory is what is missing", async () => {
    const fs = booted.fs.promises
    await expect(fs.writeFile("/nodir/x", "1")).rejects.toMatchObject({ code: "ENOENT", syscall: "open", path: "/nodir/x" })
    const e = await fs.mkdir("/nodir/x").catch((x) => x)
    expect(e).toMatchObject({ code: "ENOENT", syscall: "mkdir", path: "/nodir/x" })
    expect(e.message).toBe("ENOENT: no such file or directory, mkdir '/nodir/x'")
    await fs.writeFile("/plain", "1")
    await expect(fs.mkdir("/plain/a/b", { recursive: true })).rejects.toMatchObject({ code: "ENOTDIR", syscall: "mkdir", path: "/plain/a/b" })
    await expect(fs.unlink("/nodir/x")).rejects.toMatchObject({ code: "ENOENT", syscall: "unlink", path: "/nodir/x" })
    await expect(fs.rmdir("/plain/x")).rejects.toMatchObject({ code: "ENOTDIR", syscall: "rmdir", path: "/plain/x" })
    await expect(fs.symlink("t", "/nodir/x")).rejects.toMatchObject({ code: "ENOENT", syscall: "symlink", path: "t", dest: "/nodir/x" })
  })

  it('FS-0010 readlink, realpath, readdir and mkdtemp honour Node\'s encoding option ("buffer" gives Buffers)', async () => {
    const fs = booted.fs.promises
    await fs.mkdir("/enc")
    await fs.writeFile("/enc/é", "1")
    await fs.symlink("é", "/enc/link")
    expect(await fs.readlink("/enc/link")).toBe("é")
    const target = await fs.readlink("/enc/link", { encoding: "buffer" })
    expect(Buffer.isBuffer(target) && target.equals(Buffer.from("é"))).toBe(true)
    expect(await fs.readlink("/enc/link", "hex")).toBe(Buffer.from("é").toString("hex"))
    expect(await new Promise((res) => booted.fs.readlink("/enc/link", "buffer", (_: unknown, v: Buffer) => res(Buffer.isBuffer(v))))).toBe(true)
    expect((await fs.realpath("/enc/link", "buffer")).equals(Buffer.from("/enc/é"))).toBe(true)
    const names = (await fs.readdir("/enc", "buffer")) as Array<Buffer>
    expect(names.every((n) => Buffer.isBuffer(n)) && names.map((n) => n.toString()).sort()).toEqual(["link", "é"])
    const dirents = (await fs.readdir("/enc", { withFileTypes: true, encoding: "buffer" })) as Array<{ name: Buffer }>
    expect(dirents.every((d) => Buffer.isBuffer(d.name))).toBe(true)
    expect(Buffer.isBuffer(await fs.mkdtemp("/enc/t-", { encoding: "buffer" }))).toBe(true)
  })
})

describe("permissions through the Node-compatible fs", () => {
  it("FS-0012 another user's client: EACCES and EPERM are Node's errors; access checks R_OK/W_OK; root is unaffected", async () => {
    const root = booted.fs.promises
    await root.mkdir("/perm")
    await root.chmod("/perm", 0o1777)
    await root.writeFile("/perm/secret", "root only", { mode: 0o600 })
    await root.writeFile("/perm/readonly", "r")
    await root.chmod("/perm/readonly", 0o444)
    const alice = await booted.spawnFs("alice", { uid: 1000, gid: 1000 })
    const fs = alice.fs.promises
    const e = await fs.readFile("/perm/secret").catch((x) => x)
    expect(e).toMatchObject({ code: "EACCES", errno: -13, syscall: "open", path: "/perm/secret" })
    expect(e.message).toBe("EACCES: permission denied, open '/perm/secret'")
    await expect(fs.access("/perm/readonly", NodeFs.constants.W_OK)).rejects.toMatchObject({ code: "EACCES", syscall: "access", path: "/perm/readonly" })
    await fs.access("/perm/readonly", fs.constants.R_OK)
    await fs.access("/perm/secret")
    await expect(fs.access("/perm/secret", fs.constants.R_OK)).rejects.toMatchObject({ code: "EACCES" })
    await expect(fs.chmod("/perm/readonly", 0o666)).rejects.toMatchObject({ code: "EPERM", errno: -1, syscall: "chmod", path: "/perm/readonly" })
    await expect(fs.chown("/perm/readonly", 1000, 1000)).rejects.toMatchObject({ code: "EPERM", syscall: "chown" })
    await expect(fs.unlink("/perm/readonly")).rejects.toMatchObject({ code: "EPERM", syscall: "unlink" })
    await expect(fs.writeFile("/alice.txt", "no")).rejects.toMatchObject({ code: "EACCES", syscall: "open", path: "/alice.txt" })
    await fs.writeFile("/perm/alice.txt", "mine")
    const st = await fs.stat("/perm/alice.txt")
    expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([1000, 1000, 0o644])
    expect(await root.readFile("/perm/secret", "utf8")).toBe("root only")
    await root.access("/perm/readonly", NodeFs.constants.W_OK)
  })

  it("FS-0013 fs.constants O_NOFOLLOW and O_DIRECTORY have Node's values and work: ELOOP on a link, ENOTDIR on a file", async () => {
    const fs = booted.fs.promises
    expect(booted.fs.constants.O_NOFOLLOW).toBe(NodeFs.constants.O_NOFOLLOW)
    expect(booted.fs.constants.O_DIRECTORY).toBe(NodeFs.constants.O_DIRECTORY)
    const { O_RDONLY, O_NOFOLLOW, O_DIRECTORY } = booted.fs.constants
    await fs.writeFile("/flags-file", "f")
    await fs.symlink("/flags-file", "/flags-link")
    await expect(fs.open("/flags-link", O_RDONLY | O_NOFOLLOW)).rejects.toMatchObject({ code: "ELOOP", errno: -40, syscall: "open", path: "/flags-link" })
    await expect(fs.open("/flags-file", O_RDONLY | O_DIRECTORY)).rejects.toMatchObject({ code: "ENOTDIR", syscall: "open", path: "/flags-file" })
    await (await fs.open("/flags-file", O_RDONLY | O_NOFOLLOW)).close()
    await (await fs.open("/", O_RDONLY | O_DIRECTORY)).close()
  })

  it("FS-0014 bootFileSystem({ uid, gid, umask }): the first client is that user; what it creates gets mode & ~umask", async () => {
    const own = await bootFileSystem({ frames: 2048, uid: 1000, gid: 100, umask: 0o077 })
    try {
      const fs = own.fs.promises
      await expect(fs.mkdir("/home")).rejects.toMatchObject({ code: "EACCES", syscall: "mkdir", path: "/home" })
      const root = await own.spawnFs("root")
      await root.fs.promises.mkdir("/home")
      await root.fs.promises.chown("/home", 1000, 100)
      await fs.writeFile("/home/notes", "private")
      await fs.mkdir("/home/dir")
      const [f, d] = [await fs.stat("/home/notes"), await fs.stat("/home/dir")]
      expect([f.mode & 0o7777, d.mode & 0o7777, f.uid, f.gid]).toEqual([0o600, 0o700, 1000, 100])
      const other = await own.spawnFs("other", { uid: 1001, gid: 100 })
      await expect(other.fs.promises.readFile("/home/notes")).rejects.toMatchObject({ code: "EACCES" })
    } finally {
      await own.close()
    }
  })
})

describe("bootFileSystem", () => {
  it("FS-0011 spawnFs gives another client process its own descriptor table on the same files; after close it rejects with EIO", async () => {
    const own = await bootFileSystem({ frames: 2048 })
    await own.fs.promises.writeFile("/shared.txt", "from the first client")
    const other = await own.spawnFs("second")
    expect(other.client.pid).not.toBe(own.client.pid)
    expect(await other.fs.promises.readFile("/shared.txt", "utf8")).toBe("from the first client")
    const fh = await own.fs.promises.open("/shared.txt", "r")
    // A descriptor number means nothing in another process's table.
    await expect(new Promise((resolve, reject) => other.fs.fstat(fh.fd, (e: unknown, s: unknown) => (e ? reject(e) : resolve(s))))).rejects.toMatchObject({
      code: "EBADF"
    })
    await fh.close()
    await own.close()
    await expect(own.spawnFs()).rejects.toMatchObject({ code: "EIO" })
    await expect(other.fs.promises.readFile("/shared.txt")).rejects.toMatchObject({ code: "EIO" })
  })
})
