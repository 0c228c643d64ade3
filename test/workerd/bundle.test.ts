/**
 * What the Worker bundle (as `bun run build:worker` makes it) carries: only the Effect modules the code
 * imports, no property-testing library, minified. Its size is what every cold start parses.
 */
import { readFileSync, statSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { BUNDLE_META, ensureBundle } from "./harness.js"

describe("the Worker bundle", () => {
  it("carries no fast-check or pure-rand, and is minified well under Workers' size limit", async () => {
    const bundle = await ensureBundle()
    // esbuild parses every module it can reach; what the bundle holds is what has bytes in the output.
    const meta = JSON.parse(readFileSync(BUNDLE_META, "utf8")) as {
      outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>
    }
    const inputs = Object.values(meta.outputs).flatMap((output) =>
      Object.entries(output.inputs).flatMap(([path, input]) => (input.bytesInOutput > 0 ? [path] : [])))
    expect(inputs.some((path) => path.startsWith("src/"))).toBe(true)
    expect(inputs.filter((path) => /node_modules\/(fast-check|pure-rand)\//.test(path))).toStrictEqual([])
    // Per-module imports: Effect's barrel (index.js) would pull every namespace in whole.
    expect(inputs.filter((path) => /node_modules\/effect\/dist\/esm\/index\.js$/.test(path))).toStrictEqual([])
    const text = readFileSync(bundle, "utf8")
    expect(statSync(bundle).size).toBeLessThan(1024 * 1024)
    // Minified: esbuild's per-module comments are gone.
    expect(text).not.toMatch(/^\/\/ node_modules\//m)
  })
})
