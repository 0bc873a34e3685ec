// ESLint's flat config: the recommended rules of ESLint and typescript-eslint, kept small.
// Formatting is Prettier's (`npm run format`); unused names are the type checker's.
import js from "@eslint/js"
import tseslint from "typescript-eslint"

export default tseslint.config(
  { ignores: ["node_modules/", "lab-report/", "dist/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // Kernel code threads untyped continuations and schema values through `any` on purpose.
      "@typescript-eslint/no-explicit-any": "off",
      // tsc's noUnusedLocals/noUnusedParameters already report these.
      "@typescript-eslint/no-unused-vars": "off",
      "no-constant-condition": ["error", { checkLoops: false }]
    }
  },
  {
    files: ["**/*.cjs"],
    languageOptions: { sourceType: "commonjs", globals: { module: "writable", require: "readonly" } }
  },
  {
    files: ["bin/**/*.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly" } }
  }
)
