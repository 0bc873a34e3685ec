import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { FsError, type Attr, type FileType } from "../../src/lib/FsProtocol.js"
import { attr } from "./vfs.support.js"
import { type Mount, type NameFs, resolver, settled, type Soon } from "../../src/servers/vfs/namei.js"
import type { Credentials } from "../../src/servers/vfs/permissions.js"

/** A stand-in file system: a tree of inodes in a map, no kernel, no fibers; it counts its calls. */
class StandIn implements NameFs<Attr, never> {
  readonly calls = { root: 0, lookup: 0, readlink: 0 }
  private readonly inodes = new Map<number, { attr: Attr; entries: Map<string, number>; target: string }>()
  private next = 2

  constructor() {
    this.inodes.set(1, { attr: attr(1, "dir", 0o755), entries: new Map(), target: "" })
  }

  /** Adds `name` under directory `dir`; its inode number. */
  add(dir: number, name: string, type: FileType, options: { mode?: number; uid?: number; target?: string } = {}): number {
    const ino = this.next++
    this.inodes.set(ino, {
      attr: attr(ino, type, options.mode ?? (type === "file" ? 0o644 : 0o755), options.uid ?? 0),
      entries: new Map(),
      target: options.target ?? ""
    })
    this.inodes.get(dir)!.entries.set(name, ino)
    return ino
  }

  /** Adds the directories of `path` from the root; the last one's inode. */
  dirs(path: string): number {
    let at = 1
    for (const name of path.split("/").filter((c) => c !== "")) at = this.inodes.get(at)!.entries.get(name) ?? this.add(at, name, "dir")
    return at
  }

  readonly root = () => {
    this.calls.root++
    return Effect.succeed(this.inodes.get(1)!.attr)
  }
  readonly lookup = (dir: Attr, name: string) => {
    this.calls.lookup++
    const d = this.inodes.get(dir.ino)!
    const ino = d.entries.get(name)
    return ino === undefined ? Effect.fail(new FsError({ code: "ENOENT" })) : Effect.succeed(this.inodes.get(ino)!.attr)
  }
  readonly readlink = (link: Attr) => {
    this.calls.readlink++
    return Effect.succeed(this.inodes.get(link.ino)!.target)
  }
}

const root: Credentials = { uid: 0, gid: 0, groups: [], umask: 0o022 }
const alice: Credentials = { uid: 1000, gid: 1000, groups: [], umask: 0o022 }

type TestMount = Mount<Attr, never> & { readonly fs: StandIn }

/** A resolver over stand-in file systems mounted at `paths` (`/` first). */
const namespace = (...paths: Array<string>) => {
  const mounts = new Map<string, TestMount>()
  paths.forEach((path, i) => {
    const fs = new StandIn()
    mounts.set(path, { path, dev: i + 1, names: fs, fs })
  })
  const top = mounts.get("/")!
  return { r: resolver<Attr, never, TestMount>(mounts, top), fs: top.fs, mounts }
}

const resolved = (r: ReturnType<typeof namespace>["r"], path: string, follow = true, c = root) => {
  const n = Effect.runSync(settled(r.resolve(c, path, follow, "stat")))
  return { path: n.path, ino: n.inode.ino, type: n.inode.type, dev: n.mount.dev }
}
const failure = <A>(e: Soon<A, never>) => {
  const x = Effect.runSync(Effect.flip(settled(e)))
  return { code: x.code, syscall: x.syscall, path: x.path }
}

