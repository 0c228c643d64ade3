/**
 * `bun run deploy:check` (src/platform/workers/deploy/deployCheck.ts) against this repository's wrangler.toml and broken copies
 * of it: what an operator sees before a deploy goes out.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"

const ROOT = fileURLToPath(new URL("../..", import.meta.url))
const WRANGLER_TOML = readFileSync(join(ROOT, "wrangler.toml"), "utf8")
const dir = mkdtempSync(join(tmpdir(), "sdp-deploy-check-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const deployCheck = (args: ReadonlyArray<string>) =>
  new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn("bun", ["run", "deploy:check", ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), 50_000)
    child.once("error", reject)
    child.once("exit", (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    })
  })

/** A copy of wrangler.toml with `edits` applied (each must match), as `--config`. */
const variant = (name: string, edits: ReadonlyArray<readonly [string | RegExp, string]>) => {
  let text = WRANGLER_TOML
  for (const [from, to] of edits) {
    const next = text.replace(from, to)
    if (next === text) throw new Error(`${name}: ${String(from)} is not in wrangler.toml`)
    text = next
  }
  const path = join(dir, `${name}.toml`)
  writeFileSync(path, text)
  return path
}

/** Real-looking namespace ids instead of the placeholders (a namespace id is 32 hex digits). */
const withIds = [
  [/placeholder-revocations-production/, "0123456789abcdef0123456789abcdef"],
  [/placeholder-revocations-staging/g, "fedcba9876543210fedcba9876543210"]
] as const

describe("bun run deploy:check", () => {
  it("passes on the repository's wrangler.toml, and names the KV ids still to be created", async () => {
    const { code, output } = await deployCheck([])
    expect(code, output).toBe(0)
    expect(output).toContain("is valid for production, staging, preview")
    expect(output).toMatch(/note: production: the REVOCATIONS KV id .* is a placeholder: run `bunx --bun wrangler kv namespace create REVOCATIONS`/)
  })

  it("refuses to deploy an environment whose REVOCATIONS id is a placeholder, and says how to create it", async () => {
    const placeholders = await deployCheck(["--config", variant("placeholders", []), "--deploy", "staging"])
    expect(placeholders.code, placeholders.output).toBe(1)
    expect(placeholders.output).toContain(
      "error: staging: the REVOCATIONS KV id \"placeholder-revocations-staging\" is a placeholder: run `bunx --bun wrangler kv namespace create REVOCATIONS --env staging`"
    )
    const ready = await deployCheck(["--config", variant("ids", withIds), "--deploy", "production"])
    expect(ready.code, ready.output).toBe(0)
    expect(ready.output).toContain("ready to deploy production")
  })

  it("lists every mistake that would break a deploy: names, routes, vars, secrets, bindings, flags, sampling", async () => {
    const broken = variant("broken", [
      ...withIds,
      ["name = \"source-data-proxy\"\n", "name = \"source-data-proxy-production\"\n"],
      [/\[env\.staging\.vars\]\n([^[]*?)AUTH_AUDIENCE = [^\n]*\n/, "[env.staging.vars]\n$1"],
      ["{ pattern = \"staging.data.coolnewgeo.com/*\", zone_name = \"coolnewgeo.com\" },\n", ""],
      ["[env.preview.vars]\n", "[env.preview.vars]\nSESSION_TOKEN_KEY = \"c2VjcmV0\"\n"],
      ["workers_dev = true\nroutes = []\n", "workers_dev = true\n"],
      ["compatibility_flags = [\"enable_request_signal\"]", "compatibility_flags = []"],
      ["dataset = \"source_data_proxy_staging\"", "dataset = \"source_data_proxy_production\""],
      [/(\[observability\.logs\]\n(?:[^\n]+\n)*?)head_sampling_rate = 1/, "$1head_sampling_rate = 0.25"]
    ])
    const { code, output } = await deployCheck(["--config", broken])
    expect(code, output).toBe(1)
    for (const line of [
      "error: production: name is \"source-data-proxy-production\", expected \"source-data-proxy\"",
      "error: staging: var AUTH_AUDIENCE is missing or empty",
      "error: staging: routes are [\"data.staging.source.coop/*\"], expected [\"data.staging.source.coop/*\",\"staging.data.coolnewgeo.com/*\"]",
      "error: preview: SESSION_TOKEN_KEY is a secret: remove it from the config",
      // Without its own `routes = []` a preview inherits production's routes.
      "error: preview: routes are [\"data.coolnewgeo.com/*\",\"data.source.coop/*\"], expected []",
      "error: production: compatibility_flags lacks enable_request_signal",
      "error: staging: the ANALYTICS dataset is \"source_data_proxy_production\", expected \"source_data_proxy_staging\"",
      "error: production: observability.logs.head_sampling_rate must be 1"
    ]) expect(output).toContain(line)
    expect(output).toMatch(/deploy:check: \d+ error\(s\)/)
  })
})
