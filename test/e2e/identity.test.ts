import { createHash, createHmac, randomBytes, randomUUID } from "node:crypto"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3"
import { AwsClient } from "aws4fetch"
import { createLocalJWKSet, decodeJwt, exportPKCS8, generateKeyPair, type JSONWebKeySet, jwtVerify, SignJWT } from "jose"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { run, runAws, runBoto3 } from "./harness/clients.js"
import { startMoto, type RunningMoto } from "./harness/moto.js"
import { makeKey, nowSeconds, signToken, startIssuer, type TestIssuer, type TestKey } from "./harness/oidcIssuer.js"
import { freePort, sleep } from "../fakes/processes.js"
import { REPO_ROOT, type RunningProxy, startBunProxy } from "./harness/proxy.js"
import { motoClient, seedBucket } from "./harness/s3.js"
import { startRecordingForwarder } from "./harness/servers.js"
import { type RunningSourceApi, startSourceApi } from "./harness/sourceApi.js"
import { parseError } from "./harness/xml.js"

/**
 * Identity end to end (issue: session credentials on S3 requests): a test OIDC issuer, `/.sts` on the Bun
 * proxy, then signed reads of a RESTRICTED product with boto3, aws-cli and the JS SDK, presigned URLs over
 * plain HTTP, every credential failure with its S3 error, and the `bun run dev` + `bun run api-key` flow.
 */

const ACCOUNT = "acme"
const PUBLIC = "open"
const RESTRICTED = "restricted"
const BUCKET = "e2e-identity-data"
const CONNECTION = "conn-identity"
const AUDIENCE = "e2e-identity.source.coop"
const ROLE = `arn:aws:iam::${ACCOUNT}:role/_default`
const PROXY_ISSUER = "http://127.0.0.1:1" // the proxy's own issuer: its keys are read in-process
const SESSION_KID = "e2e-session-1"
const PROVIDER_KID = "e2e-provider-1"
const SESSION_TOKEN_KEY = randomBytes(32).toString("base64")

const HELLO = "hello from an open product\n"
const SECRET = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 131 + (i >> 7)) & 255)
const NESTED = "nested and restricted\n"
const OBJECTS: Record<string, Uint8Array | string> = {
  "open-data/hello.txt": HELLO,
  "restricted-data/secret.bin": SECRET,
  "restricted-data/dir/nested.txt": NESTED
}

const product = (productId: string, prefix: string, visibility: "public" | "restricted") => ({
  product_id: productId,
  account_id: ACCOUNT,
  title: `e2e ${productId}`,
  visibility,
  disabled: false,
  data_mode: "open",
  metadata: { primary_mirror: "main", mirrors: { main: { connection_id: CONNECTION, prefix, storage_type: "s3" } } }
})

interface Creds {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken?: string
}

let moto: RunningMoto
let api: RunningSourceApi
let issuer: TestIssuer
let userKey: TestKey
let sessionSigningKey: CryptoKey
let proxy: RunningProxy
let revocationsDb: string
let workDir: string
/** Session credentials from `/.sts` (plain HTTP), shared by the client sections. */
let session: Creds

const userToken = () => signToken(userKey, { iss: issuer.url, aud: AUDIENCE, sub: "user-42" })

/** AssumeRoleWithWebIdentity over plain HTTP (a POST form, as botocore sends). */
const assume = async (sessionName = "e2e"): Promise<Required<Creds>> => {
  const response = await fetch(`${proxy.url}/.sts`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8" },
    body: new URLSearchParams({
      Action: "AssumeRoleWithWebIdentity",
      Version: "2011-06-15",
      RoleArn: ROLE,
      RoleSessionName: sessionName,
      WebIdentityToken: await userToken()
    }).toString()
  })
  const body = await response.text()
  expect(response.status, body).toBe(200)
  const tag = (name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(body)![1]!
  return { accessKeyId: tag("AccessKeyId"), secretAccessKey: tag("SecretAccessKey"), sessionToken: tag("SessionToken") }
}

interface Answer {
  readonly status: number
  readonly body: Uint8Array
  readonly code: string | undefined
  readonly message: string | undefined
}

const answerOf = async (response: Response): Promise<Answer> => {
  const body = new Uint8Array(await response.arrayBuffer())
  const error = response.status >= 300 && body.length > 0 ? parseError(Buffer.from(body).toString()) : undefined
  return { status: response.status, body, code: error?.Code, message: error?.Message }
}