describe("path resolution (namei) against a stand-in file system", () => {
  it("NAMEI-0001 a path resolves component by component to its node and real path; . and repeated slashes are no steps", () => {
    const { r, fs } = namespace("/")
    const b = fs.dirs("/a/b")
    const f = fs.add(b, "f", "file")
    expect(resolved(r, "/a//./b/f")).toEqual({ path: "/a/b/f", ino: f, type: "file", dev: 1 })
    expect(resolved(r, "/")).toMatchObject({ path: "/", ino: 1 })
    expect(fs.calls.lookup).toBe(3)
  })

  it("NAMEI-0002 .. climbs one directory; at / it stays at /", () => {
    const { r, fs } = namespace("/")
    const a = fs.dirs("/a")
    fs.dirs("/a/b")
    expect(resolved(r, "/a/b/..")).toMatchObject({ path: "/a", ino: a })
    expect(resolved(r, "/../../a")).toMatchObject({ path: "/a", ino: a })
  })

  it("NAMEI-0003 symbolic links: relative and absolute targets, inside a path and last (followed only when asked, or for a trailing slash)", () => {
    const { r, fs } = namespace("/")
    const b = fs.dirs("/a/b")
    const f = fs.add(b, "f", "file")
    const a = fs.dirs("/a")
    const rel = fs.add(a, "rel", "symlink", { target: "b" })
    fs.add(1, "abs", "symlink", { target: "/a/b/f" })
    expect(resolved(r, "/a/rel/f")).toMatchObject({ path: "/a/b/f", ino: f })
    expect(resolved(r, "/abs")).toMatchObject({ path: "/a/b/f", ino: f })
    expect(resolved(r, "/a/rel", false)).toMatchObject({ path: "/a/rel", ino: rel, type: "symlink" })
    expect(resolved(r, "/a/rel/", false)).toMatchObject({ path: "/a/b", ino: b, type: "dir" })
  })

  it("NAMEI-0004 at most 40 symbolic links per resolution: a chain of 40 resolves, 41 or a loop is ELOOP", () => {
    const { r, fs } = namespace("/")
    const f = fs.add(1, "l0", "file")
    for (let i = 1; i <= 41; i++) fs.add(1, `l${i}`, "symlink", { target: `/l${i - 1}` })
    fs.add(1, "loop", "symlink", { target: "/loop" })
    expect(resolved(r, "/l40")).toMatchObject({ ino: f })
    expect(failure(r.resolve(root, "/l41", true, "open"))).toEqual({ code: "ELOOP", syscall: "open", path: "/l41" })
    expect(failure(r.resolve(root, "/loop", true, "open")).code).toBe("ELOOP")
  })

  it("NAMEI-0005 failures name the whole path and the syscall: relative path, missing component, file as directory, trailing slash on a file, too long", () => {
    const { r, fs } = namespace("/")
    fs.add(fs.dirs("/d"), "f", "file")
    expect(failure(r.resolve(root, "d/f", true, "stat"))).toEqual({ code: "ENOENT", syscall: "stat", path: "d/f" })
    expect(failure(r.resolve(root, "/d/nope/x", true, "open"))).toEqual({ code: "ENOENT", syscall: "open", path: "/d/nope/x" })
    expect(failure(r.resolve(root, "/d/f/x", true, "stat"))).toEqual({ code: "ENOTDIR", syscall: "stat", path: "/d/f/x" })
    expect(failure(r.resolve(root, "/d/f/", true, "stat")).code).toBe("ENOTDIR")
    expect(failure(r.resolve(root, "/" + "a".repeat(4096), true, "stat")).code).toBe("ENAMETOOLONG")
  })

  it("NAMEI-0006 mounts: a mount covers its path (with or without a directory beneath) and is entered at its root; .. at its root climbs to the covering directory", () => {
    const { r, fs, mounts } = namespace("/", "/mnt/data")
    const inner = mounts.get("/mnt/data")!.fs
    const x = inner.add(1, "x", "file")
    const mnt = fs.dirs("/mnt")
    expect(resolved(r, "/mnt/data/x")).toMatchObject({ path: "/mnt/data/x", ino: x, dev: 2 })
    expect(resolved(r, "/mnt/data/..")).toMatchObject({ path: "/mnt", ino: mnt, dev: 1 })
    expect([inner.calls.root, inner.calls.lookup]).toEqual([2, 1])
  })

  it("NAMEI-0007 search permission on every directory walked, .. included: EACCES for a user, root passes", () => {
    const { r, fs } = namespace("/")
    const closed = fs.add(1, "closed", "dir", { mode: 0o700 })
    fs.add(closed, "f", "file")
    expect(failure(r.resolve(alice, "/closed/f", true, "open"))).toEqual({ code: "EACCES", syscall: "open", path: "/closed/f" })
    expect(failure(r.resolve(alice, "/closed/..", true, "stat")).code).toBe("EACCES")
    expect(resolved(r, "/closed/f", true, root)).toMatchObject({ path: "/closed/f" })
    expect(resolved(r, "/closed", true, alice)).toMatchObject({ ino: closed })
  })

  it("NAMEI-0008 nameiparent: the directory and the last name; EBUSY for / and a mount point, EINVAL for . and .., ENOTDIR, EACCES to change without write", () => {
    const { r, fs } = namespace("/", "/mnt")
    const d = fs.dirs("/d")
    fs.add(1, "f", "file")
    const p = Effect.runSync(settled(r.parentOf(root, "/d/new", "mkdir", true)))
    expect([p.dir.inode.ino, p.dir.path, p.name]).toEqual([d, "/d", "new"])
    expect(failure(r.parentOf(root, "/", "rmdir", true))).toEqual({ code: "EBUSY", syscall: "rmdir", path: "/" })
    expect(failure(r.parentOf(root, "/mnt", "rmdir", true)).code).toBe("EBUSY")
    expect(failure(r.parentOf(root, "/d/..", "rmdir", true)).code).toBe("EINVAL")
    expect(failure(r.parentOf(root, "/f/x", "mkdir", true))).toEqual({ code: "ENOTDIR", syscall: "mkdir", path: "/f/x" })
    expect(failure(r.parentOf(alice, "/d/new", "mkdir", true))).toEqual({ code: "EACCES", syscall: "mkdir", path: "/d/new" })
    expect(Effect.runSync(settled(r.parentOf(alice, "/d/new", "link", false))).name).toBe("new")
    expect(failure(r.parentOf(root, "/nope/x", "unlink", true))).toEqual({ code: "ENOENT", syscall: "unlink", path: "/nope/x" })
  })

  it("NAMEI-0009 a walk whose every step the file system answers now (a cache) is synchronous: a node, not an Effect; one that needs a call midway goes on from there", () => {
    const { r, fs } = namespace("/")
    const b = fs.dirs("/a/b")
    const f = fs.add(b, "f", "file")
    const answer = <A>(e: Effect.Effect<A, FsError>) => Effect.runSync(Effect.merge(e))
    // Answers now for every name but "b", which needs a call.
    const now = fs as unknown as { rootNow?: () => Attr | FsError; lookupNow?: (dir: Attr, name: string) => Attr | FsError | undefined }
    now.rootNow = () => answer(fs.root())
    now.lookupNow = (dir, name) => (name === "b" ? undefined : answer(fs.lookup(dir, name)))
    const isEffect = (x: unknown) => Effect.isEffect(x) && !(x instanceof FsError)
    expect(r.resolve(root, "/a/nope", true, "stat")).toMatchObject({ code: "ENOENT", path: "/a/nope" })
    const a = r.resolve(root, "/a", true, "stat")
    expect([isEffect(a), (a as { path: string }).path]).toEqual([false, "/a"])
    const later = r.resolve(root, "/a/b/f", true, "stat")
    expect(isEffect(later)).toBe(true)
    expect(Effect.runSync(settled(later)).inode.ino).toBe(f)
  })
})
