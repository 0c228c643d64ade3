import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { homedir, tmpdir } from "node:os"
import { join } from "node:path"
import { run, type RunResult } from "./clients.js"
import type { SessionCredentials } from "./sts.js"

/**
 * rclone, s3cmd and GDAL (Debian packages, installed by `.ci/run`) against a proxy, path-style, each with
 * a temporary HOME and no setting inherited from the machine: no `AWS_*` variable (rclone fails TLS set-up
 * with the machine's `AWS_CA_BUNDLE`), no `~/.aws`, `~/.config/rclone`, `~/.s3cfg` or `~/.gdal`.
 */

export const CLIENT_TIMEOUT_MS = 60_000

let cached: NodeJS.ProcessEnv | undefined

/** Removes the clients' temporary HOME (a later call makes a new one). */
export const removeClientHome = () => {
  if (cached?.HOME !== undefined) rmSync(cached.HOME, { recursive: true, force: true })
  cached = undefined
}

/** The machine's environment minus every `AWS_*`, `RCLONE_*`, `GDAL_*` and `CPL_*` setting, with its own HOME and XDG directories. */
const isolatedEnv = (): NodeJS.ProcessEnv => {
  if (cached !== undefined) return cached
  const home = mkdtempSync(join(tmpdir(), "sdp-matrix-home-"))
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("AWS_") && !name.startsWith("RCLONE_") && !name.startsWith("GDAL_") && !name.startsWith("CPL_")) env[name] = value
  }
  cached = {
    ...env,
    HOME: home,
    XDG_CONFIG_HOME: join(home, ".config"),
    XDG_CACHE_HOME: join(home, ".cache"),
    PYENV_ROOT: process.env.PYENV_ROOT ?? join(homedir(), ".pyenv"),
    LC_ALL: "C.UTF-8",
    LANG: "C.UTF-8",
    PYTHONIOENCODING: "utf-8"
  }
  return cached
}

const hostOf = (endpoint: string) => new URL(endpoint).host

/** A client's output, with stdout as text. */
export interface ClientResult {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
  readonly bytes: Buffer
}

const asText = (result: RunResult): ClientResult => ({
  status: result.status,
  stdout: result.stdout.toString(),
  stderr: result.stderr,
  bytes: result.stdout
})

/**
 * `rclone` with the remote `sdp:` configured through the environment only (`RCLONE_CONFIG_SDP_*`):
 * signed with `creds`, or anonymous (`env_auth = false` and no keys). One attempt, bounded waits.
 */
export const runRclone = async (
  endpoint: string,
  creds: SessionCredentials | undefined,
  args: ReadonlyArray<string>
): Promise<ClientResult> => {
  const base = isolatedEnv()
  const remote: Record<string, string> = {
    RCLONE_CONFIG: join(base.HOME!, "rclone.conf"),
    RCLONE_CONFIG_SDP_TYPE: "s3",
    RCLONE_CONFIG_SDP_PROVIDER: "Other",
    RCLONE_CONFIG_SDP_ENDPOINT: endpoint,
    RCLONE_CONFIG_SDP_FORCE_PATH_STYLE: "true",
    RCLONE_CONFIG_SDP_REGION: "us-east-1",
    ...(creds === undefined
      ? { RCLONE_CONFIG_SDP_ENV_AUTH: "false" }
      : {
        RCLONE_CONFIG_SDP_ACCESS_KEY_ID: creds.accessKeyId,
        RCLONE_CONFIG_SDP_SECRET_ACCESS_KEY: creds.secretAccessKey,
        RCLONE_CONFIG_SDP_SESSION_TOKEN: creds.sessionToken
      })
  }
  const bounded = ["--retries", "1", "--low-level-retries", "1", "--contimeout", "5s", "--timeout", "30s"]
  return asText(await run("rclone", [...bounded, ...args], { env: { ...base, ...remote }, timeoutMs: CLIENT_TIMEOUT_MS }))
}

/**
 * `s3cmd` with a temporary config file for the endpoint (host_base = host_bucket: path style, plain
 * HTTP, SigV4). s3cmd always signs, so there is no anonymous mode. The session credentials go in as
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN: a session token written as
 * `access_token` in the config file makes s3cmd try to refresh an EC2 role (169.254.169.254) first.
 */
