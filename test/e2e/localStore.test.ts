import { createHash } from "node:crypto"
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { exportPKCS8 } from "jose"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { amzDate, encodeAwsChunked, sha256Hex, signingKeyOf, signWithSmithy } from "../fixtures/sigv4.js"
import { runAws } from "./harness/clients.js"
import { makeKey } from "./harness/oidcIssuer.js"
import { REPO_ROOT, type RunningProxy, startBunProxy } from "./harness/proxy.js"
import { exchangeAtSts, mintApiKey } from "./harness/sts.js"
import { parseError, parseList } from "./harness/xml.js"

/**
 * The local directory store through the Bun proxy, on a copy of the embedded catalog (`sample/`) laid out as
 * in the repository, so what lies around the sample data (a `.dev/` key file, other users' uploads) is there
 * to be leaked: listings must never walk out of a product (issue #8), failed uploads answer the verifier's
 * own S3 errors and leave nothing behind.
 */

const PROXY_ISSUER = "http://127.0.0.1:1" // the proxy's own issuer: its keys are read in-process
const REGION = "us-east-1"
const UPLOAD_ID = "0123456789abcdef0123456789abcdef"

let work: string
let data: string
let proxy: RunningProxy
let creds: { accessKeyId: string; secretAccessKey: string; sessionToken: string }

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "sdp-e2e-local-"))
  cpSync(join(REPO_ROOT, "sample"), join(work, "sample"), { recursive: true })
  data = join(work, "sample/data")
  // What sits next to the sample data in a checkout: the dev keys and the store's own upload records.
  mkdirSync(join(work, ".dev"))
  writeFileSync(join(work, ".dev/keys.json"), "{\"SESSION_TOKEN_KEY\":\"bait\"}")
  mkdirSync(join(data, ".sdp-uploads", UPLOAD_ID), { recursive: true })
  writeFileSync(join(data, ".sdp-uploads", UPLOAD_ID, "upload.json"), "{\"key\":\"demo/private/theirs.bin\",\"headers\":{}}")

  const proxyKey = await makeKey("RS256", "e2e-local-proxy-1")
  proxy = await startBunProxy({
    CATALOG: join(work, "sample/catalog.json"),
    OIDC_PROVIDER_ISSUER: PROXY_ISSUER,
    OIDC_PROVIDER_KID: proxyKey.kid,
    OIDC_PROVIDER_KEY: await exportPKCS8(proxyKey.privateKey)
  })
  // An API key of account `demo` (what `bun run api-key demo` mints), exchanged at `/.sts`.
  creds = await exchangeAtSts(proxy.url, "arn:aws:iam::demo:role/_default", await mintApiKey(proxyKey, PROXY_ISSUER, "demo"), "e2e-local")
})

afterAll(async () => {
  await proxy?.stop()
  if (work !== undefined) rmSync(work, { recursive: true, force: true })
})

const listing = async (query: string, path = "/demo/sample") => {
  const response = await fetch(`${proxy.url}${path}?${query}`)
  const text = await response.text()
  expect(response.status, text).toBe(200)
  return { text, result: parseList(text) }
}

