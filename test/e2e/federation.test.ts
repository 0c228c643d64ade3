import { createHash, randomBytes } from "node:crypto"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { createLocalJWKSet, decodeJwt, exportJWK, exportPKCS8, generateKeyPair, type JWK, jwtVerify, SignJWT } from "jose"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { runBoto3 } from "./harness/clients.js"
import { startMoto } from "./harness/moto.js"
import { freePort } from "../fakes/processes.js"
import { type RunningProxy, startBunProxy } from "./harness/proxy.js"
import { motoClient, seedBucket } from "./harness/s3.js"
import { type ForwardedRequest, startRecordingForwarder } from "./harness/servers.js"
import { catalogRoutes, startSourceApi } from "./harness/sourceApi.js"
import { parseError } from "./harness/xml.js"

/**
 * Outbound federation end to end: the Bun proxy mints its own OIDC assertion, a test STS verifies it
 * against the proxy's published discovery document and JWKS (as AWS does) and only then issues temporary
 * credentials, with which the proxy reads a PRIVATE moto bucket.
 */

const ACCOUNT = "e2e-fed"
const BUCKET = "e2e-fed-private"
const KID = "e2e-fed-kid-1"
const CUSTOM_AUDIENCE = "e2e-custom-audience"
const FEDERATION_TIMEOUT_MS = 1_500
/** Generous: the point is "bounded by FEDERATION_TIMEOUT_MS", not a tight wall clock. */
const TIMEOUT_BOUND_MS = 10_000

const ROLE_OK = "arn:aws:iam::123456789012:role/e2e-reader"
const ROLE_DENIED = "arn:aws:iam::123456789012:role/e2e-denied"
const ROLE_INVALID = "arn:aws:iam::123456789012:role/e2e-invalid-token"
const ROLE_STALL = "arn:aws:iam::123456789012:role/e2e-stall"

const BLOB = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 31 + (i >> 9)) & 255)
const HELLO = "hello from a private bucket\n"
const sha256 = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex")

const OBJECTS: Record<string, Uint8Array | string> = {
  "fed-data/hello.txt": HELLO,
  "fed-data/blob.bin": BLOB,
  "fed-data/dir/nested.txt": "nested\n",
  "fed2-data/other.txt": "second connection\n",
  "denied-data/secret.txt": "must not leak\n",
  "invalid-data/secret.txt": "must not leak\n",
  "stall-data/secret.txt": "must not leak\n",
  "az-data/secret.txt": "must not leak\n",
  "gcs-data/secret.txt": "must not leak\n",
  "weird-data/secret.txt": "must not leak\n"
}

// ---------------------------------------------------------------------------------------------------
// A test STS that does what AWS does with a web identity: OIDC discovery from the token's issuer, JWKS,
// signature and claims, and only then credentials.
// ---------------------------------------------------------------------------------------------------

interface StsCall {
  readonly roleArn: string
  readonly roleSessionName: string
  readonly params: ReadonlyArray<string>
  /** Set when the token verified for real (signature with the JWKS key of its kid, iss, aud, exp). */
  readonly verified?: { readonly iss: string; readonly sub: string; readonly aud: string; readonly kid: string }
  readonly rejection?: string
  readonly issued?: { readonly accessKeyId: string; readonly sessionToken: string }
}

const sanitize = (subject: string) => {
  const name = subject.replace(/[^A-Za-z0-9+=,.@_-]/g, "_").slice(0, 64)
  return name.length < 2 ? "s3-proxy" : name
}

const xmlError = (code: string, message: string) =>
  `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code>`
  + `<Message>${message}</Message></Error><RequestId>${randomBytes(8).toString("hex")}</RequestId></ErrorResponse>`

const upperAlnum = (n: number) => {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
  return Array.from(randomBytes(n), (b) => alphabet[b % alphabet.length]).join("")
}

