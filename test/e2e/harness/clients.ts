import { mkdtempSync, writeFileSync } from "node:fs"
import { homedir, tmpdir } from "node:os"
import { join } from "node:path"
import { spawnTracked, stopProcess } from "../../fakes/processes.js"

export interface RunResult {
  readonly status: number | null
  readonly stdout: Buffer
  readonly stderr: string
}

/** Run a command to completion (stdin from `input`), killing its process group after `timeoutMs`. */
export const run = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly input?: string; readonly env?: NodeJS.ProcessEnv; readonly timeoutMs?: number } = {}
): Promise<RunResult> =>
  new Promise((resolve, reject) => {
    const child = spawnTracked(command, args, { stdio: ["pipe", "pipe", "pipe"], env: options.env ?? process.env })
    const out: Array<Buffer> = []
    const err: Array<Buffer> = []
    child.stdout?.on("data", (c: Buffer) => out.push(c))
    child.stderr?.on("data", (c: Buffer) => err.push(c))
    const timeoutMs = options.timeoutMs ?? 60_000
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      void stopProcess(child, 500)
    }, timeoutMs)
    child.once("error", (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.once("close", (status) => {
      clearTimeout(timer)
      const stderr = Buffer.concat(err).toString()
      if (timedOut) reject(new Error(`${command} ${args.join(" ")} timed out after ${timeoutMs} ms\n${stderr}`))
      else resolve({ status, stdout: Buffer.concat(out), stderr })
    })
    child.stdin?.on("error", () => {})
    child.stdin?.end(options.input ?? "")
  })

/**
 * A clean AWS environment: no credentials or settings from the machine, path-style addressing. HOME is a
 * temporary directory too: aws-cli caches web-identity credentials in `~/.aws/cli/cache` keyed by the role,
 * so a later run (another proxy, other keys) would sign with a previous run's session. pyenv shims still
 * need their root, which defaults to the real HOME.
 */
const awsEnv = (() => {
  let cached: NodeJS.ProcessEnv | undefined
  return (): NodeJS.ProcessEnv => {
    if (cached !== undefined) return cached
    const dir = mkdtempSync(join(tmpdir(), "sdp-e2e-aws-"))
    const config = join(dir, "config")
    writeFileSync(config, "[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n")
    writeFileSync(join(dir, "credentials"), "")
    const env: NodeJS.ProcessEnv = {}
    for (const [name, value] of Object.entries(process.env)) if (!name.startsWith("AWS_")) env[name] = value
    cached = {
      ...env,
      AWS_CONFIG_FILE: config,
      AWS_SHARED_CREDENTIALS_FILE: join(dir, "credentials"),
      HOME: dir,
      PYENV_ROOT: process.env.PYENV_ROOT ?? join(homedir(), ".pyenv"),
      AWS_DEFAULT_REGION: "us-east-1",
      AWS_EC2_METADATA_DISABLED: "true",
      AWS_MAX_ATTEMPTS: "1",
      AWS_RETRY_MODE: "standard",
      PYTHONIOENCODING: "utf-8",
      LC_ALL: "C.UTF-8",
      LANG: "C.UTF-8"
    }
    return cached
  }
})()

/**
 * `aws …` (aws-cli v1) with a clean environment; pass `--no-sign-request` and `--endpoint-url` yourself.
 * `env` adds to it (credentials, AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ENDPOINT_URL_STS…).
 */
export const runAws = (args: ReadonlyArray<string>, timeoutMs = 60_000, env: NodeJS.ProcessEnv = {}): Promise<RunResult> =>
  run("aws", args, { env: { ...awsEnv(), ...env }, timeoutMs })

const PRELUDE = `
import base64, hashlib, json, sys
import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

inp = json.load(sys.stdin)

def client(endpoint=None, signed=False):
    config = Config(
        signature_version="s3v4" if signed else UNSIGNED,
        s3={"addressing_style": "path"},
        retries={"max_attempts": 1, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
    )
    return boto3.client(
        "s3",
        endpoint_url=endpoint or inp["endpoint"],
        region_name="us-east-1",
        aws_access_key_id="AKIAE2ETESTEXAMPLE",
        aws_secret_access_key="e2e-secret-key",
        config=config,
    )

def digest(data):
    return {"sha256": hashlib.sha256(data).hexdigest(), "length": len(data)}

def error_of(e):
    return {"code": e.response.get("Error", {}).get("Code"), "status": e.response["ResponseMetadata"]["HTTPStatusCode"]}

s3 = client()
out = None
`

const MARKER = "@@E2E-RESULT@@"

/**
 * Run a boto3 snippet with `python3 -c`. The snippet sees `inp` (the JSON input, which must hold
 * `endpoint`), an unsigned path-style client `s3`, `client(endpoint, signed)`, `digest(bytes)`,
 * `error_of(ClientError)`, and sets `out` to something JSON-serialisable, which is returned.
 */
export const runBoto3 = async <T = unknown>(
  snippet: string,
  input: { readonly endpoint: string } & Record<string, unknown>,
  timeoutMs = 60_000
): Promise<T> => {
  const lines = snippet.split("\n")
  const indent = Math.min(...lines.filter((l) => l.trim() !== "").map((l) => /^ */.exec(l)![0].length))
  const body = lines.map((l) => l.slice(indent)).join("\n")
  const script = `${PRELUDE}\n${body}\nsys.stdout.write("\\n${MARKER}" + json.dumps(out))\n`
  const result = await run("python3", ["-c", script], { input: JSON.stringify(input), env: awsEnv(), timeoutMs })
  const text = result.stdout.toString()
  const at = text.lastIndexOf(MARKER)
  if (result.status !== 0 || at < 0) {
    throw new Error(`boto3 snippet failed (exit ${result.status}):\n${result.stderr}\n${text}`)
  }
  return JSON.parse(text.slice(at + MARKER.length)) as T
}
