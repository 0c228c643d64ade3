import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { decodeJwt, exportPKCS8, type JWTPayload, SignJWT } from "jose"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { runBoto3 } from "./harness/clients.js"
import { makeKey, startIssuer, type TestIssuer, type TestKey as Key } from "./harness/oidcIssuer.js"
import { freePort } from "../fakes/processes.js"
import { type RunningProxy, startBunProxy } from "./harness/proxy.js"
import { type RunningSourceApi, startSourceApi } from "./harness/sourceApi.js"

/**
 * `/.sts` end to end: a test OIDC issuer on 127.0.0.1 (discovery + JWKS, RS256 and ES256 keys), the Bun
 * proxy over a Source API stand-in that serves roles, and boto3 / plain HTTP as the clients.
 */

const ACCOUNT = "e2e-sts"
const AUDIENCE = "e2e.source.coop"
const DEFAULT_ROLE = `sc::${ACCOUNT}::role/_default`
const CI_ROLE = `arn:aws:iam::${ACCOUNT}:role/ci`
const DEAD_ROLE = `sc::${ACCOUNT}::role/dead`
const PROXY_ISSUER = "http://127.0.0.1:1" // only the proxy's own keys answer for it, in-process

const now = () => Math.floor(Date.now() / 1000)

let rsa: Key
let ec: Key
let forged: Key
let proxyKey: Key
let issuer: TestIssuer
let api: RunningSourceApi
let proxy: RunningProxy
let deadIssuer: string

