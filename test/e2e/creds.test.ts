import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { run, runAws, runBoto3 } from "./harness/clients.js"
import { type DevServer, startDevServer } from "./harness/devServer.js"
import { freePort } from "../fakes/processes.js"
import { REPO_ROOT, type RunningProxy } from "./harness/proxy.js"

/**
 * `bun run creds` as a `credential_process` (README "Credentials for any S3 tool"): aws-cli and boto3 read
 * profiles of a temporary HOME whose credentials come from the helper, against `bun run dev`'s embedded
 * catalog: alice signs in through `bun run login` (a token command), the demo account through an API key
 * in a file.
 */

let dev: DevServer
let workDir: string
let proxy: RunningProxy
let secret: Buffer

const DEFAULT_ROLE = "arn:aws:iam::demo:role/_default"

/** The settings the proxy CLIs read to match the server (HOST, PORT, CATALOG, key files), and nothing else. */
const cliEnv = (extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv => dev.cliEnv(extra)

/** `bun run creds …` as a profile's `credential_process` line (shell-quoted as botocore splits it). */
const credsLine = (args: string) => `bun run --silent --cwd ${REPO_ROOT} creds --endpoint ${proxy.url} ${args}`

/** A fresh HOME with `~/.aws/config` holding these profiles; its `.cache` is where the helper keeps sessions. */
const homeWith = (profiles: Record<string, string>) => {
  const home = mkdtempSync(join(workDir, "home-"))
  mkdirSync(join(home, ".aws"))
  const config = Object.entries(profiles)
    .map(([name, line]) =>
      `[profile ${name}]\nregion = us-east-1\nendpoint_url = ${proxy.url}\ncredential_process = ${line}\ns3 =\n    addressing_style = path\n`
    )
    .join("\n")
  writeFileSync(join(home, ".aws/config"), config)
  return home
}

/** aws-cli with `home`'s config (HOME, AWS_CONFIG_FILE: the profile names the endpoint) and the server's settings for the token commands. */
const awsIn = (home: string, args: ReadonlyArray<string>) =>
  runAws(args, 60_000, {
    ...cliEnv({ XDG_CACHE_HOME: undefined }),
    HOME: home,
    AWS_CONFIG_FILE: join(home, ".aws/config"),
    AWS_SHARED_CREDENTIALS_FILE: join(home, ".aws/credentials")
  })

/** The helper run directly, as a credential_process would run it. */
const creds = (args: ReadonlyArray<string>, home: string) =>
  run("bun", ["run", "--silent", "--cwd", REPO_ROOT, "creds", "--endpoint", proxy.url, ...args], {
    env: cliEnv({ HOME: home, XDG_CACHE_HOME: undefined }),
    timeoutMs: 40_000
  })

const apiKeyFile = async (account: string) => {
  const minted = await run("bun", [join(REPO_ROOT, "src/platform/bun/cli/apiKey.ts"), account], { env: cliEnv(), timeoutMs: 20_000 })
  expect(minted.status, minted.stderr).toBe(0)
  const file = join(workDir, `${account}.key`)
  writeFileSync(file, minted.stdout.toString())
  return file
}

const loginCommand = (user: string) => `"bun run --silent --cwd ${REPO_ROOT} login ${user}"`

beforeAll(async () => {
  dev = await startDevServer("creds")
  ;({ workDir, proxy } = dev)
  secret = readFileSync(join(workDir, "sample/data/demo/private/secret.txt"))
})

afterAll(async () => {
  await proxy?.stop()
})

describe("bun run creds as a credential_process", () => {
  it("aws-cli: alice's profile (token command = bun run login) reads demo/private; bob's is refused; a broken one says why", async () => {
    const home = homeWith({
      alice: credsLine(`--role-arn ${DEFAULT_ROLE} --token-command ${loginCommand("alice")}`),
      bob: credsLine(`--role-arn ${DEFAULT_ROLE} --token-command ${loginCommand("bob")}`),
      broken: credsLine("--role-arn sc::demo::role/nope --token-command " + loginCommand("alice"))
    })
    const alice = await awsIn(home, ["--profile", "alice", "s3", "cp", "s3://demo/private/secret.txt", "-"])
    expect(alice.status, alice.stderr).toBe(0)
    expect(alice.stdout.equals(secret)).toBe(true)

    const bob = await awsIn(home, ["--profile", "bob", "s3", "cp", "s3://demo/private/secret.txt", "-"])
    expect(bob.status).not.toBe(0)
    expect(bob.stderr).toMatch(/403|Forbidden|AccessDenied/)
    const bobPublic = await awsIn(home, ["--profile", "bob", "s3", "ls", "s3://demo/sample/"])
    expect(bobPublic.status, bobPublic.stderr).toBe(0)

    const broken = await awsIn(home, ["--profile", "broken", "s3", "ls", "s3://demo/sample/"])
    expect(broken.status).not.toBe(0)
    expect(broken.stderr).toContain("STS AccessDenied (403): Not authorized to perform sts:AssumeRoleWithWebIdentity")

    // The sessions are cached in the HOME's cache directory, readable only by their owner.
    const cache = join(home, ".cache/source-data-proxy")
    const files = readdirSync(cache)
    expect(files).toHaveLength(2)
    for (const file of files) expect(statSync(join(cache, file)).mode & 0o777).toBe(0o600)
  })

  it("boto3: the demo account's API key (a token file) reads and lists demo/private", async () => {
    const keyFile = await apiKeyFile("demo")
    const home = homeWith({ demo: credsLine(`--role-arn ${DEFAULT_ROLE} --token-file ${keyFile} --duration 1800`) })
    const out = await runBoto3<{ method: string; akid: string; body: string; keys: Array<string> }>(`
      import os
      os.environ["HOME"] = inp["home"]
      os.environ["AWS_CONFIG_FILE"] = os.path.join(inp["home"], ".aws", "config")
      os.environ.pop("XDG_CACHE_HOME", None)
      session = boto3.Session(profile_name="demo")
      creds = session.get_credentials()
      demo = session.client("s3",  # the endpoint comes from the profile
          config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"}))
      body = demo.get_object(Bucket="demo", Key="private/secret.txt")["Body"].read()
      listed = demo.list_objects_v2(Bucket="demo", Prefix="private/")
      out = {"method": creds.method, "akid": creds.get_frozen_credentials().access_key,
             "body": base64.b64encode(body).decode(), "keys": [o["Key"] for o in listed.get("Contents", [])]}
    `, { endpoint: proxy.url, home })
    expect(out.method).toBe("custom-process")
    expect(out.akid).toMatch(/^SCSTS1/)
    expect(Buffer.from(out.body, "base64").equals(secret)).toBe(true)
    expect(out.keys).toContain("private/secret.txt")
    expect(readdirSync(join(home, ".cache/source-data-proxy"))).toHaveLength(1)
  })

  it("prints the credential_process JSON; a second run serves the cached session, one within 5 minutes of expiry is renewed", async () => {
    const keyFile = await apiKeyFile("demo")
    const home = mkdtempSync(join(workDir, "home-"))
    const args = ["--role-arn", DEFAULT_ROLE, "--token-file", keyFile]
    const first = await creds(args, home)
    expect(first.status, first.stderr).toBe(0)
    const printed = JSON.parse(first.stdout.toString()) as Record<string, unknown>
    expect(Object.keys(printed)).toStrictEqual(["Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"])
    expect(printed["Version"]).toBe(1)
    expect(printed["AccessKeyId"]).toMatch(/^SCSTS1/)

    const second = await creds(args, home)
    expect(JSON.parse(second.stdout.toString())).toStrictEqual(printed)

    // An entry 4 minutes from its expiry is not handed out any more: a new exchange, a new session.
    const cache = join(home, ".cache/source-data-proxy")
    const [file] = readdirSync(cache)
    const entry = JSON.parse(readFileSync(join(cache, file!), "utf8")) as Record<string, unknown>
    writeFileSync(join(cache, file!), JSON.stringify({ ...entry, Expiration: new Date(Date.now() + 4 * 60_000).toISOString() }))
    const renewed = await creds(args, home)
    expect(renewed.status, renewed.stderr).toBe(0)
    expect(JSON.parse(renewed.stdout.toString())["AccessKeyId"]).not.toBe(printed["AccessKeyId"])

    // Another token is another cache entry.
    const otherKey = await apiKeyFile("demo")
    expect(JSON.parse((await creds(["--role-arn", DEFAULT_ROLE, "--token-file", otherKey], home)).stdout.toString())["AccessKeyId"])
      .not.toBe(JSON.parse(renewed.stdout.toString())["AccessKeyId"])
    expect(readdirSync(cache)).toHaveLength(2)
  })

  it("each failure: exit 1 and one clear line (STS code and message, or what did not answer); nothing cached", async () => {
    const home = mkdtempSync(join(workDir, "home-"))
    const garbage = join(workDir, "garbage.token")
    writeFileSync(garbage, "not-a-jwt\n")
    const silent: Server = createServer(() => {}) // accepts, never answers
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve))
    const silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`
    try {
      const rows: ReadonlyArray<readonly [string, ReadonlyArray<string>, RegExp]> = [
        ["an unknown role", ["--role-arn", "sc::demo::role/nope", "--token-file", garbage], /STS AccessDenied \(403\): Not authorized/],
        ["a token that is no JWT", ["--role-arn", DEFAULT_ROLE, "--token-file", garbage], /STS InvalidIdentityToken \(400\): The token is not a well-formed JWT/],
        ["a bad RoleArn", ["--role-arn", "demo", "--token-file", garbage], /STS ValidationError \(400\): RoleArn must be/],
        ["a failing token command", ["--role-arn", DEFAULT_ROLE, "--token-command", "exit 3"], /the token command failed \(3\)/],
        ["a token command printing nothing", ["--role-arn", DEFAULT_ROLE, "--token-command", "true"], /printed no token/],
        ["no token file", ["--role-arn", DEFAULT_ROLE, "--token-file", join(workDir, "absent")], /cannot read the token file/],
        ["both token sources", ["--role-arn", DEFAULT_ROLE, "--token-file", garbage, "--token-command", "true"], /usage: bun run creds/],
        ["nobody listening", ["--role-arn", DEFAULT_ROLE, "--token-file", garbage, "--endpoint", `http://127.0.0.1:${await freePort()}`], /could not be reached/],
        ["an endpoint that never answers", ["--role-arn", DEFAULT_ROLE, "--token-file", garbage, "--endpoint", silentUrl], /did not answer within 10 s/]
      ]
      for (const [name, args, message] of rows) {
        const result = await creds(args, home)
        expect(result.status, name).toBe(1)
        expect(result.stdout.toString(), name).toBe("")
        expect(result.stderr.trim().split("\n"), name).toHaveLength(1)
        expect(result.stderr, name).toMatch(message)
      }
    } finally {
      silent.closeAllConnections()
      await new Promise<void>((resolve) => silent.close(() => resolve()))
    }
    expect(() => readdirSync(join(home, ".cache/source-data-proxy"))).toThrow()
  })
})