export const runS3cmd = async (endpoint: string, creds: SessionCredentials, args: ReadonlyArray<string>): Promise<ClientResult> => {
  const base = isolatedEnv()
  const host = hostOf(endpoint)
  const config = join(base.HOME!, `s3cfg-${host.replace(/\W/g, "-")}`)
  writeFileSync(config, [
    "[default]",
    `host_base = ${host}`,
    `host_bucket = ${host}`,
    "use_https = False",
    "access_key =",
    "secret_key =",
    "signature_v2 = False",
    "bucket_location = us-east-1",
    "socket_timeout = 30",
    ""
  ].join("\n"))
  const env = {
    ...base,
    AWS_ACCESS_KEY_ID: creds.accessKeyId,
    AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
    AWS_SESSION_TOKEN: creds.sessionToken
  }
  return asText(await run("s3cmd", ["-c", config, ...args], { env, timeoutMs: CLIENT_TIMEOUT_MS }))
}

/** GDAL's `/vsis3/` settings for the proxy: path style over plain HTTP, anonymous or with session credentials. */
export const gdalEnv = (endpoint: string, creds: SessionCredentials | undefined): NodeJS.ProcessEnv => ({
  ...isolatedEnv(),
  AWS_S3_ENDPOINT: hostOf(endpoint),
  AWS_HTTPS: "NO",
  AWS_VIRTUAL_HOSTING: "FALSE",
  AWS_REGION: "us-east-1",
  CPL_VSIL_USE_TEMP_FILE_FOR_RANDOM_WRITE: "YES",
  GDAL_HTTP_TIMEOUT: "30",
  GDAL_HTTP_CONNECTTIMEOUT: "5",
  ...(creds === undefined
    ? { AWS_NO_SIGN_REQUEST: "YES" }
    : { AWS_ACCESS_KEY_ID: creds.accessKeyId, AWS_SECRET_ACCESS_KEY: creds.secretAccessKey, AWS_SESSION_TOKEN: creds.sessionToken })
})

/** A GDAL command-line tool (`ogrinfo`, `ogr2ogr`, `gdalinfo`…) with `gdalEnv` plus `extra`. */
export const runGdalTool = async (
  tool: string,
  args: ReadonlyArray<string>,
  env: NodeJS.ProcessEnv,
  extra: Record<string, string> = {}
): Promise<ClientResult> => asText(await run(tool, args, { env: { ...env, ...extra }, timeoutMs: CLIENT_TIMEOUT_MS }))

const GDAL_MARKER = "@@GDAL-RESULT@@"

/**
 * A snippet of GDAL's Python bindings (Debian's python3-gdal, so the system `/usr/bin/python3`): it sees
 * `gdal`, `inp` (the JSON input) and sets `out`, which is returned with GDAL's stderr (CPL_DEBUG output).
 */
export const runGdalPython = async <T>(
  snippet: string,
  input: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  extra: Record<string, string> = {}
): Promise<{ readonly out: T; readonly stderr: string }> => {
  const lines = snippet.split("\n")
  const indent = Math.min(...lines.filter((l) => l.trim() !== "").map((l) => /^ */.exec(l)![0].length))
  const body = lines.map((l) => l.slice(indent)).join("\n")
  const script = [
    "import json, sys",
    "from osgeo import gdal",
    "inp = json.load(sys.stdin)",
    "out = None",
    body,
    `sys.stdout.write("\\n${GDAL_MARKER}" + json.dumps(out))`
  ].join("\n")
  const result = await run("/usr/bin/python3", ["-c", script], {
    input: JSON.stringify(input),
    env: { ...env, ...extra },
    timeoutMs: CLIENT_TIMEOUT_MS
  })
  const text = result.stdout.toString()
  const at = text.lastIndexOf(GDAL_MARKER)
  if (result.status !== 0 || at < 0) throw new Error(`GDAL snippet failed (exit ${result.status}):\n${result.stderr}\n${text}`)
  return { out: JSON.parse(text.slice(at + GDAL_MARKER.length)) as T, stderr: result.stderr }
}
