/**
 * Writes through the Worker bundle in workerd: moto as the backend, a Source API stand-in (product
 * `acme/rw` on a writable `s3_access_key` connection, `read`+`write` for bearer callers), session
 * credentials from the Worker's own `/.sts` in exchange for an API key minted here with the Worker's
 * OIDC key, then boto3 writing through the Worker. The single PUT streams its body to S3 through
 * workerd's FixedLengthStream (src/layers/FetchUpstream.ts): a recording forwarder between the Worker and
 * moto shows the request carried Content-Length (no Transfer-Encoding), and moto holds exactly the bytes.
 */
import { createHash, randomBytes } from "node:crypto"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { HeadObjectCommand, type S3Client, type S3ServiceException } from "@aws-sdk/client-s3"
import { exportPKCS8, generateKeyPair, SignJWT } from "jose"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { runBoto3 } from "../e2e/harness/clients.js"
import { type RunningMoto, startMoto } from "../e2e/harness/moto.js"
import { motoClient, readFromMoto, seedBucket } from "../e2e/harness/s3.js"
import { type ForwardedRequest, type RunningServer, startRecordingForwarder } from "../e2e/harness/servers.js"
import { type RunningSourceApi, startSourceApi } from "../e2e/harness/sourceApi.js"
import { parseError } from "../e2e/harness/xml.js"
import { type RunningWorkerd, startWorkerdProxy } from "./harness.js"

const ACCOUNT = "acme"
const BUCKET = "workerd-writes"
const PREFIX = "rw-data/"
const CONN = "conn-workerd-rw"
/** Any https URL: the API-key IdP checks the Worker's own issuer in-process, nothing fetches it. */
const ISSUER = "https://workerd-writes.test.source.coop"
const KID = "workerd-writes-1"
const ANON_KEY = "anon.txt"
const ANON_BODY = "original anon"

const product = {
  product_id: "rw",
  account_id: ACCOUNT,
  title: "workerd rw",
  visibility: "public",
  disabled: false,
  data_mode: "open",
  metadata: { primary_mirror: "main", mirrors: { main: { connection_id: CONN, prefix: PREFIX, storage_type: "s3" } } }
}

const connection = (endpoint: string) => ({
  data_connection_id: CONN,
  read_only: false,
  name: CONN,
  details: { provider: "s3", region: "us-east-1", base_prefix: "", bucket: BUCKET, endpoint },
  // moto does not check signatures: stored credentials are enough to make the connection writable.
  authentication: { type: "s3_access_key", access_key_id: "testing", secret_access_key: "testing" }
})

interface Creds {
  readonly akid: string
  readonly secret: string
  readonly token: string
}

let moto: RunningMoto
let motoS3: S3Client
/** Between the Worker and moto: records what the Worker sends to S3. */
let forwarder: RunningServer & { readonly requests: ReadonlyArray<ForwardedRequest> }
let api: RunningSourceApi
let worker: RunningWorkerd
let workDir: string
let creds: Creds
let oidcKey: CryptoKey

const sha256 = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex")

/** The object's bytes in moto, or undefined when it is not there. */
const inMoto = async (key: string): Promise<Buffer | undefined> => {
  try {
    return Buffer.from(await readFromMoto(motoS3, BUCKET, key))
  } catch (e) {
    if ((e as S3ServiceException).$metadata?.httpStatusCode === 404) return undefined
    throw e
  }
}

/** An API key as `bun run api-key` mints it (src/platform/bun/cli/apiKey.ts), signed with the Worker's OIDC key. */
const mintApiKey = (account: string) => {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({ type: "api_key", account_id: account })
    .setProtectedHeader({ alg: "RS256", kid: KID, typ: "JWT" })
    .setIssuer(ISSUER)
    .setSubject(account)
    .setAudience(`${ISSUER}/.sts`)
    .setIssuedAt(now)
    .setExpirationTime(now + 600)
    .setJti(crypto.randomUUID())
    .sign(oidcKey)
}

/** Failure messages carry the Worker's output, which says why a request was refused or failed. */
const withLogs = (what: string) => `${what}\n--- workerd output ---\n${worker.logs().slice(-6_000)}`

