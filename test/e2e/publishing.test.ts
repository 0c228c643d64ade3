import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ListObjectsV2Command } from "@aws-sdk/client-s3"
import { decodeJwt } from "jose"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { runAws } from "./harness/clients.js"
import { startMoto, type RunningMoto } from "./harness/moto.js"
import { makeKey, signToken, startIssuer, type TestIssuer, type TestKey } from "./harness/oidcIssuer.js"
import { freePort } from "../fakes/processes.js"
import { motoClient, readFromMoto, seedBucket } from "./harness/s3.js"
import { type ApiRoute, type RecordedRequest, type RunningSourceApi, startSourceApi } from "./harness/sourceApi.js"
import { startStsProxy, type StsProxy } from "./harness/sts.js"

/**
 * Publishing from CI (README "Publishing from CI"): the acme account registered its CI system's OIDC issuer
 * as an account IdP, and a Role trusts tokens of one repository's main branch with a write ceiling on one
 * prefix. A GitHub Actions-shaped token from an in-test issuer (discovery + JWKS on 127.0.0.1) goes to the
 * proxy's `/.sts` through aws-cli's own web-identity support, and `aws s3 sync` publishes a build folder
 * into moto; anything outside the prefix is refused. Then every STS error a misconfigured IdP produces.
 */

const AUDIENCE = "https://data.source.coop" // what the workflow asks GitHub's token for
const SOURCE_COOP_AUDIENCE = "e2e-publishing.source.coop"
const BUCKET = "e2e-publishing"
const CONNECTION = "conn-publishing"
const REPOSITORY = "acme/website"
const PUBLISH_ROLE = "arn:aws:iam::acme:role/publish"

const SITE = {
  "index.html": "<h1>acme</h1>\n",
  "assets/app.js": "console.log('acme')\n",
  "assets/style.css": "h1 { color: teal }\n",
  "data/2026/points.geojson": "{\"type\":\"FeatureCollection\",\"features\":[]}\n"
} as const

let moto: RunningMoto
let api: RunningSourceApi
let sts: StsProxy
let ci: TestIssuer
let ciKey: TestKey
let rotatedKey: TestKey
let workDir: string
let buildDir: string
let deadIssuer: string

/** The claims GitHub Actions puts in a job's OIDC token (docs.github.com, "About security hardening with OpenID Connect"). */
const githubToken = (claims: Record<string, unknown> = {}, key: TestKey = ciKey) => {
  const repository = (claims["repository"] as string | undefined) ?? REPOSITORY
  const ref = (claims["ref"] as string | undefined) ?? "refs/heads/main"
  return signToken(key, {
    iss: ci.url,
    aud: AUDIENCE,
    sub: `repo:${repository}:ref:${ref}`,
    repository,
    repository_owner: repository.split("/")[0],
    ref,
    ref_type: "branch",
    workflow: "publish",
    event_name: "push",
    actor: "octocat",
    run_id: "4242",
    jti: crypto.randomUUID(),
    ...claims
  })
}

const role = (name: string, idp: string, resources: ReadonlyArray<string> = ["sc::acme::product/site/build/*"]) => ({
  name,
  max_session_duration: 3600,
  identity_constraints: [{
    idp,
    audience: AUDIENCE,
    claim_constraints: [
      { claim: "repository", operator: "equals", value: REPOSITORY },
      { claim: "ref", operator: "equals", value: "refs/heads/main" }
    ]
  }],
  permissions: [{ actions: ["read", "write"], resources }]
})

const subjectOf = (request: RecordedRequest): string | undefined => {
  const header = request.headers.authorization
  if (header === undefined || !header.startsWith("Bearer ")) return undefined
  const sub = decodeJwt(header.slice("Bearer ".length)).sub
  return typeof sub === "string" ? sub : undefined
}

/** aws-cli with the env vars a CI job sets (README), a fresh HOME (aws-cli caches web-identity sessions there). */
const awsInCi = (args: ReadonlyArray<string>, token: string, roleArn = PUBLISH_ROLE) => {
  const home = mkdtempSync(join(workDir, "home-"))
  const tokenFile = join(home, "token")
  writeFileSync(tokenFile, token)
  return runAws(args, 60_000, {
    HOME: home,
    AWS_ROLE_ARN: roleArn,
    AWS_ROLE_SESSION_NAME: "github-actions",
    AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
    AWS_ENDPOINT_URL: sts.proxy.url,
    AWS_ENDPOINT_URL_STS: `${sts.proxy.url}/.sts`
  })
}

const motoKeys = async (prefix: string) => {
  const s3 = motoClient(moto.endpoint)
  try {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }))
    return (listed.Contents ?? []).map((o) => o.Key!).sort()
  } finally {
    s3.destroy()
  }
}