const startTestSts = async (trustedIssuer: () => string) => {
  const calls: Array<StsCall> = []
  const stalled = new Set<ServerResponse>()

  const verify = async (token: string) => {
    const claimedIss = decodeJwt(token).iss
    if (claimedIss !== trustedIssuer()) throw new Error(`untrusted issuer ${String(claimedIss)}`)
    const discovery = await (await fetch(`${claimedIss}/.well-known/openid-configuration`)).json() as {
      issuer: string
      jwks_uri: string
    }
    if (discovery.issuer !== claimedIss) throw new Error(`discovery issuer ${discovery.issuer} is not ${claimedIss}`)
    const jwks = await (await fetch(discovery.jwks_uri)).json() as { keys: Array<JWK> }
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), {
      issuer: discovery.issuer,
      audience: ["sts.amazonaws.com", CUSTOM_AUDIENCE],
      algorithms: ["RS256"]
    })
    if (protectedHeader.kid === undefined || !jwks.keys.some((k) => k.kid === protectedHeader.kid)) throw new Error("no kid")
    if (typeof payload.sub !== "string" || !/^scv1:conn:.+/.test(payload.sub)) throw new Error(`bad sub ${payload.sub}`)
    return { iss: payload.iss!, sub: payload.sub, aud: String(payload.aud), kid: protectedHeader.kid }
  }

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Array<Buffer> = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const form = new URLSearchParams(Buffer.concat(chunks).toString())
    const roleArn = form.get("RoleArn") ?? ""
    const base = { roleArn, roleSessionName: form.get("RoleSessionName") ?? "", params: [...form.keys()].sort() }
    const reply = (status: number, body: string) => {
      res.writeHead(status, { "content-type": "text/xml" })
      res.end(body)
    }
    if (req.method !== "POST" || form.get("Action") !== "AssumeRoleWithWebIdentity" || form.get("Version") !== "2011-06-15") {
      calls.push({ ...base, rejection: "bad action" })
      return reply(400, xmlError("InvalidAction", "bad action"))
    }
    let verified: NonNullable<StsCall["verified"]>
    try {
      verified = await verify(form.get("WebIdentityToken") ?? "")
      if (base.roleSessionName !== sanitize(verified.sub)) throw new Error(`RoleSessionName ${base.roleSessionName}`)
    } catch (error) {
      calls.push({ ...base, rejection: String(error) })
      return reply(400, xmlError("InvalidIdentityToken", "the token did not verify"))
    }
    switch (roleArn) {
      case ROLE_DENIED:
        calls.push({ ...base, verified })
        return reply(403, xmlError("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity"))
      case ROLE_INVALID:
        calls.push({ ...base, verified })
        return reply(400, xmlError("InvalidIdentityToken", "Couldn't retrieve verification key from your identity provider"))
      case ROLE_STALL:
        calls.push({ ...base, verified })
        stalled.add(res) // never answers
        return
      case ROLE_OK: {
        const issued = { accessKeyId: `ASIA${upperAlnum(16)}`, sessionToken: `FwoGZXIvYXdzE${randomBytes(48).toString("base64url")}` }
        calls.push({ ...base, verified, issued })
        const expiration = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z")
        return reply(
          200,
          `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <Audience>${verified.aud}</Audience>
    <AssumedRoleUser><Arn>${roleArn}/${base.roleSessionName}</Arn><AssumedRoleId>AROA${upperAlnum(17)}:${base.roleSessionName}</AssumedRoleId></AssumedRoleUser>
    <Provider>${verified.iss}</Provider>
    <Credentials>
      <AccessKeyId>${issued.accessKeyId}</AccessKeyId>
      <SecretAccessKey>${randomBytes(30).toString("base64")}</SecretAccessKey>
      <SessionToken>${issued.sessionToken}</SessionToken>
      <Expiration>${expiration}</Expiration>
    </Credentials>
    <SubjectFromWebIdentityToken>${verified.sub}</SubjectFromWebIdentityToken>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>${randomBytes(8).toString("hex")}</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`
        )
      }
      default:
        calls.push({ ...base, verified, rejection: "unknown role" })
        return reply(400, xmlError("InvalidParameterValue", "unknown role"))
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500)
      res.end(String(error))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    forSubject: (sub: string) => calls.filter((c) => c.verified?.sub === sub),
    stop: () =>
      new Promise<void>((resolve) => {
        for (const res of stalled) res.destroy()
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

// ---------------------------------------------------------------------------------------------------

const product = (productId: string, connectionId: string, prefix: string) => ({
  product_id: productId,
  account_id: ACCOUNT,
  title: `e2e ${productId}`,
  visibility: "public",
  disabled: false,
  data_mode: "open",
  metadata: { primary_mirror: "main", mirrors: { main: { connection_id: connectionId, prefix, storage_type: "s3" } } }
})

const connection = (id: string, details: object, authentication: object) => ({
  data_connection_id: id,
  read_only: true,
  name: id,
  details: { region: "us-east-1", base_prefix: "", ...details },
  authentication
})

describe("Bun: outbound federation (s3_web_identity_role) end to end", () => {
  const stops: Array<() => Promise<void>> = []
  let proxy: RunningProxy
  let issuer = ""
  let sts: Awaited<ReturnType<typeof startTestSts>>
  let s3Requests: ReadonlyArray<ForwardedRequest> = []
  let motoEndpoint = ""
  let activePublic: JWK

  const stopAll = async () => {
    const results = await Promise.allSettled(stops.splice(0).reverse().map((stop) => stop()))
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected")
    if (failed.length > 0) throw failed[0]!.reason
  }

  beforeAll(async () => {
    try {
      const moto = await startMoto()
      stops.push(moto.stop)
      const s3 = motoClient(moto.endpoint)
      stops.push(async () => s3.destroy())
      await seedBucket(s3, BUCKET, OBJECTS, false) // private: unsigned reads are refused
      const forwarder = await startRecordingForwarder(moto.endpoint)
      stops.push(forwarder.stop)
      s3Requests = forwarder.requests
      motoEndpoint = moto.endpoint

      const port = await freePort()
      issuer = `http://127.0.0.1:${port}`
      sts = await startTestSts(() => issuer)
      stops.push(sts.stop)

      const s3Conn = (id: string, authentication: object) =>
        connection(id, { provider: "s3", bucket: BUCKET, endpoint: forwarder.url }, authentication)
      const connections = [
        s3Conn("conn-fed", { type: "s3_web_identity_role", role_arn: ROLE_OK }),
        s3Conn("conn-fed-2", { type: "s3_web_identity_role", role_arn: ROLE_OK }),
        s3Conn("conn-fed-aud", { type: "s3_web_identity_role", role_arn: ROLE_OK, audience: CUSTOM_AUDIENCE }),
        s3Conn("conn-denied", { type: "s3_web_identity_role", role_arn: ROLE_DENIED }),
        s3Conn("conn-invalid", { type: "s3_web_identity_role", role_arn: ROLE_INVALID }),
        s3Conn("conn-stall", { type: "s3_web_identity_role", role_arn: ROLE_STALL }),
        connection("conn-az", { provider: "az", account_name: "e2eaccount", container_name: BUCKET }, {
          type: "s3_web_identity_role",
          role_arn: ROLE_OK
        }),
        connection("conn-gcs", { provider: "gcs", bucket: BUCKET, endpoint: forwarder.url }, {
          type: "s3_web_identity_role",
          role_arn: ROLE_OK
        }),
        s3Conn("conn-weird", { type: "s3_magic_role", role_arn: ROLE_OK })
      ]
      const products = [
        product("fed", "conn-fed", "fed-data/"),
        product("fed2", "conn-fed-2", "fed2-data/"),
        product("fedaud", "conn-fed-aud", "fed-data/"),
        product("denied", "conn-denied", "denied-data/"),
        product("invalid", "conn-invalid", "invalid-data/"),
        product("stall", "conn-stall", "stall-data/"),
        product("azrole", "conn-az", "az-data/"),
        product("gcsrole", "conn-gcs", "gcs-data/"),
        product("weird", "conn-weird", "weird-data/")
      ]
      const routes = catalogRoutes(ACCOUNT, products, connections)
      const api = await startSourceApi(routes)
      stops.push(api.stop)

      const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true })
      activePublic = await exportJWK(publicKey)
      proxy = await startBunProxy({
        PORT: String(port),
        SOURCE_API_URL: api.url,
        OIDC_PROVIDER_ISSUER: issuer,
        OIDC_PROVIDER_KID: KID,
        OIDC_PROVIDER_KEY: await exportPKCS8(privateKey),
        AWS_STS_ENDPOINT: sts.url,
        FEDERATION_TIMEOUT_MS: String(FEDERATION_TIMEOUT_MS),
        LOG_LEVEL: "error"
      })
      stops.push(proxy.stop)
    } catch (error) {
      await stopAll().catch(() => {})
      throw error
    }
  })

  afterAll(stopAll)

  const get = (path: string) => fetch(`${proxy.url}${path}`, { redirect: "manual" })
  const s3For = (prefix: string) => s3Requests.filter((r) => r.url.startsWith(`/${BUCKET}/`) || r.url.startsWith(`/${BUCKET}?`))
    .filter((r) => r.url.includes(prefix))
  const errorOf = async (response: Response) => ({ status: response.status, ...parseError(await response.text()) })

  it("sanity: moto refuses an unsigned read of the private bucket", async () => {
    const response = await fetch(`${motoEndpoint}/${BUCKET}/fed-data/hello.txt`)
    await response.arrayBuffer()
    expect(response.status).toBe(403)
  })

  it("GET /.well-known/openid-configuration and /.well-known/jwks.json answer 200 JSON for the configured key", async () => {
    const discovery = await get("/.well-known/openid-configuration")
    expect(discovery.status).toBe(200)
    expect(discovery.headers.get("content-type")).toMatch(/^application\/json/)
    expect(await discovery.text()).toBe(
      `{"id_token_signing_alg_values_supported":["RS256"],"issuer":"${issuer}","jwks_uri":"${issuer}/.well-known/jwks.json",`
        + `"response_types_supported":["id_token"],"subject_types_supported":["public"]}`
    )
    const jwks = await get("/.well-known/jwks.json")
    expect(jwks.status).toBe(200)
    expect(jwks.headers.get("content-type")).toMatch(/^application\/json/)
    // The provider's key first, byte-exact; then the session-token key (ES256,
    // docs/session-credentials.md#session-token).
    const text = await jwks.text()
    expect(text.startsWith(
      `{"keys":[{"alg":"RS256","e":"${activePublic.e}","kid":"${KID}","kty":"RSA","n":"${activePublic.n}","use":"sig"},`
    )).toBe(true)
    const keys = (JSON.parse(text) as { keys: Array<Record<string, string>> }).keys
    expect(keys).toHaveLength(2)
    expect(keys[1]).toMatchObject({ alg: "ES256", kty: "EC", crv: "P-256", use: "sig" })
  })

  it("reads of the federated product succeed byte-exact (boto3 unsigned, fetch), signed with the STS key and token", async () => {
    const out = await runBoto3<{ hello: unknown; blob: unknown; listed: Array<string>; ranged: unknown }>(
      `
      hello = s3.get_object(Bucket=inp["bucket"], Key="fed/hello.txt")["Body"].read()
      blob = s3.get_object(Bucket=inp["bucket"], Key="fed/blob.bin")["Body"].read()
      ranged = s3.get_object(Bucket=inp["bucket"], Key="fed/blob.bin", Range="bytes=1000-1999")["Body"].read()
      listed = [o["Key"] for o in s3.list_objects_v2(Bucket=inp["bucket"], Prefix="fed/").get("Contents", [])]
      out = {"hello": digest(hello), "blob": digest(blob), "ranged": digest(ranged), "listed": listed}
      `,
      { endpoint: proxy.url, bucket: ACCOUNT }
    )
    expect(out.hello).toStrictEqual({ sha256: sha256(HELLO), length: HELLO.length })
    expect(out.blob).toStrictEqual({ sha256: sha256(BLOB), length: BLOB.length })
    expect(out.ranged).toStrictEqual({ sha256: sha256(BLOB.subarray(1000, 2000)), length: 1000 })
    expect(out.listed).toStrictEqual(["fed/blob.bin", "fed/dir/nested.txt", "fed/hello.txt"])

    const response = await get(`/${ACCOUNT}/fed/blob.bin`)
    expect(response.status).toBe(200)
    expect(sha256(new Uint8Array(await response.arrayBuffer()))).toBe(sha256(BLOB))

    const minted = sts.forSubject("scv1:conn:conn-fed")
    expect(minted).toHaveLength(1)
    const issued = minted[0]!.issued!
    const sent = s3For("fed-data")
    expect(sent.length).toBeGreaterThanOrEqual(5)
    for (const request of sent) {
      expect(String(request.headers.authorization)).toMatch(
        new RegExp(`^AWS4-HMAC-SHA256 Credential=${issued.accessKeyId}/\\d{8}/us-east-1/s3/aws4_request, SignedHeaders=[^,]*x-amz-security-token`)
      )
      expect(request.headers["x-amz-security-token"]).toBe(issued.sessionToken)
    }
  })

  it("20 reads → still one STS call for the connection", async () => {
    const before = sts.forSubject("scv1:conn:conn-fed").length
    expect(before).toBe(1)
    const statuses = await Promise.all(Array.from({ length: 20 }, async (_, i) => {
      const response = await get(`/${ACCOUNT}/fed/${i % 2 === 0 ? "hello.txt" : "dir/nested.txt"}`)
      await response.arrayBuffer()
      return response.status
    }))
    expect(statuses).toStrictEqual(Array.from({ length: 20 }, () => 200))
    expect(sts.forSubject("scv1:conn:conn-fed")).toHaveLength(1)
  })

  it("the STS verified every token for real: discovery and JWKS from the proxy, RS256, iss, aud, sub, kid", () => {
    const ok = sts.forSubject("scv1:conn:conn-fed")[0]!
    expect(ok.verified).toStrictEqual({ iss: issuer, sub: "scv1:conn:conn-fed", aud: "sts.amazonaws.com", kid: KID })
    expect(ok.roleArn).toBe(ROLE_OK)
    expect(ok.roleSessionName).toBe("scv1_conn_conn-fed")
    expect(ok.params).toStrictEqual(["Action", "RoleArn", "RoleSessionName", "Version", "WebIdentityToken"])
    expect(sts.calls.filter((c) => c.rejection !== undefined)).toStrictEqual([])
  })

  it("the test STS is not a rubber stamp: a token from another key under the proxy's kid is refused", async () => {
    const forger = await generateKeyPair("RS256")
    const now = Math.floor(Date.now() / 1000)
    const forged = await new SignJWT({}).setProtectedHeader({ alg: "RS256", kid: KID, typ: "JWT" }).setIssuer(issuer)
      .setSubject("scv1:conn:conn-fed").setAudience("sts.amazonaws.com").setIssuedAt(now).setExpirationTime(now + 60)
      .sign(forger.privateKey)
    const response = await fetch(sts.url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        Action: "AssumeRoleWithWebIdentity",
        Version: "2011-06-15",
        RoleArn: ROLE_OK,
        RoleSessionName: "scv1_conn_conn-fed",
        WebIdentityToken: forged
      })
    })
    expect(response.status).toBe(400)
    expect(await response.text()).toContain("<Code>InvalidIdentityToken</Code>")
    expect(sts.calls.at(-1)?.rejection).toMatch(/signature/i)
    sts.calls.pop() // keep the record of the proxy's own calls clean
  })

  it("two connections sharing one role get separate STS calls with their own subjects and credentials", async () => {
    const response = await get(`/${ACCOUNT}/fed2/other.txt`)
    expect(response.status).toBe(200)
    expect(await response.text()).toBe("second connection\n")
    const first = sts.forSubject("scv1:conn:conn-fed")
    const second = sts.forSubject("scv1:conn:conn-fed-2")
    expect(first).toHaveLength(1)
    expect(second).toHaveLength(1)
    expect(second[0]!.roleArn).toBe(first[0]!.roleArn)
    expect(second[0]!.roleSessionName).toBe("scv1_conn_conn-fed-2")
    const key2 = second[0]!.issued!.accessKeyId
    expect(key2).not.toBe(first[0]!.issued!.accessKeyId)
    const sent = s3For("fed2-data")
    expect(sent.length).toBeGreaterThanOrEqual(1)
    for (const request of sent) {
      expect(String(request.headers.authorization)).toContain(`Credential=${key2}/`)
      expect(request.headers["x-amz-security-token"]).toBe(second[0]!.issued!.sessionToken)
    }
  })

  it("a connection's audience is the token's aud", async () => {
    const response = await get(`/${ACCOUNT}/fedaud/hello.txt`)
    expect(response.status).toBe(200)
    expect(await response.text()).toBe(HELLO)
    expect(sts.forSubject("scv1:conn:conn-fed-aud").map((c) => c.verified?.aud)).toStrictEqual([CUSTOM_AUDIENCE])
  })

  it("STS AccessDenied → 403 AccessDenied XML (fetch and boto3), and no backend request", async () => {
    expect(await errorOf(await get(`/${ACCOUNT}/denied/secret.txt`))).toMatchObject({ status: 403, Code: "AccessDenied" })
    const out = await runBoto3<unknown>(
      `
      try:
          s3.get_object(Bucket=inp["bucket"], Key="denied/secret.txt")
          out = "no error"
      except ClientError as e:
          out = error_of(e)
      `,
      { endpoint: proxy.url, bucket: ACCOUNT }
    )
    expect(out).toStrictEqual({ code: "AccessDenied", status: 403 })
    expect(sts.forSubject("scv1:conn:conn-denied").length).toBeGreaterThanOrEqual(1)
    expect(s3For("denied-data")).toStrictEqual([])
  })

  it("STS InvalidIdentityToken → 502 BackendAuthenticationFailed naming the code, and no backend request", async () => {
    const error = await errorOf(await get(`/${ACCOUNT}/invalid/secret.txt`))
    expect(error).toMatchObject({ status: 502, Code: "BackendAuthenticationFailed" })
    expect(error.Message).toBe("Failed to obtain backend credentials: InvalidIdentityToken")
    expect(s3For("invalid-data")).toStrictEqual([])
  })

  it("an STS that stalls → 503 ServiceUnavailable, bounded by FEDERATION_TIMEOUT_MS", async () => {
    const started = Date.now()
    const error = await errorOf(await get(`/${ACCOUNT}/stall/secret.txt`))
    const elapsed = Date.now() - started
    expect(error).toMatchObject({ status: 503, Code: "ServiceUnavailable" })
    expect(elapsed).toBeGreaterThanOrEqual(FEDERATION_TIMEOUT_MS - 100)
    expect(elapsed).toBeLessThan(TIMEOUT_BOUND_MS)
    expect(s3For("stall-data")).toStrictEqual([])
    // the federated product next to it is unaffected
    const ok = await get(`/${ACCOUNT}/fed/hello.txt`)
    expect([ok.status, await ok.text()]).toStrictEqual([200, HELLO])
  })

  it("s3_web_identity_role on an Azure connection → 502 BackendAuthenticationFailed (fail closed), nothing sent", async () => {
    const error = await errorOf(await get(`/${ACCOUNT}/azrole/secret.txt`))
    expect(error).toMatchObject({ status: 502, Code: "BackendAuthenticationFailed" })
    expect(error.Message).toBe("Failed to obtain backend credentials: ProviderMismatch")
    expect(sts.forSubject("scv1:conn:conn-az")).toStrictEqual([])
    expect(s3For("az-data")).toStrictEqual([])
  })

  it("s3_web_identity_role on a GCS connection → 502 BackendAuthenticationFailed ProviderMismatch, nothing sent", async () => {
    const error = await errorOf(await get(`/${ACCOUNT}/gcsrole/secret.txt`))
    expect(error).toMatchObject({ status: 502, Code: "BackendAuthenticationFailed" })
    expect(error.Message).toBe("Failed to obtain backend credentials: ProviderMismatch")
    expect(sts.forSubject("scv1:conn:conn-gcs")).toStrictEqual([])
    expect(s3For("gcs-data")).toStrictEqual([])
  })

  it("an unknown auth type on s3 → 502 BackendAuthenticationFailed UnsupportedAuthType, never an unsigned read", async () => {
    const error = await errorOf(await get(`/${ACCOUNT}/weird/secret.txt`))
    expect(error).toMatchObject({ status: 502, Code: "BackendAuthenticationFailed" })
    expect(error.Message).toBe("Failed to obtain backend credentials: UnsupportedAuthType")
    const listing = await errorOf(await get(`/${ACCOUNT}?list-type=2&prefix=weird/`))
    expect(listing).toMatchObject({ status: 502, Code: "BackendAuthenticationFailed" })
    expect(s3For("weird-data")).toStrictEqual([])
  })

  it("the proxy never sent an unsigned request to the private bucket", () => {
    const unsigned = s3Requests.filter((r) => r.headers.authorization === undefined)
    expect(unsigned.map((r) => r.url)).toStrictEqual([])
    // every signed request carried a session token issued by the test STS for an s3 connection
    const tokens = new Set(sts.calls.flatMap((c) => (c.issued === undefined ? [] : [c.issued.sessionToken])))
    for (const request of s3Requests) expect(tokens.has(String(request.headers["x-amz-security-token"]))).toBe(true)
  })
})