/** Strips the snippet's common indentation, so it can follow the client set-up at column 0. */
const dedent = (text: string) => {
  const lines = text.split("\n").filter((line, i, all) => line.trim() !== "" || (i > 0 && i < all.length - 1))
  const indent = Math.min(...lines.filter((l) => l.trim() !== "").map((l) => /^ */.exec(l)![0].length))
  return lines.map((l) => l.slice(indent)).join("\n")
}

/** A boto3 snippet with `w`, a path-style client for the Worker signed with the session credentials. */
const boto3 = <T>(snippet: string, input: Record<string, unknown> = {}, timeoutMs = 30_000) =>
  runBoto3<T>(
    [
      `w = boto3.client("s3", endpoint_url=inp["endpoint"], region_name="us-east-1",`,
      `    aws_access_key_id=inp["akid"], aws_secret_access_key=inp["secret"], aws_session_token=inp["token"],`,
      `    config=Config(signature_version="s3v4", s3={"addressing_style": "path"},`,
      `                  retries={"max_attempts": 1, "mode": "standard"}, read_timeout=30))`,
      dedent(snippet)
    ].join("\n"),
    { endpoint: worker.url, ...creds, ...input },
    timeoutMs
  ).catch((error: unknown) => {
    throw new Error(withLogs(String(error)))
  })

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), "sdp-workerd-writes-"))
  const [oidc, session] = await Promise.all([
    generateKeyPair("RS256", { modulusLength: 2048, extractable: true }),
    generateKeyPair("ES256", { extractable: true })
  ])
  oidcKey = oidc.privateKey
  moto = await startMoto()
  motoS3 = motoClient(moto.endpoint)
  forwarder = await startRecordingForwarder(moto.endpoint)
  await seedBucket(motoS3, BUCKET, { [`${PREFIX}${ANON_KEY}`]: ANON_BODY }, false)
  api = await startSourceApi({
    [`/api/v1/products/${ACCOUNT}`]: { body: { products: [product] } },
    [`/api/v1/products/${ACCOUNT}/rw`]: { body: product },
    [`/api/v1/products/${ACCOUNT}/rw/permissions`]: (_call, request) =>
      /^Bearer \S+$/.test(String(request.headers["authorization"] ?? ""))
        ? { body: ["read", "write"] }
        : { status: 401, body: {} },
    [`/api/v1/data-connections/${CONN}`]: { body: connection(forwarder.url) }
  })
  worker = await startWorkerdProxy({
    SOURCE_API_URL: api.url,
    OIDC_PROVIDER_ISSUER: ISSUER,
    OIDC_PROVIDER_KID: KID,
    OIDC_PROVIDER_KEY: await exportPKCS8(oidc.privateKey),
    SESSION_SIGNING_KID: "workerd-writes-session-1",
    SESSION_SIGNING_KEY: await exportPKCS8(session.privateKey),
    SESSION_TOKEN_KEY: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")
  })

  const query = new URLSearchParams({
    Action: "AssumeRoleWithWebIdentity",
    Version: "2011-06-15",
    RoleArn: `arn:aws:iam::${ACCOUNT}:role/_default`,
    RoleSessionName: "workerd-writes",
    WebIdentityToken: await mintApiKey(ACCOUNT)
  })
  const response = await fetch(`${worker.url}/.sts?${query.toString()}`)
  const body = await response.text()
  expect(response.status, withLogs(body)).toBe(200)
  const tag = (name: string) => {
    const value = new RegExp(`<${name}>([^<]*)</${name}>`).exec(body)?.[1]
    if (value === undefined) throw new Error(`no <${name}> in the /.sts answer:\n${body}`)
    return value
  }
  creds = { akid: tag("AccessKeyId"), secret: tag("SecretAccessKey"), token: tag("SessionToken") }
})

afterAll(async () => {
  motoS3?.destroy()
  await worker?.stop()
  await api?.stop()
  await forwarder?.stop()
  await moto?.stop()
  if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true })
})

