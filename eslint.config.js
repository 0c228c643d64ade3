import js from "@eslint/js"
import { createTypeScriptImportResolver } from "eslint-import-resolver-typescript"
import importX from "eslint-plugin-import-x"
import tseslint from "typescript-eslint"

/**
 * `import { Effect } from "effect"` brings each namespace whole into the Worker bundle (and fast-check with
 * Schema's); `import * as Effect from "effect/Effect"` keeps only what is used.
 */
const EFFECT_BARREL = {
  name: "effect",
  message: "import the module itself (import * as Effect from \"effect/Effect\"): the barrel puts whole namespaces and fast-check in the Worker bundle"
}

/**
 * `(x) => Effect.gen(function*() {…})` makes a new generator function on every call. Under Bun (JavaScriptCore) the
 * hot ones never settled: their bodies were recompiled again and again, ~150 µs of JIT per request (issue #11).
 * `Effect.fnUntraced(function*(x) {…})` makes it once.
 */
const PER_CALL_GENERATOR = [
  "ArrowFunctionExpression > CallExpression.body[callee.object.name='Effect'][callee.property.name='gen']",
  "ArrowFunctionExpression > CallExpression.body > MemberExpression.callee > CallExpression.object[callee.object.name='Effect'][callee.property.name='gen']"
].map((selector) => ({
  selector,
  message: "a function returning Effect.gen makes its generator on every call: write Effect.fnUntraced(function*(…) {…})"
}))

/**
 * src/core's layers, top first (docs/architecture.md). A file may import files of its own directory and of
 * the layers below its own, never above it nor a sibling in the same layer: the core reads one way down.
 */
const CORE_LAYERS = [
  ["pipeline.ts", "observability"],
  ["routing"],
  ["operations"],
  ["cache"],
  ["sts"],
  ["identity"],
  ["authz"],
  ["catalog"],
  ["backends"],
  ["session", "sigv4"],
  ["s3"],
  ["services"],
  ["http"],
  ["shared", "version.ts"]
]

const core = (name) => `./src/core/${name}`

const layerZones = CORE_LAYERS.flatMap((layer, rank) =>
  layer.map((name) => ({
    target: core(name),
    from: [...CORE_LAYERS.slice(0, rank).flat(), ...layer.filter((other) => other !== name)].map(core),
    message: `src/core/${name} sits below these in docs/architecture.md: depend downwards only.`
  })))

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", ".wrangler/", ".dev/"] },
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
    rules: {
      "no-restricted-imports": ["error", { paths: [EFFECT_BARREL] }],
      "no-restricted-syntax": ["error", ...PER_CALL_GENERATOR]
    }
  },
  {
    files: ["src/**/*.ts", "bench/**/*.ts", "test/**/*.ts"],
    plugins: { "import-x": importX },
    settings: {
      ...importX.flatConfigs.typescript.settings,
      "import-x/resolver-next": [createTypeScriptImportResolver({ project: "./tsconfig.json" })]
    },
    rules: {
      "import-x/no-cycle": "error",
      "import-x/no-restricted-paths": ["error", {
        zones: [
          ...layerZones,
          // The shells and layers build on the core; the core never reaches out to them.
          { target: "./src/core", from: ["./src/layers", "./src/platform"], message: "src/core is runtime-free." },
          { target: "./src/layers", from: "./src/platform", message: "layers are runtime-neutral; platform code composes them." },
          { target: "./src", from: ["./test", "./bench"] },
          {
            target: "./bench",
            from: "./test",
            except: ["./fakes", "./workerd/harness.ts"],
            message: "bench/ shares only test/fakes/ and the workerd harness with the tests."
          },
          { target: "./test/fakes", from: ["./test/e2e", "./test/core", "./test/contract", "./test/workerd"] }
        ]
      }]
    }
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