/** A POST form to `/.sts`; returns status, code and message. */
const exchange = async (roleArn: string, token: string) => {
  const response = await fetch(`${sts.proxy.url}/.sts`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8" },
    body: new URLSearchParams({ Action: "AssumeRoleWithWebIdentity", Version: "2011-06-15", RoleArn: roleArn, RoleSessionName: "ci", WebIdentityToken: token })
  })
  const body = await response.text()
  const tag = (name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(body)?.[1]
  return { status: response.status, code: tag("Code"), message: tag("Message"), tag }
}

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), "sdp-e2e-publishing-"))
  buildDir = join(workDir, "build")
  for (const [path, text] of Object.entries(SITE)) {
    mkdirSync(join(buildDir, path, ".."), { recursive: true })
    writeFileSync(join(buildDir, path), text)
  }
  ;[ciKey, rotatedKey] = await Promise.all([makeKey("RS256", "gh-1"), makeKey("ES256", "gh-rotated")])
  ci = await startIssuer([ciKey])
  deadIssuer = `http://127.0.0.1:${await freePort()}` // nothing listens there
  moto = await startMoto()
  const s3 = motoClient(moto.endpoint)
  await seedBucket(s3, BUCKET, { "acme/site/README.md": "kept\n" }, false)
  s3.destroy()
  const site = {
    product_id: "site",
    account_id: "acme",
    title: "acme's site",
    visibility: "public",
    disabled: false,
    metadata: { primary_mirror: "main", mirrors: { main: { connection_id: CONNECTION, prefix: "acme/site/" } } }
  }
  const idp = (name: string, issuer: string, extra: Record<string, string> = {}): ApiRoute => ({ body: { name, issuer, ...extra } })
  const routes: Record<string, ApiRoute> = {
    [`/api/v1/data-connections/${CONNECTION}`]: {
      body: {
        data_connection_id: CONNECTION,
        read_only: false,
        details: { provider: "s3", region: "us-east-1", base_prefix: "", bucket: BUCKET, endpoint: moto.endpoint },
        authentication: { type: "s3_access_key", access_key_id: "testing", secret_access_key: "testing" }
      }
    },
    "/api/v1/products/acme": { body: { products: [site] } },
    "/api/v1/products/acme/site": { body: site },
    // As the Source API: the account may read and write its own product.
    "/api/v1/products/acme/site/permissions": (_call, request) => ({ body: subjectOf(request) === "acme" ? ["read", "write"] : [] }),
    // acme's registered IdPs: the CI issuer (discovery), the same with its JWKS named, and misconfigured ones.
    "/api/v1/accounts/acme/idps/github-actions": idp("github-actions", ci.url),
    "/api/v1/accounts/acme/idps/pinned": idp("pinned", `${ci.url}/`, { jwks_uri: `${ci.url}/jwks` }),
    "/api/v1/accounts/acme/idps/plain-http": idp("plain-http", "http://ci.example.com"),
    "/api/v1/accounts/acme/idps/down": idp("down", deadIssuer),
    "/api/v1/accounts/acme/idps/source-coop": idp("source-coop", ci.url),
    "/api/v1/accounts/acme/idps/flaky": (call) => (call === 1 ? { status: 500, body: "oops" } : { body: { name: "flaky", issuer: ci.url } }),
    "/api/v1/accounts/globex/idps/their-ci": idp("their-ci", ci.url),
    "/api/v1/accounts/acme/roles/publish": { body: role("publish", "github-actions") },
    "/api/v1/accounts/acme/roles/pinned": { body: role("pinned", "pinned") },
    "/api/v1/accounts/acme/roles/unknown": { body: role("unknown", "nope") },
    "/api/v1/accounts/acme/roles/borrow": { body: role("borrow", "their-ci") },
    "/api/v1/accounts/acme/roles/plain-http": { body: role("plain-http", "plain-http") },
    "/api/v1/accounts/acme/roles/down": { body: role("down", "down") },
    "/api/v1/accounts/acme/roles/shadow": { body: role("shadow", "source-coop") },
    "/api/v1/accounts/acme/roles/flaky": { body: role("flaky", "flaky") }
  }
  api = await startSourceApi(routes)
  sts = await startStsProxy({ sourceApiUrl: api.url, audience: SOURCE_COOP_AUDIENCE, name: "publishing" })
})

afterAll(async () => {
  await sts?.stop()
  await api?.stop()
  await ci?.stop()
  await moto?.stop()
})

