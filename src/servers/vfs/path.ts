/**
 * Pure path handling for the VFS and its clients (no fibers, unit-tested alone).
 *
 * Paths are POSIX: absolute paths only reach the VFS (clients resolve relative paths against
 * their working directory, `/` for now). `split` turns a path into components without
 * interpreting `.` or `..` (that needs the namespace, because of symbolic links and mounts).
 */

/** The components of a path: empty components (repeated and trailing slashes) and `.` dropped. */
export const split = (path: string): Array<string> => {
  // A scan, not `split("/").filter(…)`: every resolution splits its path, and this allocates only the components.
  const out: Array<string> = []
  let start = 0
  for (;;) {
    const end = path.indexOf("/", start)
    const stop = end === -1 ? path.length : end
    if (stop > start && (stop !== start + 1 || path.charCodeAt(start) !== 46)) out.push(path.slice(start, stop))
    if (end === -1) return out
    start = end + 1
  }
}

/** The lexical normal form of an absolute path: `.`, `..`, repeated and trailing slashes gone. */
export const normalize = (path: string): string => {
  const out: Array<string> = []
  for (const c of split(path)) {
    if (c === "..") out.pop()
    else out.push(c)
  }
  return "/" + out.join("/")
}

/** Whether a path names a directory by its form (a trailing slash, or ending in `.`/`..`). */
export const mustBeDir = (path: string): boolean => /(\/|\/\.|\/\.\.|^\.|^\.\.)$/.test(path) && path !== "/"

/** The path of entry `name` in the directory at the normalised path `dir`. */
export const join = (dir: string, name: string): string => (dir === "/" ? `/${name}` : `${dir}/${name}`)
