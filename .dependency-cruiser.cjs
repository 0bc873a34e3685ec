/**
 * The import rules of docs/architecture.md, checked by `npm test` (`npm run deps`). Type-only
 * imports may cross a rule where a runtime import may not (they vanish at run time).
 */
/** @type {import("dependency-cruiser").IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-cycles",
      comment: "No runtime import cycles: a module evaluated mid-cycle can see a binding before it is initialised.",
      severity: "error",
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ["type-only"] } }
    },
    {
      name: "nothing-imports-the-package-entry",
      comment: "src/index.ts is the package entry; code under src/ imports the module it needs (programs: src/api.ts).",
      severity: "error",
      from: { path: "^src/" },
      to: { path: "^src/index\\.ts$" }
    },
    {
      name: "memory-is-the-bottom",
      comment: "memory/ is plain bookkeeping: it imports nothing of ours but params.ts.",
      severity: "error",
      from: { path: "^src/memory/" },
      to: { path: "^src/", pathNot: ["^src/memory/", "^src/params\\.ts$", "^src/primordials\\.ts$"] }
    },
    {
      name: "kernel-below-ipc",
      comment: "kernel/ reaches ports and notifications only through the KernelObject interface.",
      severity: "error",
      from: { path: "^src/kernel/" },
      to: { path: "^src/", pathNot: ["^src/kernel/", "^src/memory/", "^src/params\\.ts$", "^src/primordials\\.ts$"] }
    },
    {
      name: "ipc-below-the-userlib",
      comment: "ipc/ builds on kernel/ and memory/ only.",
      severity: "error",
      from: { path: "^src/ipc/" },
      to: { path: "^src/", pathNot: ["^src/ipc/", "^src/kernel/", "^src/memory/", "^src/params\\.ts$", "^src/primordials\\.ts$"] }
    },
    {
      name: "lib-below-the-entry",
      comment: "lib/ (the server runtime, the name service and file-system protocols) builds on ipc/, kernel/ and memory/.",
      severity: "error",
      from: { path: "^src/lib/" },
      to: { path: "^src/", pathNot: ["^src/lib/", "^src/ipc/", "^src/kernel/", "^src/memory/", "^src/params\\.ts$"] }
    },
    {
      name: "programs-use-the-entry",
      comment: "The programs' entry is made of kernel/, ipc/, memory/, lib/ and params.ts; it never reaches root-task code.",
      severity: "error",
      from: { path: "^src/api\\.ts$" },
      to: { path: "^src/", pathNot: ["^src/lib/", "^src/ipc/", "^src/kernel/", "^src/memory/", "^src/params\\.ts$"] }
    },
    {
      name: "servers-use-only-the-entry",
      comment: "A server imports the programs' entry and files of its own folder, nothing else of ours (Hubris: a task depends on userlib).",
      severity: "error",
      from: { path: "^src/servers/([^/]+)/" },
      to: { path: "^src/", pathNot: ["^src/api\\.ts$", "^src/servers/$1/"] }
    },
    {
      name: "clients-use-the-entry",
      comment: "fs/ runs inside client processes: the programs' entry, the VFS's protocol files, and its own files.",
      severity: "error",
      from: { path: "^src/fs/" },
      to: { path: "^src/", pathNot: ["^src/api\\.ts$", "^src/fs/", "^src/servers/vfs/(VfsProtocol|flags)\\.ts$"] }
    },
    {
      name: "root-task-apart",
      comment: "Only root-task code (root/, lab/, bin/) uses the Kernel service and the kernel's internals beneath programs.",
      severity: "error",
      from: { path: "^src/", pathNot: ["^src/root/", "^src/lab/", "^src/bin/", "^src/kernel/", "^src/index\\.ts$"] },
      to: { path: "^src/kernel/Kernel\\.ts$", dependencyTypesNot: ["type-only"] }
    },
    {
      name: "no-internals-from-outside",
      comment: "An internal/ folder is its parent folder's business.",
      severity: "error",
      from: { path: "^src/([^/]+)/" },
      to: { path: "^src/([^/]+)/internal/", pathNot: ["^src/$1/internal/"] }
    }
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    includeOnly: "^src/",
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".js"] }
  }
}
