/**
 * The deploy workflows (.github/workflows) checked offline against GitHub's own workflow schema and expression
 * rules (@actions/workflow-parser, from actions/languageservices; actionlint is not packaged for Debian 12),
 * reusable workflows resolved, plus what the pipeline must do.
 */
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { convertWorkflowTemplate, NoOperationTraceWriter, parseWorkflow } from "@actions/workflow-parser"
import { describe, expect, it } from "vitest"

const ROOT = fileURLToPath(new URL("../..", import.meta.url))
const DIR = join(ROOT, ".github", "workflows")
const files = readdirSync(DIR).filter((name) => name.endsWith(".yml")).sort()
const read = (name: string) => readFileSync(join(DIR, name), "utf8")

/** Schema and expression errors of one workflow, with the local reusable workflows it calls. */
const problems = async (name: string): Promise<Array<string>> => {
  const parsed = parseWorkflow({ name: `.github/workflows/${name}`, content: read(name) }, new NoOperationTraceWriter())
  const errors = parsed.context.errors.getErrors().map((e) => e.message)
  if (parsed.value === undefined) return errors
  const template = await convertWorkflowTemplate(parsed.context, parsed.value, {
    getFileContent: (ref) => Promise.resolve({ name: ref.path, content: readFileSync(join(ROOT, ref.path), "utf8") })
  }, { fetchReusableWorkflowDepth: 1 })
  return [...errors, ...(template.errors ?? []).map((e) => e.Message)]
}

describe("GitHub workflows", () => {
  it("are the deploy pipeline: staging, production, previews and the reusable deploy", () => {
    expect(files).toStrictEqual(["deploy.yml", "preview.yml", "production.yml", "staging.yml"])
  })

  it.each(files)("%s is valid against GitHub's workflow schema", async (name) => {
    expect(await problems(name)).toStrictEqual([])
  })

  it("a broken workflow is caught (the check is not vacuous)", async () => {
    const parsed = parseWorkflow({
      name: "broken.yml",
      content: "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    stepz: []\n    if: ${{ github.event.( }}\n"
    }, new NoOperationTraceWriter())
    expect(parsed.context.errors.getErrors().length).toBeGreaterThan(0)
  })

  it("staging on push to main, production on a published release, a preview per pull request", () => {
    expect(read("staging.yml")).toMatch(/on:\n {2}push:\n {4}branches: \[main\]/)
    expect(read("production.yml")).toMatch(/on:\n {2}release:\n {4}types: \[published\]/)
    expect(read("preview.yml")).toMatch(/on:\n {2}pull_request:\n {4}types: \[opened, synchronize, reopened, closed\]/)
    expect(read("preview.yml")).toContain("worker_name: source-data-proxy-pr-${{ github.event.pull_request.number }}")
    expect(read("preview.yml")).toContain("wrangler delete --name \"source-data-proxy-pr-${{ github.event.pull_request.number }}\"")
  })

  it("every job pins Node 22 (wrangler 4), and the deploy checks the config, uploads the secrets and smoke-tests", () => {
    for (const name of files) {
      for (const match of read(name).matchAll(/actions\/setup-node@v\d+\n\s+with:\n\s+node-version: "([^"]+)"/g)) {
        expect(match[1], name).toBe("22")
      }
    }
    const deploy = read("deploy.yml")
    expect(deploy).toContain("bun run deploy:check --deploy \"${{ inputs.environment }}\"")
    expect(deploy).toMatch(/bun --bun wrangler deploy "\$\{args\[@\]\}"/)
    expect(deploy).toContain("args=(--secrets-file \"$RUNNER_TEMP/secrets.json\")")
    for (const secret of ["OIDC_PROVIDER_KEY", "SESSION_SIGNING_KEY", "SESSION_TOKEN_KEY", "IP_HASH_SALT"]) {
      expect(deploy).toContain(`${secret}: \${{ secrets.${secret} }}`)
    }
    expect(deploy).toContain("bun src/platform/workers/deploy/smoke.ts \"${{ steps.url.outputs.deploy_url }}\"")
  })
})