/** A GET signed with aws4fetch (header auth, session token in X-Amz-Security-Token), optionally at a fixed time. */
const signedGet = async (creds: Creds, path: string, datetime?: string): Promise<Answer> => {
  const client = new AwsClient({ ...creds, service: "s3", region: "us-east-1", retries: 0 })
  const request = await client.sign(`${proxy.url}${path}`, { method: "GET", aws: datetime === undefined ? {} : { datetime } })
  return answerOf(await fetch(request))
}

const SECRET_PATH = `/${ACCOUNT}/${RESTRICTED}/secret.bin`

/** The secret of a session access key id, as the proxy derives it: HMAC-SHA256(SESSION_TOKEN_KEY, id), base64url. */
const secretOf = (accessKeyId: string) =>
  createHmac("sha256", Buffer.from(SESSION_TOKEN_KEY, "base64")).update(accessKeyId).digest("base64url")

/** Session credentials signed here with the proxy's session key: the claims of `template`, new id, times and jti. */
const forgeSession = async (template: string, times: { iat: number; exp: number }): Promise<Required<Creds>> => {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
  const accessKeyId = `SCSTS1${Array.from(randomBytes(20), (b) => alphabet[b % alphabet.length]).join("")}`
  const sessionToken = await new SignJWT({
    ...decodeJwt(template),
    access_key_id: accessKeyId,
    iat: times.iat,
    nbf: times.iat,
    exp: times.exp,
    jti: randomUUID()
  }).setProtectedHeader({ alg: "ES256", kid: SESSION_KID, typ: "JWT" }).sign(sessionSigningKey)
  return { accessKeyId, secretAccessKey: secretOf(accessKeyId), sessionToken }
}

/** The environment of a proxy CLI (`bun run revoke`, `bun run api-key`): no inherited proxy settings. */
const cliEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(OIDC_PROVIDER|SESSION|AUTH|AWS|FEDERATION|PLATFORM)_|^(PORT|HOST|DEV_KEYS|REVOCATIONS_DB|SOURCE_API_URL|CATALOG)$/.test(name)) {
      env[name] = value
    }
  }
  return { ...env, ...extra }
}

/** A HOME of its own, so aws-cli's `~/.aws/cli/cache` of web-identity credentials starts empty. */
const freshHome = () => mkdtempSync(join(workDir, "home-"))

const sameBytes = (actual: Uint8Array, expected: Uint8Array | string) =>
  expect(Buffer.compare(Buffer.from(actual), Buffer.from(expected))).toBe(0)

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), "sdp-e2e-identity-"))
  revocationsDb = join(workDir, "revocations.sqlite")
  const [sessionPair, providerPair] = await Promise.all([
    generateKeyPair("ES256", { extractable: true }),
    generateKeyPair("RS256", { modulusLength: 2048, extractable: true })
  ])
  sessionSigningKey = sessionPair.privateKey
  userKey = await makeKey("RS256", "user-key-1")
  ;[moto, issuer] = await Promise.all([startMoto(), startIssuer([userKey])])
  await seedBucket(motoClient(moto.endpoint), BUCKET, OBJECTS, true)
  const open = product(PUBLIC, "open-data/", "public")
  const restricted = product(RESTRICTED, "restricted-data/", "restricted")
  api = await startSourceApi({
    [`/api/v1/products/${ACCOUNT}`]: { body: { products: [open] } },
    [`/api/v1/products/${ACCOUNT}/${PUBLIC}`]: { body: open },
    // As the Source API: a restricted product is only there for a caller that says who it is.
    [`/api/v1/products/${ACCOUNT}/${RESTRICTED}`]: (_call, request) =>
      /^Bearer \S+$/.test(request.headers.authorization ?? "") ? { body: restricted } : { status: 404, body: {} },
    // The account's permissions on it (docs/authorization.md#principal-permissions), asked for a non-public
    // product: members read.
    [`/api/v1/products/${ACCOUNT}/${RESTRICTED}/permissions`]: (_call, request) =>
      /^Bearer \S+$/.test(request.headers.authorization ?? "") ? { body: ["read"] } : { status: 401, body: {} },
    [`/api/v1/data-connections/${CONNECTION}`]: {
      body: {
        data_connection_id: CONNECTION,
        read_only: true,
        name: CONNECTION,
        details: { provider: "s3", region: "us-east-1", base_prefix: "", bucket: BUCKET, endpoint: moto.endpoint }
      }
    }
  })
  proxy = await startBunProxy({
    SOURCE_API_URL: api.url,
    AUTH_ISSUER: issuer.url,
    AUTH_AUDIENCE: AUDIENCE,
    OIDC_PROVIDER_ISSUER: PROXY_ISSUER,
    OIDC_PROVIDER_KID: PROVIDER_KID,
    OIDC_PROVIDER_KEY: await exportPKCS8(providerPair.privateKey),
    SESSION_SIGNING_KID: SESSION_KID,
    SESSION_SIGNING_KEY: await exportPKCS8(sessionPair.privateKey),
    SESSION_TOKEN_KEY,
    REVOCATIONS_DB: revocationsDb
  })
  session = await assume("shared")
})