describe("publishing from CI with an account-registered IdP", () => {
  it("aws s3 sync publishes a build folder into the Role's prefix with the SDK env vars; a write outside it is refused", async () => {
    const token = await githubToken()
    const sync = await awsInCi(["s3", "sync", buildDir, "s3://acme/site/build/"], token)
    expect(sync.status, sync.stderr).toBe(0)
    expect(await motoKeys("acme/site/build/")).toStrictEqual(Object.keys(SITE).map((k) => `acme/site/build/${k}`).sort())
    const s3 = motoClient(moto.endpoint)
    for (const [path, text] of Object.entries(SITE)) {
      expect(Buffer.from(await readFromMoto(s3, BUCKET, `acme/site/build/${path}`)).toString(), path).toBe(text)
    }
    s3.destroy()

    // A second sync has nothing to do; the listing it compares with is the prefix the ceiling reaches.
    const again = await awsInCi(["s3", "sync", buildDir, "s3://acme/site/build/"], token)
    expect(again.status, again.stderr).toBe(0)
    expect(again.stdout.toString()).toBe("")

    writeFileSync(join(workDir, "outside.txt"), "not here\n")
    const outside = await awsInCi(["s3", "cp", join(workDir, "outside.txt"), "s3://acme/site/outside.txt"], token)
    expect(outside.status).not.toBe(0)
    expect(outside.stderr).toContain("AccessDenied")
    const overwrite = await awsInCi(["s3", "cp", join(workDir, "outside.txt"), "s3://acme/site/README.md"], token)
    expect(overwrite.stderr).toContain("AccessDenied")
    expect(await motoKeys("acme/site/")).not.toContain("acme/site/outside.txt")
    const s3again = motoClient(moto.endpoint)
    expect(Buffer.from(await readFromMoto(s3again, BUCKET, "acme/site/README.md")).toString()).toBe("kept\n")
    s3again.destroy()
  })

  it("the session is acme's (sub = acme to the Source API), assumed by the workflow's subject from the CI issuer", async () => {
    const ok = await exchange(PUBLISH_ROLE, await githubToken())
    expect(ok.status).toBe(200)
    expect(decodeJwt(ok.tag("SessionToken")!)).toMatchObject({
      account_id: "acme",
      role_name: "publish",
      assumed_by: `repo:${REPOSITORY}:ref:refs/heads/main`,
      assumed_by_issuer: ci.url,
      permissions: [{ actions: ["read", "write"], resources: ["sc::acme::product/site/build/*"] }]
    })
    expect(ok.tag("Provider")).toBe(ci.url)
  })

  it("a token of another branch or repository is refused: aws-cli reports IDPRejectedClaim", async () => {
    const branch = await awsInCi(["s3", "ls", "s3://acme/site/build/"], await githubToken({ ref: "refs/heads/feature" }))
    expect(branch.status).not.toBe(0)
    expect(branch.stderr).toContain("IDPRejectedClaim")
    const fork = await awsInCi(["s3", "ls", "s3://acme/site/build/"], await githubToken({ repository: "mallory/website" }))
    expect(fork.stderr).toContain("IDPRejectedClaim")
  })

  it("an IdP registered with its jwks_uri verifies the same tokens", async () => {
    expect((await exchange("sc::acme::role/pinned", await githubToken())).status).toBe(200)
  })
})

describe("every STS error a misconfigured account IdP produces, over HTTP", () => {
  it("unknown name, another account's IdP, a shadowed platform name, http off loopback, discovery down, no kid, wrong audience", async () => {
    const rows: ReadonlyArray<readonly [string, string, () => Promise<string>, number, string, RegExp]> = [
      ["an IdP nobody registered", "sc::acme::role/unknown", () => githubToken(), 400, "InvalidIdentityToken", /issuer is not trusted/],
      ["another account's IdP", "sc::acme::role/borrow", () => githubToken(), 400, "InvalidIdentityToken", /issuer is not trusted/],
      ["an account IdP under a platform IdP's name", "sc::acme::role/shadow", () => githubToken(), 400, "InvalidIdentityToken", /issuer is not trusted/],
      [
        "an http issuer off loopback",
        "sc::acme::role/plain-http",
        () => githubToken({ iss: "http://ci.example.com" }),
        400,
        "InvalidIdentityToken",
        /issuer must be an https URL/
      ],
      ["discovery down", "sc::acme::role/down", () => githubToken({ iss: deadIssuer }), 400, "IDPCommunicationError", /signing keys/],
      ["no key matches the kid", PUBLISH_ROLE, () => githubToken({}, rotatedKey), 400, "InvalidIdentityToken", /kid/],
      ["a wrong audience", PUBLISH_ROLE, () => githubToken({ aud: "sts.amazonaws.com" }), 400, "InvalidIdentityToken", /audience/],
      ["an expired token", PUBLISH_ROLE, () => githubToken({ exp: Math.floor(Date.now() / 1000) - 3600 }), 400, "ExpiredTokenException", /expired/]
    ]
    for (const [name, roleArn, token, status, code, message] of rows) {
      const result = await exchange(roleArn, await token())
      expect([result.status, result.code], name).toStrictEqual([status, code])
      expect(result.message, name).toMatch(message)
    }
  })

  it("a Source API failure on the IdP lookup answers 500 InternalFailure and is not cached: the next exchange works", async () => {
    const failed = await exchange("sc::acme::role/flaky", await githubToken())
    expect([failed.status, failed.code]).toStrictEqual([500, "InternalFailure"])
    expect((await exchange("sc::acme::role/flaky", await githubToken())).status).toBe(200)
    expect(api.hits("/api/v1/accounts/acme/idps/flaky")).toBe(2)
  })

  it("an account IdP lookup is cached: many exchanges, one Source API call", async () => {
    expect((await exchange(PUBLISH_ROLE, await githubToken())).status).toBe(200)
    const before = api.hits("/api/v1/accounts/acme/idps/github-actions")
    for (let i = 0; i < 3; i++) expect((await exchange(PUBLISH_ROLE, await githubToken())).status).toBe(200)
    expect(api.hits("/api/v1/accounts/acme/idps/github-actions")).toBe(before)
  })
})
