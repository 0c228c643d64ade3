import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { decodeJwt } from "jose"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { runAws } from "./harness/clients.js"
import { type DevServer, startDevServer } from "./harness/devServer.js"
import type { RunningProxy } from "./harness/proxy.js"

/**
 * The embedded default's users (README "Credentials, locally"): `bun run login alice` (a member of demo) and
 * `bun run login bob` (not one) sign in at `bun run dev`'s own IdP; both may name demo's `_default` Role,
 * but each session acts as its user, with the catalog's `permissions` for that user. The sample is copied,
 * so writes never touch the repository.
 */

let dev: DevServer
let workDir: string
let dataDir: string
let proxy: RunningProxy

const login = (user: string) => dev.login(user)

/** aws-cli with the SDK-native web-identity flow for `user`'s token and demo's `_default` Role. */
const awsAs = async (user: string, args: ReadonlyArray<string>) => {
  const signedIn = await login(user)
  expect(signedIn.status, signedIn.stderr).toBe(0)
  const tokenFile = join(workDir, `${user}.token`)
  writeFileSync(tokenFile, signedIn.token)
  return runAws(args, 30_000, {
    HOME: mkdtempSync(join(workDir, "home-")), // no cached web-identity session from an earlier user
    AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
    AWS_ROLE_ARN: "arn:aws:iam::demo:role/_default",
    AWS_ENDPOINT_URL_STS: `${proxy.url}/.sts`,
    AWS_ENDPOINT_URL: proxy.url
  })
}

beforeAll(async () => {
  dev = await startDevServer("users")
  ;({ workDir, proxy } = dev)
  dataDir = join(workDir, "sample/data")
  writeFileSync(join(workDir, "upload.txt"), "written through the proxy\n")
})

afterAll(async () => {
  await proxy?.stop()
})

describe("bun run dev: users of the embedded catalog", () => {
  it("`bun run login` signs a catalog user in at the dev server's IdP; an account name or an unknown user is refused", async () => {
    const alice = await login("alice")
    expect(alice.status, alice.stderr).toBe(0)
    expect(decodeJwt(alice.token)).toMatchObject({ iss: `${proxy.url}/.dev-idp`, sub: "alice", aud: "source-data-proxy-dev" })
    const discovery = await (await fetch(`${proxy.url}/.dev-idp/.well-known/openid-configuration`)).json()
    expect(discovery).toMatchObject({ issuer: `${proxy.url}/.dev-idp`, jwks_uri: `${proxy.url}/.dev-idp/jwks.json` })
    const jwks = await (await fetch(`${proxy.url}/.dev-idp/jwks.json`)).json() as { keys: Array<Record<string, unknown>> }
    expect(jwks.keys).toHaveLength(1)
    expect(jwks.keys[0]).not.toHaveProperty("d") // public parts only
    expect((await login("demo")).status).toBe(1)
    expect((await login("mallory")).status).toBe(1)
  })

  it("alice (a member of demo) reads demo/private and writes into demo/sample", async () => {
    const read = await awsAs("alice", ["s3", "cp", "s3://demo/private/secret.txt", "-"])
    expect(read.status, read.stderr).toBe(0)
    expect(read.stdout.toString()).toBe(readFileSync(join(dataDir, "demo/private/secret.txt"), "utf8"))
    const write = await awsAs("alice", ["s3", "cp", join(workDir, "upload.txt"), "s3://demo/sample/uploads/alice.txt"])
    expect(write.status, write.stderr).toBe(0)
    expect(readFileSync(join(dataDir, "demo/sample/uploads/alice.txt"), "utf8")).toBe("written through the proxy\n")
  })

  it("aws s3 ls s3://demo/ shows alice the restricted product too; bob sees the public one only", async () => {
    const alice = await awsAs("alice", ["s3", "ls", "s3://demo/"])
    expect(alice.status, alice.stderr).toBe(0)
    expect(alice.stdout.toString().trim().split("\n").map((l) => l.trim())).toEqual(["PRE private/", "PRE sample/"])
    const bob = await awsAs("bob", ["s3", "ls", "s3://demo/"])
    expect(bob.status, bob.stderr).toBe(0)
    expect(bob.stdout.toString().trim().split("\n").map((l) => l.trim())).toEqual(["PRE sample/"])
    const everything = await awsAs("alice", ["s3", "ls", "--recursive", "s3://demo/"])
    expect(everything.status, everything.stderr).toBe(0)
    expect(everything.stdout.toString()).toMatch(/private\/secret\.txt/)
    expect(everything.stdout.toString()).toMatch(/sample\/places\.geojson/)
  })

  it("bob (not a member) naming demo's _default: the restricted product and every write are refused, nothing changes", async () => {
    const read = await awsAs("bob", ["s3", "cp", "s3://demo/private/secret.txt", "-"])
    expect(read.status).not.toBe(0)
    expect(read.stderr).toMatch(/403|Forbidden|AccessDenied/)
    const write = await awsAs("bob", ["s3", "cp", join(workDir, "upload.txt"), "s3://demo/sample/uploads/bob.txt"])
    expect(write.status).not.toBe(0)
    expect(write.stderr).toMatch(/AccessDenied/)
    expect(existsSync(join(dataDir, "demo/sample/uploads/bob.txt"))).toBe(false)
    const remove = await awsAs("bob", ["s3", "rm", "s3://demo/sample/README.md"])
    expect(remove.status).not.toBe(0)
    expect(existsSync(join(dataDir, "demo/sample/README.md"))).toBe(true)
    // What anyone may read, bob may read too.
    const open = await awsAs("bob", ["s3", "cp", "s3://demo/sample/README.md", "-"])
    expect(open.status, open.stderr).toBe(0)
  })
})