afterAll(async () => {
  await proxy?.stop()
  await api?.stop()
  await issuer?.stop()
  await moto?.stop()
})

describe("signed reads of a restricted product", () => {
  it("boto3: STS, then get/head/list of public and restricted objects, list_buckets; anonymous still refused", async () => {
    const out = await runBoto3<Record<string, unknown>>(`
      sts = boto3.client("sts", endpoint_url=inp["endpoint"] + "/.sts", region_name="us-east-1")
      c = sts.assume_role_with_web_identity(RoleArn=inp["role"], RoleSessionName="boto3", WebIdentityToken=inp["token"])["Credentials"]
      signed = boto3.client("s3", endpoint_url=inp["endpoint"], region_name="us-east-1",
          aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"],
          config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"}))
      pub = signed.get_object(Bucket="acme", Key="open/hello.txt")["Body"].read()
      sec = signed.get_object(Bucket="acme", Key="restricted/secret.bin")["Body"].read()
      head = signed.head_object(Bucket="acme", Key="restricted/secret.bin")
      listed = signed.list_objects_v2(Bucket="acme", Prefix="restricted/")
      buckets = signed.list_buckets()
      anonymous = []
      for call in [lambda: s3.get_object(Bucket="acme", Key="restricted/secret.bin"),
                   lambda: s3.head_object(Bucket="acme", Key="restricted/secret.bin"),
                   lambda: s3.list_objects_v2(Bucket="acme", Prefix="restricted/")]:
          try:
              call()
              anonymous.append({"ok": True})
          except ClientError as e:
              anonymous.append(error_of(e))
      out = {"akid": c["AccessKeyId"], "pub": base64.b64encode(pub).decode(), "sec": digest(sec),
             "headLength": head["ContentLength"], "keys": [o["Key"] for o in listed.get("Contents", [])],
             "buckets": [b["Name"] for b in buckets["Buckets"]], "owner": buckets["Owner"]["ID"], "anonymous": anonymous}
    `, { endpoint: proxy.url, role: ROLE, token: await userToken() })
    expect(out["akid"]).toMatch(/^SCSTS1[A-Z0-9]{16,}$/)
    expect(Buffer.from(out["pub"] as string, "base64").toString()).toBe(HELLO)
    expect(out["sec"]).toStrictEqual({ sha256: createHash("sha256").update(SECRET).digest("hex"), length: SECRET.length })
    expect(out["headLength"]).toBe(SECRET.length)
    expect(out["keys"]).toStrictEqual([`${RESTRICTED}/dir/nested.txt`, `${RESTRICTED}/secret.bin`])
    expect(out["buckets"]).toStrictEqual([ACCOUNT])
    expect(out["owner"]).toBe(ACCOUNT)
    for (const refusal of out["anonymous"] as Array<{ status?: number }>) expect([403, 404]).toContain(refusal.status)
  })

  it("the Source API got a bearer from the proxy's issuer: sub = the signed-in user (a _default session), account_id, role, assumed_by, aud = SOURCE_API_URL", async () => {
    const bearers = api.requests
      .filter((r) => r.path === `/api/v1/products/${ACCOUNT}/${RESTRICTED}`)
      .map((r) => r.headers.authorization)
      .filter((h): h is string => h !== undefined)
    expect(bearers.length).toBeGreaterThan(0)
    const jwks = await (await fetch(`${proxy.url}/.well-known/jwks.json`)).json() as JSONWebKeySet
    const { payload, protectedHeader } = await jwtVerify(bearers[0]!.replace(/^Bearer /, ""), createLocalJWKSet(jwks), {
      issuer: PROXY_ISSUER,
      audience: api.url,
      algorithms: ["RS256"]
    })
    expect(protectedHeader.kid).toBe(PROVIDER_KID)
    expect(payload).toMatchObject({ sub: "user-42", account_id: ACCOUNT, role: "_default", assumed_by: "user-42", assumed_by_issuer: issuer.url })
    // Anonymous lookups carry none.
    expect(api.requests.some((r) => r.path === `/api/v1/products/${ACCOUNT}/${RESTRICTED}` && r.headers.authorization === undefined))
      .toBe(true)
  })

  it("aws-cli with env credentials: s3 ls and s3 cp - (byte-exact)", async () => {
    const env = {
      AWS_ACCESS_KEY_ID: session.accessKeyId,
      AWS_SECRET_ACCESS_KEY: session.secretAccessKey,
      AWS_SESSION_TOKEN: session.sessionToken!
    }
    const ls = await runAws(["s3", "ls", `s3://${ACCOUNT}/${RESTRICTED}/`, "--endpoint-url", proxy.url], 30_000, env)
    expect(ls.status, ls.stderr).toBe(0)
    const listing = ls.stdout.toString()
    expect(listing).toMatch(/PRE dir\//)
    expect(listing).toMatch(new RegExp(`\\s${SECRET.length} secret\\.bin`))
    const cp = await runAws(["s3", "cp", `s3://${ACCOUNT}/${RESTRICTED}/secret.bin`, "-", "--endpoint-url", proxy.url], 30_000, env)
    expect(cp.status, cp.stderr).toBe(0)
    sameBytes(cp.stdout, SECRET)
  })

  it("aws-cli, SDK-native: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN + AWS_ENDPOINT_URL_STS, then s3 ls", async () => {
    const tokenFile = join(workDir, "user.token")
    writeFileSync(tokenFile, await userToken())
    const recorder = await startRecordingForwarder(proxy.url)
    try {
      // As documented (`…/.sts`) and with a trailing slash: aws-cli v1 posts the form to the path as given.
      for (const sts of ["/.sts", "/.sts/"]) {
        const ls = await runAws(["s3", "ls", `s3://${ACCOUNT}/${RESTRICTED}/`], 30_000, {
          HOME: freshHome(), // or aws-cli answers from its credential cache and never calls STS
          AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
          AWS_ROLE_ARN: ROLE,
          AWS_ENDPOINT_URL_STS: `${recorder.url}${sts}`,
          AWS_ENDPOINT_URL: proxy.url
        })
        expect(ls.status, ls.stderr).toBe(0)
        expect(ls.stdout.toString()).toContain("secret.bin")
      }
      expect(recorder.requests.map((r) => `${r.method} ${r.url}`)).toStrictEqual(["POST /.sts", "POST /.sts/"])
    } finally {
      await recorder.stop()
    }
  })

  it("@aws-sdk/client-s3 (default flexible checksums): GetObject, ListObjectsV2, HeadObject", async () => {
    const client = new S3Client({
      endpoint: proxy.url,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: session.accessKeyId, secretAccessKey: session.secretAccessKey, sessionToken: session.sessionToken! },
      maxAttempts: 1
    })
    const sent: Array<{ headers: Record<string, string>; query: Record<string, unknown> }> = []
    client.middlewareStack.add(
      (next) => (args) => {
        const request = args.request as { headers: Record<string, string>; query: Record<string, unknown> }
        sent.push({ headers: { ...request.headers }, query: { ...request.query } })
        return next(args)
      },
      { step: "deserialize", name: "e2eRecordSent" }
    )
    try {
      const got = await client.send(new GetObjectCommand({ Bucket: ACCOUNT, Key: `${RESTRICTED}/secret.bin` }))
      sameBytes(await got.Body!.transformToByteArray(), SECRET)
      expect(sent[0]!.headers["x-amz-checksum-mode"]).toBe("ENABLED")
      expect(sent[0]!.query["x-id"]).toBe("GetObject")
      expect(sent[0]!.headers["x-amz-security-token"]).toBe(session.sessionToken)
      const listed = await client.send(new ListObjectsV2Command({ Bucket: ACCOUNT, Prefix: `${RESTRICTED}/` }))
      expect(listed.Contents?.map((o) => o.Key)).toStrictEqual([`${RESTRICTED}/dir/nested.txt`, `${RESTRICTED}/secret.bin`])
      const head = await client.send(new HeadObjectCommand({ Bucket: ACCOUNT, Key: `${RESTRICTED}/dir/nested.txt` }))
      expect(head.ContentLength).toBe(NESTED.length)
    } finally {
      client.destroy()
    }
  })
})

