/**
 * `bun run creds --role-arn ARN (--token-file F | --token-command "CMD") [--endpoint URL] [--duration S]`:
 * a `credential_process` for aws-cli, boto3, GDAL and rclone. It exchanges an identity token at the proxy's
 * `/.sts` and prints the session as `{"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken",
 * "Expiration"}`. Sessions are cached (mode 0600, under `$XDG_CACHE_HOME` or `~/.cache`,
 * `source-data-proxy/`) until 5 minutes before they expire, keyed by the STS URL, the RoleArn, the duration
 * and the token's source: the token file's contents (a hash), or the command itself, which is then not run
 * while its session lasts (a login command mints a new token every time). Failures go to stderr with exit
 * status 1: the STS error code and message, or what did not answer.
 */
import { spawn } from "node:child_process"
import { createHash } from "node:crypto"
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { homedir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { XMLParser } from "fast-xml-parser"
import { devOrigin } from "../devKeys.js"

/** The exchange: headers and body together. */
const STS_TIMEOUT_MS = 10_000
/** A token command may open a browser for a login. */
const TOKEN_COMMAND_TIMEOUT_MS = 60_000
/** A cached session is handed out until this long before it expires. */
const RENEW_BEFORE_MS = 5 * 60_000
const MAX_TOKEN_BYTES = 20_000

const USAGE = "usage: bun run creds --role-arn ARN (--token-file FILE | --token-command \"CMD\") [--endpoint URL] [--duration SECONDS]"

class CredsError extends Error {}

function fail(message: string): never {
  throw new CredsError(message)
}

/** What `credential_process` prints (the AWS CLI's documented shape). */
const ProcessCredentials = Schema.Struct({
  Version: Schema.Literal(1),
  AccessKeyId: Schema.NonEmptyString,
  SecretAccessKey: Schema.NonEmptyString,
  SessionToken: Schema.NonEmptyString,
  Expiration: Schema.NonEmptyString
})
type ProcessCredentials = typeof ProcessCredentials.Type

const StsAnswer = Schema.Union(
  Schema.Struct({
    AssumeRoleWithWebIdentityResponse: Schema.Struct({
      AssumeRoleWithWebIdentityResult: Schema.Struct({
        Credentials: ProcessCredentials.pipe(Schema.omit("Version"))
      })
    })
  }),
  Schema.Struct({
    ErrorResponse: Schema.Struct({ Error: Schema.Struct({ Code: Schema.String, Message: Schema.optional(Schema.String) }) })
  })
)

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex")

const parse = () => {
  const { values } = parseArgs({
    options: {
      "role-arn": { type: "string" },
      "token-file": { type: "string" },
      "token-command": { type: "string" },
      endpoint: { type: "string" },
      duration: { type: "string" }
    },
    strict: true
  })
  const roleArn = values["role-arn"]
  const tokenFile = values["token-file"]
  const tokenCommand = values["token-command"]
  if (roleArn === undefined) return fail(USAGE)
  if ((tokenFile === undefined) === (tokenCommand === undefined)) fail(USAGE)
  const duration = values.duration
  if (duration !== undefined && !/^\d+$/.test(duration)) fail("--duration takes whole seconds")
  const endpoint = (values.endpoint ?? devOrigin(process.env)).replace(/\/+$/, "")
  const stsUrl = endpoint.endsWith("/.sts") ? endpoint : `${endpoint}/.sts`
  if (!URL.canParse(stsUrl)) fail(`--endpoint is not a URL: ${endpoint}`)
  return { roleArn, tokenFile, tokenCommand, duration, stsUrl }
}

const readToken = (path: string): string => {
  let text = ""
  try {
    text = readFileSync(path, "utf8").trim()
  } catch (e) {
    fail(`cannot read the token file ${path}: ${(e as Error).message}`)
  }
  if (text === "") fail(`the token file ${path} is empty`)
  return text
}

/** The command's stdout, trimmed; its stderr goes to ours (a login may prompt there). Killed after the timeout. */
const runTokenCommand = (command: string): Promise<string> =>
  new Promise((resolve, reject) => {
    // Its own process group, so the timeout also ends whatever the shell started.
    const child = spawn("sh", ["-c", command], { stdio: ["ignore", "pipe", "inherit"], detached: true })
    const out: Array<Buffer> = []
    let size = 0
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      try {
        process.kill(-child.pid!, "SIGKILL")
      } catch {
        child.kill("SIGKILL") // the group is already gone
      }
    }, TOKEN_COMMAND_TIMEOUT_MS)
    child.stdout!.on("data", (chunk: Buffer) => {
      size += chunk.byteLength
      if (size <= MAX_TOKEN_BYTES) out.push(chunk)
    })
    child.once("error", (e) => {
      clearTimeout(timer)
      reject(new CredsError(`the token command could not start: ${e.message}`))
    })
    child.once("close", (code, signal) => {
      clearTimeout(timer)
      const token = Buffer.concat(out).toString().trim()
      if (timedOut) reject(new CredsError(`the token command did not finish within ${TOKEN_COMMAND_TIMEOUT_MS / 1000} s`))
      else if (code !== 0) reject(new CredsError(`the token command failed (${code ?? signal}): ${command}`))
      else if (size > MAX_TOKEN_BYTES) reject(new CredsError(`the token command printed more than ${MAX_TOKEN_BYTES} bytes`))
      else if (token === "") reject(new CredsError(`the token command printed no token: ${command}`))
      else resolve(token)
    })
  })