const mint = (claims: JWTPayload, key: Key = rsa, header: Record<string, string> = {}) =>
  new SignJWT({ iss: issuer.url, aud: AUDIENCE, sub: "user-42", iat: now(), exp: now() + 600, ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT", ...header })
    .sign(key.privateKey)

const apiKey = (account: string, jti: string) =>
  mint({ iss: PROXY_ISSUER, aud: `${PROXY_ISSUER}/.sts`, sub: account, type: "api_key", jti }, proxyKey)

/** A POST form to `/.sts`, as botocore sends it; returns status, code and the parsed fields. */
const postForm = async (params: Record<string, string>, path = "/.sts") => {
  const response = await fetch(`${proxy.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8" },
    body: new URLSearchParams(params).toString()
  })
  const body = await response.text()
  const tag = (name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(body)?.[1]
  return { status: response.status, body, code: tag("Code"), tag, requestId: response.headers.get("x-amz-request-id") }
}

const params = (token: string, extra: Record<string, string> = {}) => ({
  Action: "AssumeRoleWithWebIdentity",
  Version: "2011-06-15",
  RoleArn: DEFAULT_ROLE,
  RoleSessionName: "e2e",
  WebIdentityToken: token,
  ...extra
})

beforeAll(async () => {
  ;[rsa, ec, forged, proxyKey] = await Promise.all([
    makeKey("RS256", "rsa-1"), makeKey("ES256", "ec-1"), makeKey("RS256", "rsa-1"), makeKey("RS256", "proxy-1")
  ])
  issuer = await startIssuer([rsa, ec])
  deadIssuer = `http://127.0.0.1:${await freePort()}` // nothing listens there
  api = await startSourceApi({
    [`/api/v1/accounts/${ACCOUNT}/roles/ci`]: {
      body: {
        name: "ci",
        max_session_duration: 7200,
        identity_constraints: [{
          idp: "ci-idp",
          audience: "ci-audience",
          claim_constraints: [{ claim: "repository", operator: "starts_with", value: `${ACCOUNT}/` }]
        }],
        permissions: [{ actions: ["read"], resources: [`sc::${ACCOUNT}::product/data/*`] }]
      }
    },
    [`/api/v1/accounts/${ACCOUNT}/roles/dead`]: {
      body: { name: "dead", max_session_duration: 3600, identity_constraints: [{ idp: "dead-idp", audience: AUDIENCE }], permissions: [] }
    }
  })
  proxy = await startBunProxy({
    SOURCE_API_URL: api.url,
    AUTH_ISSUER: issuer.url,
    AUTH_AUDIENCE: `other, ${AUDIENCE}`,
    PLATFORM_IDPS: JSON.stringify([{ name: "ci-idp", issuer: issuer.url }, { name: "dead-idp", issuer: deadIssuer }]),
    STS_MAX_SESSION_DURATION_SECS: "43200",
    OIDC_PROVIDER_ISSUER: PROXY_ISSUER,
    OIDC_PROVIDER_KID: proxyKey.kid,
    OIDC_PROVIDER_KEY: await exportPKCS8(proxyKey.privateKey)
  })
})

afterAll(async () => {
  await proxy?.stop()
  await api?.stop()
  await issuer?.stop()
})

describe("STS with boto3", () => {
  it("assume_role_with_web_identity (POST form) returns SCSTS credentials and AWS-shaped fields", async () => {
    const token = await mint({})
    const out = await runBoto3<Record<string, string>>(`
      sts = boto3.client("sts", endpoint_url=inp["endpoint"] + "/.sts", region_name="us-east-1")
      r = sts.assume_role_with_web_identity(RoleArn=inp["role"], RoleSessionName="s1", WebIdentityToken=inp["token"], DurationSeconds=900)
      c = r["Credentials"]
      out = {"akid": c["AccessKeyId"], "secret": c["SecretAccessKey"], "token": c["SessionToken"],
             "expiration": c["Expiration"].isoformat(), "arn": r["AssumedRoleUser"]["Arn"],
             "id": r["AssumedRoleUser"]["AssumedRoleId"], "subject": r["SubjectFromWebIdentityToken"],
             "provider": r["Provider"], "audience": r["Audience"], "rid": r["ResponseMetadata"]["RequestId"]}
    `, { endpoint: proxy.url, role: DEFAULT_ROLE, token })
    expect(out["akid"]).toMatch(/^SCSTS1[A-Z0-9]{16,}$/)
    expect(out["secret"]!.length).toBeGreaterThanOrEqual(40)
    expect(out["arn"]).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/_default/s1`)
    expect(out["id"]).toBe("_default:s1")
    expect(out["subject"]).toBe("user-42")
    expect(out["provider"]).toBe(issuer.url)
    expect(out["audience"]).toBe(AUDIENCE)
    expect(out["rid"]).not.toBe("")
    const claims = decodeJwt(out["token"]!)
    expect(claims).toMatchObject({ sub: DEFAULT_ROLE, account_id: ACCOUNT, assumed_by: "user-42", assumed_by_issuer: issuer.url })
    expect(claims.exp! - claims.iat!).toBe(900)
    expect(Date.parse(out["expiration"]!)).toBe(claims.exp! * 1000)
  })

  it("errors map to botocore's modeled exceptions", async () => {
    const expired = await mint({ iat: now() - 7200, exp: now() - 3600 })
    const untrusted = await mint({ iss: "https://evil.example" })
    const out = await runBoto3<Array<Record<string, unknown>>>(`
      sts = boto3.client("sts", endpoint_url=inp["endpoint"] + "/.sts", region_name="us-east-1")
      out = []
      for t in [inp["expired"], inp["untrusted"]]:
          try:
              sts.assume_role_with_web_identity(RoleArn=inp["role"], RoleSessionName="s1", WebIdentityToken=t)
              out.append({"ok": True})
          except ClientError as e:
              out.append({**error_of(e), "type": type(e).__name__})
    `, { endpoint: proxy.url, role: DEFAULT_ROLE, expired, untrusted })
    expect(out).toStrictEqual([
      { code: "ExpiredTokenException", status: 400, type: "ExpiredTokenException" },
      { code: "InvalidIdentityToken", status: 400, type: "InvalidIdentityTokenException" }
    ])
  })

  it("the SDK-native flow: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN + AWS_ENDPOINT_URL_STS resolve to SCSTS keys", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sdp-e2e-sts-"))
    const tokenFile = join(dir, "token")
    writeFileSync(tokenFile, await mint({}, ec))
    const out = await runBoto3<Record<string, string>>(`
      import os
      os.environ["AWS_WEB_IDENTITY_TOKEN_FILE"] = inp["tokenFile"]
      os.environ["AWS_ROLE_ARN"] = inp["role"]
      os.environ["AWS_ROLE_SESSION_NAME"] = "sdk-native"
      os.environ["AWS_ENDPOINT_URL_STS"] = inp["endpoint"] + "/.sts"
      creds = boto3.Session().get_credentials()
      frozen = creds.get_frozen_credentials()
      out = {"method": creds.method, "akid": frozen.access_key, "token": frozen.token}
    `, { endpoint: proxy.url, role: DEFAULT_ROLE, tokenFile })
    expect(out["method"]).toBe("assume-role-with-web-identity")
    expect(out["akid"]).toMatch(/^SCSTS1/)
    expect(decodeJwt(out["token"]!)["session_name"]).toBe("sdk-native")
  })
})

describe("STS over plain HTTP", () => {
  it("GET with query parameters (as GDAL sends) and all three paths", async () => {
    const token = await mint({}, ec)
    for (const path of ["/.sts", "/.sts/", "/.sts/assume-role-with-web-identity"]) {
      const query = new URLSearchParams({ Action: "AssumeRoleWithWebIdentity", RoleSessionName: "gdal", Version: "2011-06-15", RoleArn: DEFAULT_ROLE, WebIdentityToken: token })
      const response = await fetch(`${proxy.url}${path}?${query}`)
      const body = await response.text()
      expect(response.status, path).toBe(200)
      expect(body).toContain("<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">")
      expect(body).toMatch(/<AccessKeyId>SCSTS1/)
      expect(body).toContain(`<ResponseMetadata><RequestId>${response.headers.get("x-amz-request-id")}</RequestId></ResponseMetadata>`)
      expect(response.headers.get("access-control-allow-origin")).toBe("*")
    }
  })

  it("a custom role from the Source API: claim constraints, its maximum, its permissions", async () => {
    const token = await mint({ aud: "ci-audience", repository: `${ACCOUNT}/pipeline` })
    const ok = await postForm(params(token, { RoleArn: CI_ROLE, DurationSeconds: "7200" }))
    expect(ok.status).toBe(200)
    expect(decodeJwt(ok.tag("SessionToken")!)["permissions"]).toStrictEqual([
      { actions: ["read"], resources: [`sc::${ACCOUNT}::product/data/*`] }
    ])
    const over = await postForm(params(token, { RoleArn: CI_ROLE, DurationSeconds: "7201" }))
    expect([over.status, over.code]).toStrictEqual([400, "ValidationError"])
    const rejected = await postForm(params(await mint({ aud: "ci-audience", repository: "other/pipeline" }), { RoleArn: CI_ROLE }))
    expect([rejected.status, rejected.code]).toStrictEqual([403, "IDPRejectedClaim"])
  })

  it("an API key of the account exchanges; another account's does not", async () => {
    const ok = await postForm(params(await apiKey(ACCOUNT, "e2e-key-1")))
    expect(ok.status).toBe(200)
    expect(ok.tag("Provider")).toBe(PROXY_ISSUER)
    const other = await postForm(params(await apiKey("someone-else", "e2e-key-2")))
    expect([other.status, other.code]).toStrictEqual([403, "IDPRejectedClaim"])
    // Revocation (Revocations.revoke) is process-internal here: see test/core/sts.exchange.test.ts.
  })

  it("every error row answers STS XML with its status and code", async () => {
    const good = await mint({})
    const rows: ReadonlyArray<readonly [string, Record<string, string>, number, string]> = [
      ["no parameters", {}, 400, "InvalidAction"],
      ["another Action", params(good, { Action: "AssumeRole" }), 400, "InvalidAction"],
      ["another Version", params(good, { Version: "2012-01-01" }), 400, "InvalidAction"],
      ["no RoleArn", { Action: "AssumeRoleWithWebIdentity", WebIdentityToken: good }, 400, "ValidationError"],
      ["no WebIdentityToken", { Action: "AssumeRoleWithWebIdentity", RoleArn: DEFAULT_ROLE }, 400, "ValidationError"],
      ["a bad RoleArn", params(good, { RoleArn: "ci" }), 400, "ValidationError"],
      ["an unknown role", params(good, { RoleArn: `sc::${ACCOUNT}::role/nope` }), 403, "AccessDenied"],
      ["an untrusted issuer", params(await mint({ iss: "https://evil.example" })), 400, "InvalidIdentityToken"],
      ["a bad signature", params(await mint({}, forged)), 400, "InvalidIdentityToken"],
      ["alg none", params(`${Buffer.from("{\"alg\":\"none\"}").toString("base64url")}.${good.split(".")[1]}.`), 400, "InvalidIdentityToken"],
      [
        "HS256",
        params(await new SignJWT({ iss: issuer.url, aud: AUDIENCE, sub: "x", exp: now() + 600 })
          .setProtectedHeader({ alg: "HS256", kid: "rsa-1" })
          .sign(new TextEncoder().encode(JSON.stringify(rsa.jwk)))),
        400,
        "InvalidIdentityToken"
      ],
      ["an expired token", params(await mint({ iat: now() - 7200, exp: now() - 3600 })), 400, "ExpiredTokenException"],
      ["a wrong audience", params(await mint({ aud: "not-ours" })), 400, "InvalidIdentityToken"],
      ["DurationSeconds below 900", params(good, { DurationSeconds: "600" }), 400, "ValidationError"],
      ["DurationSeconds above the maximum", params(good, { DurationSeconds: "43201" }), 400, "ValidationError"]
    ]
    for (const [name, form, status, code] of rows) {
      const result = await postForm(form)
      expect([result.status, result.code], name).toStrictEqual([status, code])
      expect(result.body, name).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<ErrorResponse xmlns="https:\/\/sts.amazonaws.com\/doc\/2011-06-15\/"><Error><Type>Sender<\/Type>/)
      expect(result.body, name).toContain(`<RequestId>${result.requestId}</RequestId></ErrorResponse>`)
    }
  })

  it("an unreachable IdP → IDPCommunicationError; a recently fetched JWKS keeps serving while the IdP is down", async () => {
    const dead = await postForm(params(await mint({ iss: deadIssuer }), { RoleArn: DEAD_ROLE }))
    expect([dead.status, dead.code]).toStrictEqual([400, "IDPCommunicationError"])

    expect((await postForm(params(await mint({})))).status).toBe(200) // keys cached
    issuer.mode = "down"
    try {
      const hits = issuer.hits
      expect((await postForm(params(await mint({}, ec)))).status).toBe(200)
      expect(issuer.hits).toBe(hits)
    } finally {
      issuer.mode = "up"
    }
  })

  it("a form body over 64 KiB is refused with a clear error", async () => {
    const result = await postForm({ Action: "AssumeRoleWithWebIdentity", RoleArn: DEFAULT_ROLE, WebIdentityToken: "x".repeat(70_000) })
    expect([result.status, result.code]).toStrictEqual([413, "RequestEntityTooLarge"])
  })
})