describe("listings stay inside the product (issue #8)", () => {
  const cases: ReadonlyArray<readonly [string, string, string]> = [
    ["prefix=../private/ lists nothing of demo/private", "/demo/sample", "list-type=2&prefix=../private/"],
    ["prefix=../../../../.dev/ lists nothing of the dev keys", "/demo/sample", "list-type=2&prefix=../../../../.dev/"],
    ["prefix=../../.sdp-uploads/ lists nothing of other users' uploads", "/demo/sample", "list-type=2&prefix=../../.sdp-uploads/"],
    ["the account form prefix=sample/../private/", "/demo", "list-type=2&prefix=sample/../private/"],
    ["the account form, V1, prefix=sample/../../.sdp-uploads/", "/demo", "prefix=sample/../../.sdp-uploads/"],
    ["a prefix beginning with /", "/demo/sample", "list-type=2&prefix=/"],
    ["start-after=sample/../private/", "/demo/sample", "list-type=2&start-after=sample/../private/"],
    ["marker=sample/../../.sdp-uploads/", "/demo/sample", "marker=sample/../../.sdp-uploads/"]
  ]
  for (const [name, path, query] of cases) {
    it(`${name}: an empty, final page`, async () => {
      const { text, result } = await listing(query, path)
      expect(result.Contents).toStrictEqual([])
      expect(result.CommonPrefixes).toStrictEqual([])
      expect(result.IsTruncated).toBe("false")
      if (query.includes("list-type=2")) expect(result.KeyCount).toBe("0")
      for (const leaked of ["secret.txt", "keys.json", "upload.json", UPLOAD_ID]) expect(text).not.toContain(leaked)
    })
  }

  it("the same listings without the traversal still work (the fixture is there)", async () => {
    const { result } = await listing("list-type=2&prefix=sample/&delimiter=/", "/demo")
    expect(result.Contents.map((c) => c.Key)).toContain("sample/README.md")
    expect(existsSync(join(work, ".dev/keys.json"))).toBe(true)
  })
})

/** A PUT of `key` in demo/sample signed with the session, its body and payload mode chosen by the caller. */
const signedPut = async (key: string, payloadHash: string, headers: ReadonlyArray<readonly [string, string]>, body: (seed: string, signing: {
  signingKey: Uint8Array
  timestamp: string
  scope: string
}) => Uint8Array) => {
  const host = new URL(proxy.url).host
  const timeMillis = Date.now()
  const signed = await signWithSmithy({
    ...creds,
    region: REGION,
    timeMillis,
    method: "PUT",
    host,
    pathSegments: ["demo", "sample", key],
    query: [],
    headers,
    payloadHash,
    presign: false
  })
  const seed = /Signature=([0-9a-f]{64})/.exec(signed.headers.get("authorization")!)![1]!
  const date = amzDate(timeMillis)
  const bytes = body(seed, {
    signingKey: signingKeyOf(creds.secretAccessKey, date.slice(0, 8), REGION, "s3"),
    timestamp: date,
    scope: `${date.slice(0, 8)}/${REGION}/s3/aws4_request`
  })
  signed.headers.delete("host")
  const response = await fetch(signed.url, { method: "PUT", headers: signed.headers, body: new Uint8Array(bytes) })
  const text = await response.text()
  return { status: response.status, code: response.status >= 300 ? parseError(text).Code : undefined, text, etag: response.headers.get("etag") }
}

const DATA = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 7 + (i >> 9)) & 255)
const CHUNKED = [["content-encoding", "aws-chunked"], ["x-amz-decoded-content-length", String(DATA.length)]] as const

/** Nothing at the key, through the proxy and on disk, and no temp file left. */
const expectNothingWritten = async (key: string) => {
  const head = await fetch(`${proxy.url}/demo/sample/${key}`, { method: "HEAD" })
  expect(head.status).toBe(404)
  expect(existsSync(join(data, "demo/sample", key))).toBe(false)
  const temp = join(data, ".sdp-tmp")
  expect(existsSync(temp) ? readdirSync(temp) : []).toStrictEqual([])
}