const cacheDirectory = () => join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "source-data-proxy")

const readCached = (path: string, now: number): ProcessCredentials | undefined => {
  let text: string
  try {
    text = readFileSync(path, "utf8")
  } catch {
    return undefined // nothing cached yet
  }
  const decoded = Schema.decodeUnknownEither(Schema.parseJson(ProcessCredentials))(text)
  if (Either.isLeft(decoded)) return undefined // a broken entry is replaced
  const expires = Date.parse(decoded.right.Expiration)
  return Number.isFinite(expires) && expires - RENEW_BEFORE_MS > now ? decoded.right : undefined
}

/** Written whole (temporary file, then rename), readable only by its owner. */
const writeCached = (path: string, credentials: ProcessCredentials) => {
  const directory = cacheDirectory()
  mkdirSync(directory, { recursive: true, mode: 0o700 })
  const temporary = `${path}.${process.pid}.tmp`
  writeFileSync(temporary, JSON.stringify(credentials), { mode: 0o600 })
  chmodSync(temporary, 0o600)
  renameSync(temporary, path)
}

const exchange = async (stsUrl: string, roleArn: string, token: string, duration: string | undefined): Promise<ProcessCredentials> => {
  const form = new URLSearchParams({
    Action: "AssumeRoleWithWebIdentity",
    Version: "2011-06-15",
    RoleArn: roleArn,
    RoleSessionName: "credential-process",
    WebIdentityToken: token
  })
  if (duration !== undefined) form.set("DurationSeconds", duration)
  let status = 0
  let text = ""
  try {
    const response = await fetch(stsUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8" },
      body: form.toString(),
      signal: AbortSignal.timeout(STS_TIMEOUT_MS)
    })
    status = response.status
    text = await response.text()
  } catch (e) {
    const name = (e as Error).name
    fail(name === "TimeoutError" || name === "AbortError"
      ? `${stsUrl} did not answer within ${STS_TIMEOUT_MS / 1000} s`
      : `${stsUrl} could not be reached: ${(e as Error).message}`)
  }
  let xml: unknown
  try {
    xml = new XMLParser({ parseTagValue: false, ignoreAttributes: true }).parse(text)
  } catch {
    xml = undefined
  }
  const answer = Schema.decodeUnknownEither(StsAnswer)(xml)
  if (Either.isLeft(answer)) return fail(`${stsUrl} answered ${status} without an STS document: ${text.slice(0, 200)}`)
  if ("ErrorResponse" in answer.right) {
    const { Code, Message } = answer.right.ErrorResponse.Error
    return fail(`STS ${Code} (${status}): ${Message ?? ""}`)
  }
  return { Version: 1, ...answer.right.AssumeRoleWithWebIdentityResponse.AssumeRoleWithWebIdentityResult.Credentials }
}

const main = async () => {
  const { roleArn, tokenFile, tokenCommand, duration, stsUrl } = parse()
  const token = tokenFile === undefined ? undefined : readToken(tokenFile)
  const source = token === undefined ? `command:${tokenCommand}` : `token:${sha256(token)}`
  const path = join(cacheDirectory(), `creds-${sha256(JSON.stringify([stsUrl, roleArn, duration ?? "", source]))}.json`)
  const cached = readCached(path, Date.now())
  if (cached !== undefined) return cached
  const fresh = await exchange(stsUrl, roleArn, token ?? (await runTokenCommand(tokenCommand ?? "")), duration)
  try {
    writeCached(path, fresh)
  } catch (e) {
    console.error(`creds: the session is not cached (${(e as Error).message})`)
  }
  return fresh
}

try {
  console.log(JSON.stringify(await main()))
} catch (e) {
  console.error(`creds: ${e instanceof CredsError ? e.message : String(e)}`)
  process.exit(1)
}