describe("presigned URLs over plain HTTP", () => {
  it("good → 200 bytes; tampered signature → SignatureDoesNotMatch; expired → AccessDenied 'Request has expired'", async () => {
    const urls = await runBoto3<{ good: string; short: string }>(`
      signed = boto3.client("s3", endpoint_url=inp["endpoint"], region_name="us-east-1",
          aws_access_key_id=inp["akid"], aws_secret_access_key=inp["secret"], aws_session_token=inp["token"],
          config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
      params = {"Bucket": "acme", "Key": "restricted/secret.bin"}
      out = {"good": signed.generate_presigned_url("get_object", Params=params, ExpiresIn=300),
             "short": signed.generate_presigned_url("get_object", Params=params, ExpiresIn=1)}
    `, { endpoint: proxy.url, akid: session.accessKeyId, secret: session.secretAccessKey, token: session.sessionToken })
    expect(new URL(urls.good).searchParams.get("X-Amz-Security-Token")).toBe(session.sessionToken)

    const good = await answerOf(await fetch(urls.good))
    expect(good.status).toBe(200)
    sameBytes(good.body, SECRET)

    const tampered = urls.good.replace(/(X-Amz-Signature=[0-9a-f]*)([0-9a-f])/, (_, head: string, last: string) =>
      `${head}${last === "0" ? "1" : "0"}`)
    expect(tampered).not.toBe(urls.good)
    const bad = await answerOf(await fetch(tampered))
    expect([bad.status, bad.code]).toStrictEqual([403, "SignatureDoesNotMatch"])

    await sleep(2_100)
    const expired = await answerOf(await fetch(urls.short))
    expect([expired.status, expired.code, expired.message]).toStrictEqual([403, "AccessDenied", "Request has expired"])
  })
})

