import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, relative } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { run, runAws } from "./harness/clients.js"
import { REPO_ROOT, type RunningProxy, startBunProxy } from "./harness/proxy.js"
import { type ForwardedRequest, type RunningServer, startRecordingForwarder } from "./harness/servers.js"
import { parseError } from "./harness/xml.js"

/**
 * Client rules of docs/s3-compatibility.md#client-rules with the real clients, against `bun run dev`'s embedded catalog (`demo/sample`
 * in the local directory store): a recording forwarder in front of the proxy counts what each client sent.
 */

const SAMPLE_DIR = join(REPO_ROOT, "sample/data/demo/sample")
const walk = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name)) : entry.isFile() ? [join(dir, entry.name)] : []
  )

let proxy: RunningProxy | undefined
let forwarder: (RunningServer & { readonly requests: ReadonlyArray<ForwardedRequest> }) | undefined
let workDir: string

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), "sdp-e2e-client-rules-"))
  proxy = await startBunProxy({})
  forwarder = await startRecordingForwarder(proxy.url)
})
afterAll(async () => {
  await forwarder?.stop()
  await proxy?.stop()
})

/** The requests the forwarder saw while `action` ran. */
const recorded = async <T>(action: () => Promise<T>): Promise<readonly [T, ReadonlyArray<ForwardedRequest>]> => {
  const before = forwarder!.requests.length
  const result = await action()
  return [result, forwarder!.requests.slice(before)]
}

/** The environment without AWS_* settings (a CA bundle there makes rclone's SDK refuse plain HTTP). */
const withoutAwsSettings = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("AWS_")))

const anonymous = (args: ReadonlyArray<string>) =>
  // Retries left on (botocore's default), so a retried answer would show as more than one request.
  runAws([...args, "--no-sign-request", "--endpoint-url", forwarder!.url], 60_000, { AWS_MAX_ATTEMPTS: "5" })

describe("anonymous `GET /` from an S3 client", () => {
  it("aws s3 ls answers at once: exit 0, no buckets, exactly one request", async () => {
    const [result, requests] = await recorded(() => anonymous(["s3", "ls"]))
    expect(result.status, result.stderr).toBe(0)
    expect(result.stdout.toString().trim()).toBe("")
    expect(requests.map((r) => [r.method, r.url])).toStrictEqual([["GET", "/"]])
  })

  it("aws s3api list-buckets reads an empty ListAllMyBucketsResult", async () => {
    const [result, requests] = await recorded(() => anonymous(["s3api", "list-buckets", "--output", "json"]))
    expect(result.status, result.stderr).toBe(0)
    expect((JSON.parse(result.stdout.toString()) as { Buckets: Array<unknown> }).Buckets).toStrictEqual([])
    expect(requests).toHaveLength(1)
  })

  it("curl keeps the JSON index", async () => {
    const result = await run("curl", ["-s", "--max-time", "10", `${forwarder!.url}/`])
    expect(JSON.parse(result.stdout.toString())).toMatchObject({ name: expect.any(String), version: expect.any(String) })
  })
})

describe("`s3://demo/sample` without its slash is the object `sample`, which does not exist", () => {
  it("aws s3api head-object --key sample → 404; head-bucket --bucket demo still 200", async () => {
    const head = await anonymous(["s3api", "head-object", "--bucket", "demo", "--key", "sample"])
    expect(head.status).not.toBe(0)
    expect(head.stderr).toMatch(/\(404\)|Not Found/)
    const bucket = await anonymous(["s3api", "head-bucket", "--bucket", "demo"])
    expect(bucket.status, bucket.stderr).toBe(0)
  })

  it("aws s3 cp s3://demo/sample x → a 404, no crash on 'LastModified', no file written", async () => {
    const target = join(workDir, "cp-sample")
    const result = await anonymous(["s3", "cp", "s3://demo/sample", target])
    expect(result.status).not.toBe(0)
    expect(result.stderr).toMatch(/404/)
    expect(result.stderr).not.toContain("LastModified")
    expect(existsSync(target)).toBe(false)
  })

  it("GET /demo/sample answers 404 NoSuchKey XML naming the key; with a listing parameter it lists", async () => {
    const object = await fetch(`${proxy!.url}/demo/sample`)
    const error = parseError(await object.text())
    expect([object.status, error.Code, error.Key]).toStrictEqual([404, "NoSuchKey", "sample"])
    const listing = await fetch(`${proxy!.url}/demo/sample?list-type=2`)
    expect(listing.status).toBe(200)
    expect(await listing.text()).toContain("<ListBucketResult")
  })

  it("rclone copy of demo/sample copies the product's files (not its listing as a file named sample)", async () => {
    const target = join(workDir, "rclone-sample")
    const result = await run("rclone", [
      "copy", ":s3:demo/sample", target, "--config", "/dev/null", "--s3-provider", "Other", "--s3-endpoint", proxy!.url,
      "--s3-env-auth=false", "--s3-force-path-style", "--retries", "1", "--low-level-retries", "1"
    ], { timeoutMs: 60_000, env: withoutAwsSettings() })
    expect(result.status, result.stderr).toBe(0)
    const copied = walk(target).map((file) => relative(target, file)).sort()
    const expected = walk(SAMPLE_DIR).map((file) => relative(SAMPLE_DIR, file)).sort()
    expect(copied).toStrictEqual(expected)
    for (const file of expected) expect(readFileSync(join(target, file))).toEqual(readFileSync(join(SAMPLE_DIR, file)))
  })
})

describe("strict input", () => {
  it("max-keys=abc or -1 → 400 InvalidArgument, not a listing", async () => {
    for (const query of ["list-type=2&max-keys=abc", "list-type=2&prefix=sample/&max-keys=-1"]) {
      const response = await fetch(`${proxy!.url}/demo?${query}`)
      expect([query, response.status, parseError(await response.text()).Code]).toStrictEqual([query, 400, "InvalidArgument"])
    }
  })

  it("a key with a control character gets error XML botocore can read (400 InvalidRequest, not a parse failure)", async () => {
    const result = await anonymous(["s3api", "get-object", "--bucket", "demo", "--key", "sample/a\u0001b", join(workDir, "ctl")])
    expect(result.status).not.toBe(0)
    expect(result.stderr).toContain("(InvalidRequest)")
  })
})