describe("writes in workerd, with session credentials from the Worker's /.sts", () => {
  it("put_object of 3 MiB with metadata: read back byte-exact, stored in moto with its length and metadata", async () => {
    const data = randomBytes(3 * 1024 * 1024)
    const file = join(workDir, "put.bin")
    writeFileSync(file, data)
    const out = await boto3<Record<string, unknown>>(`
      with open(inp["file"], "rb") as f:
          put = w.put_object(Bucket="acme", Key="rw/put/3mib.bin", Body=f, ContentType="application/octet-stream",
              Metadata={"color": "blue", "owner": "workerd"})
      got = w.get_object(Bucket="acme", Key="rw/put/3mib.bin")
      body = got["Body"].read()
      out = {"putEtag": put["ETag"], "getEtag": got["ETag"], "length": got["ContentLength"],
             "sha256": hashlib.sha256(body).hexdigest(), "read": len(body), "metadata": got["Metadata"]}
    `, { file })
    expect(out).toStrictEqual({
      putEtag: `"${createHash("md5").update(data).digest("hex")}"`,
      getEtag: `"${createHash("md5").update(data).digest("hex")}"`,
      length: data.length,
      sha256: sha256(data),
      read: data.length,
      metadata: { color: "blue", owner: "workerd" }
    })
    // What the Worker sent to S3: the declared length (FixedLengthStream), not a chunked body.
    const sent = forwarder.requests.filter((r) => r.method === "PUT" && r.url === `/${BUCKET}/${PREFIX}put/3mib.bin`)
    expect(sent.map((r) => [r.headers["content-length"], r.headers["transfer-encoding"]])).toStrictEqual([
      [String(data.length), undefined]
    ])
    // Straight from moto: the stored object is the client's bytes, with their length and metadata.
    const head = await motoS3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}put/3mib.bin` }))
    expect(head.ContentLength).toBe(data.length)
    expect(head.Metadata).toStrictEqual({ color: "blue", owner: "workerd" })
    expect(head.ContentType).toBe("application/octet-stream")
    expect(sha256((await inMoto(`${PREFIX}put/3mib.bin`))!)).toBe(sha256(data))
  })

  it("an object keeps the client's Cache-Control, and gets none when the client sent none", async () => {
    await boto3(`
      w.put_object(Bucket="acme", Key="rw/cc/none.txt", Body=b"no cache-control")
      w.put_object(Bucket="acme", Key="rw/cc/set.txt", Body=b"max-age", CacheControl="max-age=60")
      upload = w.create_multipart_upload(Bucket="acme", Key="rw/cc/multipart.bin")["UploadId"]
      part = w.upload_part(Bucket="acme", Key="rw/cc/multipart.bin", UploadId=upload, PartNumber=1, Body=b"one part")
      w.complete_multipart_upload(Bucket="acme", Key="rw/cc/multipart.bin", UploadId=upload,
          MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    `)
    const stored = async (key: string) =>
      (await motoS3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}${key}` }))).CacheControl
    const sent = (key: string) => {
      const request = forwarder.requests.find((r) => r.method === "PUT" && r.url === `/${BUCKET}/${PREFIX}${key}`)
      return [request?.headers["cache-control"], request?.headers["pragma"]]
    }
    // S3 stores a PUT's Cache-Control with the object: the Worker must send the client's, or none. Today
    // every write goes out with `cache: "no-store"` (src/core/backends/s3/S3Store.ts, sendSigned), and
    // workerd then adds `Cache-Control: no-cache` (unless one is set) and `Pragma: no-cache`.
    // One comparison, so a failure shows both what was sent and what S3 kept (CreateMultipartUpload sets the
    // object's Cache-Control too).
    expect({
      sent: { none: sent("cc/none.txt"), set: sent("cc/set.txt") },
      stored: { none: await stored("cc/none.txt"), set: await stored("cc/set.txt"), multipart: await stored("cc/multipart.bin") }
    }).toStrictEqual({
      sent: { none: [undefined, undefined], set: ["max-age=60", undefined] },
      stored: { none: undefined, set: "max-age=60", multipart: undefined }
    })
  })

  it("upload_file of 2 × 5 MiB + 1 KiB (multipart): the same sha256 through the Worker and in moto", async () => {
    const part = 5 * 1024 * 1024
    const data = randomBytes(2 * part + 1024)
    const file = join(workDir, "multi.bin")
    writeFileSync(file, data)
    const out = await boto3<{ sha256: string; length: number }>(`
      from boto3.s3.transfer import TransferConfig
      w.upload_file(inp["file"], "acme", "rw/multi/parts.bin",
          Config=TransferConfig(multipart_threshold=inp["part"], multipart_chunksize=inp["part"], max_concurrency=2))
      body = w.get_object(Bucket="acme", Key="rw/multi/parts.bin")["Body"].read()
      out = {"sha256": hashlib.sha256(body).hexdigest(), "length": len(body)}
    `, { file, part })
    expect(out).toStrictEqual({ sha256: sha256(data), length: data.length })
    const head = await motoS3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}multi/parts.bin` }))
    expect(head.ContentLength).toBe(data.length)
    expect(head.ETag).toMatch(/-3"$/) // three parts: it went through the multipart path
    expect(sha256((await inMoto(`${PREFIX}multi/parts.bin`))!)).toBe(sha256(data))
  })

  it("delete_objects removes the keys in moto (missing keys count as deleted)", async () => {
    const out = await boto3<{ deleted: Array<string>; errors: Array<[string, string]> }>(`
      for key in ["rw/del/a.txt", "rw/del/b.txt"]:
          w.put_object(Bucket="acme", Key=key, Body=key.encode())
      deleted = w.delete_objects(Bucket="acme", Delete={"Objects": [{"Key": "rw/del/a.txt"}, {"Key": "rw/del/none.txt"},
          {"Key": "rw/del/b.txt"}]})
      out = {"deleted": sorted(d["Key"] for d in deleted.get("Deleted", [])),
             "errors": sorted((e["Key"], e["Code"]) for e in deleted.get("Errors", []))}
    `)
    expect(out).toStrictEqual({ deleted: ["rw/del/a.txt", "rw/del/b.txt", "rw/del/none.txt"], errors: [] })
    expect(await inMoto(`${PREFIX}del/a.txt`)).toBeUndefined()
    expect(await inMoto(`${PREFIX}del/b.txt`)).toBeUndefined()
  })

  it("an anonymous PUT is refused with 403 AccessDenied and leaves moto untouched", async () => {
    const put = await fetch(`${worker.url}/${ACCOUNT}/rw/${ANON_KEY}`, { method: "PUT", body: "overwritten" })
    const body = await put.text()
    expect([put.status, parseError(body).Code], withLogs(body)).toStrictEqual([403, "AccessDenied"])
    const fresh = await fetch(`${worker.url}/${ACCOUNT}/rw/anon-new.txt`, { method: "PUT", body: "new" })
    expect(fresh.status, await fresh.text()).toBe(403)
    expect((await inMoto(`${PREFIX}${ANON_KEY}`))?.toString()).toBe(ANON_BODY)
    expect(await inMoto(`${PREFIX}anon-new.txt`)).toBeUndefined()
  })

  it("at the default LOG_LEVEL (warn) the STS audit event and the session access log are still written, as JSON lines", () => {
    const events = worker.logs().split("\n").flatMap((line) => {
      const start = line.indexOf("{\"time\"")
      if (start < 0) return []
      const record = JSON.parse(line.slice(start)) as Record<string, unknown>
      return typeof record["event"] === "string" ? [record] : []
    })
    expect(events.find((e) => e["event"] === "sts.AssumeRoleWithWebIdentity"), withLogs("no audit event")).toMatchObject({
      outcome: "success",
      account: ACCOUNT,
      sessionName: "workerd-writes"
    })
    expect(events.find((e) => e["event"] === "access" && e["action"] === "write"), withLogs("no access event")).toMatchObject({
      decision: "allow",
      resource: expect.stringMatching(/^sc::acme::product\/rw\//),
      session_name: "workerd-writes"
    })
  })
})