describe("credential failures answer the right S3 error", () => {
  it("wrong secret, tampered/mismatched/missing/expired/revoked session token, skewed clock; then a good request works", async () => {
    const good = await signedGet(session, SECRET_PATH)
    expect(good.status).toBe(200)
    sameBytes(good.body, SECRET)

    const wrongSecret = await signedGet({ ...session, secretAccessKey: `${session.secretAccessKey.slice(0, -1)}x` }, SECRET_PATH)
    expect([wrongSecret.status, wrongSecret.code]).toStrictEqual([403, "SignatureDoesNotMatch"])

    const [header, payload, signature] = session.sessionToken!.split(".") as [string, string, string]
    const otherAccount = Buffer.from(JSON.stringify({ ...decodeJwt(session.sessionToken!), account_id: "someone-else" }))
      .toString("base64url")
    const tamperedPayload = await signedGet({ ...session, sessionToken: `${header}.${otherAccount}.${signature}` }, SECRET_PATH)
    expect([tamperedPayload.status, tamperedPayload.code]).toStrictEqual([400, "InvalidToken"])
    const flipped = `${signature.slice(0, 10)}${signature[10] === "A" ? "B" : "A"}${signature.slice(11)}`
    const tamperedSignature = await signedGet({ ...session, sessionToken: `${header}.${payload}.${flipped}` }, SECRET_PATH)
    expect([tamperedSignature.status, tamperedSignature.code]).toStrictEqual([400, "InvalidToken"])

    const other = await assume("other")
    const mixed = await signedGet({ ...session, sessionToken: other.sessionToken }, SECRET_PATH)
    expect([mixed.status, mixed.code]).toStrictEqual([400, "InvalidToken"])

    const noToken = await signedGet({ accessKeyId: session.accessKeyId, secretAccessKey: session.secretAccessKey }, SECRET_PATH)
    expect([noToken.status, noToken.code]).toStrictEqual([400, "InvalidToken"])

    // Sessions signed here with the proxy's keys: a current one reads (the forging is right), an expired one does not.
    const current = await forgeSession(session.sessionToken!, { iat: nowSeconds() - 60, exp: nowSeconds() + 900 })
    expect((await signedGet(current, SECRET_PATH)).status).toBe(200)
    const old = await forgeSession(session.sessionToken!, { iat: nowSeconds() - 7200, exp: nowSeconds() - 3600 })
    const expired = await signedGet(old, SECRET_PATH)
    expect([expired.status, expired.code]).toStrictEqual([400, "ExpiredToken"])

    const doomed = await assume("doomed")
    expect((await signedGet(doomed, SECRET_PATH)).status).toBe(200)
    const revoke = await run("bun", [join(REPO_ROOT, "src/platform/bun/cli/revoke.ts"), doomed.sessionToken], {
      env: cliEnv({ REVOCATIONS_DB: revocationsDb }),
      timeoutMs: 20_000
    })
    expect(revoke.status, revoke.stderr).toBe(0)
    expect(revoke.stderr).toContain(`revoked ${String(decodeJwt(doomed.sessionToken).jti)}`)
    const revoked = await signedGet(doomed, SECRET_PATH)
    expect([revoked.status, revoked.code]).toStrictEqual([400, "InvalidToken"])

    const skewedAt = new Date(Date.now() - 20 * 60_000).toISOString().replace(/[:-]|\.\d{3}/g, "")
    const skewed = await signedGet(session, SECRET_PATH, skewedAt)
    expect([skewed.status, skewed.code]).toStrictEqual([403, "RequestTimeTooSkewed"])

    const still = await signedGet(session, SECRET_PATH)
    expect(still.status).toBe(200)
    sameBytes(still.body, SECRET)
    expect((await signedGet(other, `/${ACCOUNT}/${PUBLIC}/hello.txt`)).status).toBe(200)
  })
})