describe("a failed upload answers the verifier's S3 error and writes nothing (local store)", () => {
  it("a signed PUT succeeds (the fixture signs correctly)", async () => {
    const put = await signedPut("good.bin", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", CHUNKED, (seed, signing) =>
      encodeAwsChunked(DATA, 65_536, { ...signing, seedSignature: seed }).body)
    expect(put.status, put.text).toBe(200)
    const read = await fetch(`${proxy.url}/demo/sample/good.bin`)
    expect(Buffer.from(await read.arrayBuffer()).equals(Buffer.from(DATA))).toBe(true)
  })

  it("a bad aws-chunked chunk signature → 403 SignatureDoesNotMatch", async () => {
    const put = await signedPut("bad-signature.bin", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", CHUNKED, (seed, signing) => {
      const { body, signatures } = encodeAwsChunked(DATA, 65_536, { ...signing, seedSignature: seed })
      const text = Buffer.from(body).toString("latin1")
      const second = signatures[1]!
      const damaged = second.slice(0, -1) + (second.endsWith("0") ? "1" : "0")
      return Buffer.from(text.replace(second, damaged), "latin1")
    })
    expect([put.status, put.code], put.text).toStrictEqual([403, "SignatureDoesNotMatch"])
    await expectNothingWritten("bad-signature.bin")
  })

  it("x-amz-content-sha256 that is not the body's hash → 400 XAmzContentSHA256Mismatch", async () => {
    const put = await signedPut("bad-hash.bin", sha256Hex("some other body"), [], () => DATA)
    expect([put.status, put.code], put.text).toStrictEqual([400, "XAmzContentSHA256Mismatch"])
    await expectNothingWritten("bad-hash.bin")
  })

  it("broken aws-chunked framing → 400 IncompleteBody", async () => {
    const cut = await signedPut("cut.bin", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", CHUNKED, (seed, signing) => {
      const { body } = encodeAwsChunked(DATA, 65_536, { ...signing, seedSignature: seed })
      return body.subarray(0, body.length - 120) // ends inside the final chunk's line
    })
    expect([cut.status, cut.code], cut.text).toStrictEqual([400, "IncompleteBody"])
    await expectNothingWritten("cut.bin")
    const garbled = await signedPut("garbled.bin", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", CHUNKED, (seed, signing) => {
      const { body } = encodeAwsChunked(DATA, 65_536, { ...signing, seedSignature: seed })
      const text = Buffer.from(body).toString("latin1")
      return Buffer.from(text.replace(/\r\n(1)0000;chunk-signature=/, "\r\nzz0000;chunk-signature="), "latin1")
    })
    expect([garbled.status, garbled.code], garbled.text).toStrictEqual([400, "IncompleteBody"])
    await expectNothingWritten("garbled.bin")
  })
})

describe("ETags of the local store are the MD5 of the bytes (docs/s3-compatibility.md#uploads)", () => {
  it("a PUT answers the body's MD5; GET, HEAD and the listing show the same ETag; If-None-Match with it → 304", async () => {
    const body = new TextEncoder().encode("known body for an MD5 ETag\n")
    const md5 = `"${createHash("md5").update(body).digest("hex")}"`
    const put = await signedPut("etag/known.txt", sha256Hex(body), [], () => body)
    expect(put.status, put.text).toBe(200)
    expect(put.etag).toBe(md5)
    const get = await fetch(`${proxy.url}/demo/sample/etag/known.txt`)
    expect(get.headers.get("etag")).toBe(md5)
    expect(Buffer.from(await get.arrayBuffer()).equals(Buffer.from(body))).toBe(true)
    const head = await fetch(`${proxy.url}/demo/sample/etag/known.txt`, { method: "HEAD" })
    expect(head.headers.get("etag")).toBe(md5)
    const { result } = await listing("list-type=2&prefix=etag/")
    expect(result.Contents.map((c) => [c.Key, c.ETag])).toStrictEqual([["sample/etag/known.txt", md5]])
    const notModified = await fetch(`${proxy.url}/demo/sample/etag/known.txt`, { headers: { "if-none-match": md5 } })
    expect(notModified.status).toBe(304)
    const matched = await fetch(`${proxy.url}/demo/sample/etag/known.txt`, { headers: { "if-match": md5 } })
    expect(matched.status).toBe(200)
    await matched.arrayBuffer()
  })
})

