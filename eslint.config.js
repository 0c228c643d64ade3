import js from "@eslint/js"
import tseslint from "typescript-eslint"

/**
 * `import { Effect } from "effect"` brings each namespace whole into the Worker bundle (and fast-check with
 * Schema's); `import * as Effect from "effect/Effect"` keeps only what is used.
 */
const EFFECT_BARREL = {
  name: "effect",
  message: "import the module itself (import * as Effect from \"effect/Effect\"): the barrel puts whole namespaces and fast-check in the Worker bundle"
}

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", ".wrangler/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-empty-object-type": "off"
    }
  },
  {
    files: ["src/**/*.ts"],
    rules: { "no-restricted-imports": ["error", { paths: [EFFECT_BARREL] }] }
  },
  {
    // The core is runtime-free: it depends on Context tags and lets each platform's Layers provide them.
    files: ["src/core/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", {
        paths: [EFFECT_BARREL],
        patterns: [{
          group: ["bun", "bun:*", "node:*", "cloudflare:*", "**/platform/**", "**/layers/**"],
          message: "src/core is runtime-free: depend on a Context.Tag and let a Layer provide it."
        }]
      }],
      "no-restricted-globals": ["error", "fetch", "caches", "crypto", "process", "Bun", "setTimeout", "setInterval"],
      "no-restricted-properties": ["error",
        { object: "Date", property: "now", message: "use Clock" },
        { object: "Math", property: "random", message: "use Random" },
        { object: "Effect", property: "runPromise", message: "only src/platform runs effects" },
        { object: "Effect", property: "runSync", message: "only src/platform runs effects" }]
    }
  }
)