describe("bun run dev, from a fresh checkout", () => {
  it("embedded catalog + dev keys: `bun run api-key demo` → SDK-native boto3 and aws-cli read demo/private", async () => {
    const port = await freePort()
    const devKeys = join(workDir, "dev-keys.json") // does not exist yet: generated as on a fresh clone
    const dev = await startBunProxy({ PORT: String(port), HOST: "127.0.0.1", DEV_KEYS: devKeys, REVOCATIONS_DB: join(workDir, "dev.sqlite") })
    try {
      expect(dev.url).toBe(`http://127.0.0.1:${port}`)
      const minted = await run("bun", [join(REPO_ROOT, "src/platform/bun/cli/apiKey.ts"), "demo"], {
        env: cliEnv({ DEV_KEYS: devKeys, PORT: String(port), HOST: "127.0.0.1" }),
        timeoutMs: 20_000
      })
      expect(minted.status, minted.stderr).toBe(0)
      const apiKey = minted.stdout.toString().trim()
      expect(decodeJwt(apiKey)).toMatchObject({ sub: "demo", type: "api_key", iss: dev.url, aud: `${dev.url}/.sts` })
      const tokenFile = join(workDir, "demo.token")
      writeFileSync(tokenFile, apiKey)
      const expected = readFileSync(join(REPO_ROOT, "sample/data/demo/private/secret.txt"))

      const anonymous = await fetch(`${dev.url}/demo/private/secret.txt`)
      await anonymous.arrayBuffer()
      expect(anonymous.status).toBe(403)

      const out = await runBoto3<{ method: string; akid: string; body: string }>(`
        import os
        os.environ["AWS_WEB_IDENTITY_TOKEN_FILE"] = inp["tokenFile"]
        os.environ["AWS_ROLE_ARN"] = "arn:aws:iam::demo:role/_default"
        os.environ["AWS_ENDPOINT_URL_STS"] = inp["endpoint"] + "/.sts"
        session = boto3.Session()
        creds = session.get_credentials()
        demo = session.client("s3", endpoint_url=inp["endpoint"],
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"}))
        body = demo.get_object(Bucket="demo", Key="private/secret.txt")["Body"].read()
        out = {"method": creds.method, "akid": creds.get_frozen_credentials().access_key, "body": base64.b64encode(body).decode()}
      `, { endpoint: dev.url, tokenFile })
      expect(out.method).toBe("assume-role-with-web-identity")
      expect(out.akid).toMatch(/^SCSTS1/)
      sameBytes(Buffer.from(out.body, "base64"), expected)

      const ls = await runAws(["s3", "ls", "s3://demo/private/"], 30_000, {
        HOME: freshHome(),
        AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
        AWS_ROLE_ARN: "arn:aws:iam::demo:role/_default",
        AWS_ENDPOINT_URL_STS: `${dev.url}/.sts`,
        AWS_ENDPOINT_URL: dev.url
      })
      expect(ls.status, ls.stderr).toBe(0)
      expect(ls.stdout.toString()).toMatch(new RegExp(`\\s${expected.length} secret\\.txt`))
    } finally {
      await dev.stop()
    }
  })
})