describe("folder markers in the local store (docs/listing.md#folder-markers), with aws-cli", () => {
  const EMPTY_MD5 = "\"d41d8cd98f00b204e9800998ecf8427e\""
  const aws = (args: ReadonlyArray<string>) =>
    runAws([...args, "--endpoint-url", proxy.url, "--output", "json"], 60_000, {
      AWS_ACCESS_KEY_ID: creds.accessKeyId,
      AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
      AWS_SESSION_TOKEN: creds.sessionToken
    })
  const json = (result: { status: number | null; stdout: Buffer; stderr: string }) => {
    expect(result.status, result.stderr).toBe(0)
    return JSON.parse(result.stdout.toString() || "{}") as Record<string, unknown>
  }
  const prefixesOf = async (prefix: string) =>
    ((json(await aws(["s3api", "list-objects-v2", "--bucket", "demo", "--prefix", prefix, "--delimiter", "/"])).CommonPrefixes ??
      []) as Array<{ Prefix: string }>).map((p) => p.Prefix)

  it("put-object --key sample/newdir/, head-object, list, delete-object: as S3 does", async () => {
    const put = json(await aws(["s3api", "put-object", "--bucket", "demo", "--key", "sample/newdir/"]))
    expect(put.ETag).toBe(EMPTY_MD5)
    const head = json(await aws(["s3api", "head-object", "--bucket", "demo", "--key", "sample/newdir/"]))
    expect([head.ContentLength, head.ETag]).toStrictEqual([0, EMPTY_MD5])
    const get = await fetch(`${proxy.url}/demo/sample/newdir/`)
    expect([get.status, get.headers.get("content-length"), (await get.arrayBuffer()).byteLength]).toStrictEqual([200, "0", 0])
    expect(await prefixesOf("sample/")).toContain("sample/newdir/")
    const ls = await aws(["s3", "ls", "s3://demo/sample/"])
    expect(ls.stdout.toString()).toMatch(/PRE newdir\//)
    // The marker is no file on disk; it is listed inside its folder, as S3 lists it.
    expect(readdirSync(join(data, "demo/sample/newdir"))).toStrictEqual([])
    const inside = json(await aws(["s3api", "list-objects-v2", "--bucket", "demo", "--prefix", "sample/newdir/"])).Contents as
      Array<{ Key: string; Size: number }>
    expect(inside.map((c) => [c.Key, c.Size])).toStrictEqual([["sample/newdir/", 0]])

    json(await aws(["s3api", "delete-object", "--bucket", "demo", "--key", "sample/newdir/"]))
    const gone = await aws(["s3api", "head-object", "--bucket", "demo", "--key", "sample/newdir/"])
    expect(gone.status).not.toBe(0)
    expect(gone.stderr).toMatch(/\(404\)|Not Found/)
    expect(await prefixesOf("sample/")).not.toContain("sample/newdir/")
    expect(existsSync(join(data, "demo/sample/newdir"))).toBe(false)
    json(await aws(["s3api", "delete-object", "--bucket", "demo", "--key", "sample/newdir/"])) // absent: still 204
  })

  it("HEAD of a folder that only holds files (GDAL's probe of `tables/`) is 404; a marker there comes and goes, the files stay", async () => {
    const probe = await fetch(`${proxy.url}/demo/sample/tables/`, { method: "HEAD" })
    expect(probe.status).toBe(404)
    json(await aws(["s3api", "put-object", "--bucket", "demo", "--key", "sample/tables/"]))
    expect((await fetch(`${proxy.url}/demo/sample/tables/`, { method: "HEAD" })).status).toBe(200)
    json(await aws(["s3api", "delete-object", "--bucket", "demo", "--key", "sample/tables/"]))
    expect((await fetch(`${proxy.url}/demo/sample/tables/`, { method: "HEAD" })).status).toBe(404)
    expect((await fetch(`${proxy.url}/demo/sample/tables/cities.csv`, { method: "HEAD" })).status).toBe(200)
    expect(await prefixesOf("sample/")).toContain("sample/tables/")
  })

  it("a marker with bytes is refused (400), and leaves nothing behind", async () => {
    const body = join(work, "marker-body.txt")
    writeFileSync(body, "not empty")
    const put = await aws(["s3api", "put-object", "--bucket", "demo", "--key", "sample/full/", "--body", body])
    expect(put.status).not.toBe(0)
    expect(put.stderr).toMatch(/InvalidRequest/)
    expect((await fetch(`${proxy.url}/demo/sample/full/`, { method: "HEAD" })).status).toBe(404)
    expect(existsSync(join(data, "demo/sample/full"))).toBe(false)
  })
})
