import { createHash, randomBytes } from "node:crypto"
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { request as httpRequest } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Readable } from "node:stream"
import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  type S3ServiceException
} from "@aws-sdk/client-s3"
import { Upload } from "@aws-sdk/lib-storage"
import { AwsClient } from "aws4fetch"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { run, runAws, runBoto3 } from "./harness/clients.js"
import { startMoto, type RunningMoto } from "./harness/moto.js"
import { sleep } from "../fakes/processes.js"
import type { RunningProxy } from "./harness/proxy.js"
import { motoClient, readFromMoto, seedBucket } from "./harness/s3.js"
import { type RunningSourceApi, startSourceApi } from "./harness/sourceApi.js"
import { credsEnv, type SessionCredentials as Creds, startStsProxy, type StsProxy } from "./harness/sts.js"
import { parseError } from "./harness/xml.js"

/**
 * Writes end to end (docs/authorization.md#per-operation): moto as the backend, a Source API stand-in serving
 * products, connections, permissions and a prefix-limited Role, a test OIDC issuer, `/.sts` on the Bun proxy, then
 * real clients (boto3, aws-cli, @aws-sdk/client-s3 + lib-storage) writing through the proxy; every denial is a 403
 * AccessDenied that leaves the backend untouched.
 */

const ACCOUNT = "acme"
const BUCKET = "e2e-writes-data"
const AUDIENCE = "e2e-writes.source.coop"
const CONN_RW = "conn-writes-rw"
const CONN_RO = "conn-writes-ro"
const DEFAULT_ROLE = `arn:aws:iam::${ACCOUNT}:role/_default`
const LIMITED_ROLE = `sc::${ACCOUNT}::role/limited`

/** Product → its prefix in the moto bucket. */
const PREFIX = { rw: "rw-data/", ro: "ro-data/", nowrite: "nowrite-data/" } as const

/** Objects the denials must leave as they are. */
const ORIGINALS: Record<string, string> = {
  "rw-data/other/x": "original other",
  "rw-data/anon.txt": "original anon",
  "rw-data/keep/a.txt": "keep a",
  "rw-data/keep/b.txt": "keep b",
  "rw-data/copy/src.txt": "copy me",
  "ro-data/existing.txt": "original ro",
  "nowrite-data/existing.txt": "original nowrite"
}

const product = (productId: keyof typeof PREFIX, connection: string) => ({
  product_id: productId,
  account_id: ACCOUNT,
  title: `e2e ${productId}`,
  visibility: "public",
  disabled: false,
  data_mode: "open",
  metadata: { primary_mirror: "main", mirrors: { main: { connection_id: connection, prefix: PREFIX[productId], storage_type: "s3" } } }
})

const connection = (id: string, readOnly: boolean, endpoint: string) => ({
  data_connection_id: id,
  read_only: readOnly,
  name: id,
  details: { provider: "s3", region: "us-east-1", base_prefix: "", bucket: BUCKET, endpoint },
  // moto does not check signatures: stored credentials are enough to make the connection writable.
  authentication: { type: "s3_access_key", access_key_id: "testing", secret_access_key: "testing" }
})

let moto: RunningMoto
let motoS3: S3Client
let api: RunningSourceApi
let sts: StsProxy
let proxy: RunningProxy
let workDir: string
let full: Creds
let limited: Creds

const sdkClient = (creds: Creds) =>
  new S3Client({ endpoint: proxy.url, region: "us-east-1", forcePathStyle: true, credentials: creds, maxAttempts: 1 })

/** The object's bytes in moto, or undefined when it is not there. */
const inMoto = async (key: string): Promise<string | undefined> => {
  try {
    return Buffer.from(await readFromMoto(motoS3, BUCKET, key)).toString()
  } catch (e) {
    if ((e as S3ServiceException).$metadata?.httpStatusCode === 404) return undefined
    throw e
  }
}

const statusOf = async (promise: Promise<unknown>): Promise<number | string> => {
  try {
    await promise
    return 200
  } catch (e) {
    const error = e as S3ServiceException
    return error.$metadata?.httpStatusCode ?? String(e)
  }
}

const sha256 = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex")

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), "sdp-e2e-writes-"))
  moto = await startMoto()
  motoS3 = motoClient(moto.endpoint)
  await seedBucket(motoS3, BUCKET, ORIGINALS, false)
  const rw = product("rw", CONN_RW)
  const ro = product("ro", CONN_RO)
  const nowrite = product("nowrite", CONN_RW)
  const bearerOnly = (permissions: ReadonlyArray<string>) => (_call: number, request: { headers: Record<string, unknown> }) =>
    /^Bearer \S+$/.test(String(request.headers["authorization"] ?? "")) ? { body: permissions } : { status: 401, body: {} }
  api = await startSourceApi({
    [`/api/v1/products/${ACCOUNT}`]: { body: { products: [rw, ro, nowrite] } },
    [`/api/v1/products/${ACCOUNT}/rw`]: { body: rw },
    [`/api/v1/products/${ACCOUNT}/ro`]: { body: ro },
    [`/api/v1/products/${ACCOUNT}/nowrite`]: { body: nowrite },
    [`/api/v1/products/${ACCOUNT}/rw/permissions`]: bearerOnly(["read", "write"]),
    // The account may write `ro`: only its read-only connection stops the write.
    [`/api/v1/products/${ACCOUNT}/ro/permissions`]: bearerOnly(["read", "write"]),
    [`/api/v1/products/${ACCOUNT}/nowrite/permissions`]: bearerOnly(["read"]),
    [`/api/v1/data-connections/${CONN_RW}`]: { body: connection(CONN_RW, false, moto.endpoint) },
    [`/api/v1/data-connections/${CONN_RO}`]: { body: connection(CONN_RO, true, moto.endpoint) },
    [`/api/v1/accounts/${ACCOUNT}/roles/limited`]: {
      body: {
        name: "limited",
        max_session_duration: 3600,
        identity_constraints: [{ idp: "source-coop", audience: AUDIENCE }],
        permissions: [{ actions: ["read", "write"], resources: [`sc::${ACCOUNT}::product/rw/allowed/*`] }]
      }
    }
  })
  sts = await startStsProxy({ sourceApiUrl: api.url, audience: AUDIENCE, name: "writes" })
  proxy = sts.proxy
  ;[full, limited] = await Promise.all([sts.assume(DEFAULT_ROLE, "writer"), sts.assume(LIMITED_ROLE, "limited")])
})

afterAll(async () => {
  motoS3?.destroy()
  await sts?.stop()
  await api?.stop()
  await moto?.stop()
})

describe("boto3 through the STS flow", () => {
  it("put_object (metadata, content-type), copy_object, delete_objects (account level, mixed keys)", async () => {
    const out = await runBoto3<Record<string, unknown>>(`
      w = boto3.client("s3", endpoint_url=inp["endpoint"], region_name="us-east-1",
          aws_access_key_id=inp["akid"], aws_secret_access_key=inp["secret"], aws_session_token=inp["token"],
          config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"}))
      put = w.put_object(Bucket="acme", Key="rw/put/hello.txt", Body=b"hello writes\\n", ContentType="text/plain; charset=utf-8",
          Metadata={"color": "blue", "owner": "e2e"}, CacheControl="max-age=60")
      got = w.get_object(Bucket="acme", Key="rw/put/hello.txt")
      body = got["Body"].read()
      copied = w.copy_object(Bucket="acme", Key="rw/copy/dst.txt", CopySource={"Bucket": "acme", "Key": "rw/copy/src.txt"})
      copy_body = w.get_object(Bucket="acme", Key="rw/copy/dst.txt")["Body"].read()
      deleted = w.delete_objects(Bucket="acme", Delete={"Objects": [{"Key": "rw/keep/a.txt"}, {"Key": "rw/missing/none.txt"},
          {"Key": "rw/keep/b.txt"}, {"Key": "ro/existing.txt"}]})
      out = {"putEtag": put["ETag"], "body": body.decode(), "contentType": got["ContentType"], "metadata": got["Metadata"],
             "cacheControl": got.get("CacheControl"), "getEtag": got["ETag"], "copyEtag": copied["CopyObjectResult"]["ETag"],
             "copyBody": copy_body.decode(),
             "deleted": sorted(d["Key"] for d in deleted.get("Deleted", [])),
             "errors": sorted((e["Key"], e["Code"]) for e in deleted.get("Errors", []))}
    `, { endpoint: proxy.url, akid: full.accessKeyId, secret: full.secretAccessKey, token: full.sessionToken })
    expect(out["body"]).toBe("hello writes\n")
    expect(out["contentType"]).toBe("text/plain; charset=utf-8")
    expect(out["metadata"]).toStrictEqual({ color: "blue", owner: "e2e" })
    expect(out["cacheControl"]).toBe("max-age=60")
    expect(out["putEtag"]).toBe(out["getEtag"])
    expect(out["copyBody"]).toBe("copy me")
    expect(out["copyEtag"]).toBe(`"${createHash("md5").update("copy me").digest("hex")}"`)
    expect(out["deleted"]).toStrictEqual(["rw/keep/a.txt", "rw/keep/b.txt", "rw/missing/none.txt"])
    expect(out["errors"]).toStrictEqual([["ro/existing.txt", "AccessDenied"]])
    expect(await inMoto("rw-data/put/hello.txt")).toBe("hello writes\n")
    expect(await inMoto("rw-data/keep/a.txt")).toBeUndefined()
    expect(await inMoto("rw-data/keep/b.txt")).toBeUndefined()
    expect(await inMoto("ro-data/existing.txt")).toBe("original ro")
    const head = await motoS3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "rw-data/put/hello.txt" }))
    expect(head.Metadata).toStrictEqual({ color: "blue", owner: "e2e" })
  })

  it("upload_file of 64 MiB (multipart), read back with the same sha256", async () => {
    const data = randomBytes(64 * 1024 * 1024)
    const file = join(workDir, "big.bin")
    writeFileSync(file, data)
    const out = await runBoto3<{ sha256: string; length: number }>(`
      from boto3.s3.transfer import TransferConfig
      w = boto3.client("s3", endpoint_url=inp["endpoint"], region_name="us-east-1",
          aws_access_key_id=inp["akid"], aws_secret_access_key=inp["secret"], aws_session_token=inp["token"],
          config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"}))
      chunk = 8 * 1024 * 1024
      w.upload_file(inp["file"], "acme", "rw/big/64mib.bin",
          Config=TransferConfig(multipart_threshold=chunk, multipart_chunksize=chunk, max_concurrency=4))
      h = hashlib.sha256()
      n = 0
      for part in w.get_object(Bucket="acme", Key="rw/big/64mib.bin")["Body"].iter_chunks(1024 * 1024):
          h.update(part)
          n += len(part)
      out = {"sha256": h.hexdigest(), "length": n}
    `, { endpoint: proxy.url, akid: full.accessKeyId, secret: full.secretAccessKey, token: full.sessionToken, file }, 90_000)
    expect(out).toStrictEqual({ sha256: sha256(data), length: data.length })
    const head = await motoS3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "rw-data/big/64mib.bin" }))
    expect(head.ContentLength).toBe(data.length)
    expect(head.ETag).toMatch(/-8"$/) // eight 8 MiB parts: it went through the multipart path
  }, 90_000)

  it("product-level DeleteObjects (POST /acme/rw?delete), signed by hand", async () => {
    for (const key of ["pl/one.txt", "pl/two.txt"]) {
      await motoS3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `rw-data/${key}`, Body: key }))
    }
    const xml = `<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`
      + `<Object><Key>pl/one.txt</Key></Object><Object><Key>pl/absent.txt</Key></Object><Object><Key>pl/two.txt</Key></Object></Delete>`
    const client = new AwsClient({ ...full, service: "s3", region: "us-east-1", retries: 0 })
    const response = await client.fetch(`${proxy.url}/${ACCOUNT}/rw?delete`, {
      method: "POST",
      body: xml,
      headers: { "content-type": "application/xml", "content-md5": createHash("md5").update(xml).digest("base64") }
    })
    const body = await response.text()
    expect(response.status, body).toBe(200)
    const deleted = [...body.matchAll(/<Deleted><Key>([^<]*)<\/Key>/g)].map((m) => m[1]).sort()
    expect(deleted).toStrictEqual(["pl/absent.txt", "pl/one.txt", "pl/two.txt"])
    expect(body).not.toContain("<Error>")
    expect(await inMoto("rw-data/pl/one.txt")).toBeUndefined()
    expect(await inMoto("rw-data/pl/two.txt")).toBeUndefined()
  })
})

describe("aws-cli through session credentials", () => {
  it("s3 cp up and down; s3 sync up and down of a tree with spaces and `=` in keys", async () => {
    const env = credsEnv(full)
    const endpoint = ["--endpoint-url", proxy.url]
    const single = join(workDir, "cli-single.bin")
    const singleData = randomBytes(300_000)
    writeFileSync(single, singleData)
    const up = await runAws(["s3", "cp", single, `s3://${ACCOUNT}/rw/cli/single.bin`, ...endpoint], 30_000, env)
    expect(up.status, up.stderr).toBe(0)
    const down = await runAws(["s3", "cp", `s3://${ACCOUNT}/rw/cli/single.bin`, join(workDir, "cli-single.down"), ...endpoint], 30_000, env)
    expect(down.status, down.stderr).toBe(0)
    expect(sha256(readFileSync(join(workDir, "cli-single.down")))).toBe(sha256(singleData))

    const tree: Record<string, string> = {
      "a b.txt": "spaces\n",
      "part=1/x y.csv": "a,b\n1,2\n",
      "deep/nested/file.bin": "nested\n",
      "plain.txt": "plain\n"
    }
    const src = join(workDir, "tree-up")
    for (const [key, text] of Object.entries(tree)) {
      mkdirSync(join(src, key, ".."), { recursive: true })
      writeFileSync(join(src, key), text)
    }
    const syncUp = await runAws(["s3", "sync", src, `s3://${ACCOUNT}/rw/tree/`, ...endpoint], 30_000, env)
    expect(syncUp.status, syncUp.stderr).toBe(0)
    for (const [key, text] of Object.entries(tree)) expect(await inMoto(`rw-data/tree/${key}`)).toBe(text)
    const dst = join(workDir, "tree-down")
    const syncDown = await runAws(["s3", "sync", `s3://${ACCOUNT}/rw/tree/`, dst, ...endpoint], 30_000, env)
    expect(syncDown.status, syncDown.stderr).toBe(0)
    for (const [key, text] of Object.entries(tree)) expect(readFileSync(join(dst, key), "utf8")).toBe(text)
    // A second sync up has nothing to do.
    const again = await runAws(["s3", "sync", src, `s3://${ACCOUNT}/rw/tree/`, ...endpoint], 30_000, env)
    expect(again.status, again.stderr).toBe(0)
    expect(again.stdout.toString()).not.toContain("upload:")
  })
})

describe("@aws-sdk/client-s3", () => {
  it("lib-storage Upload (multipart from a stream) and PutObject with a stream body (aws-chunked trailer)", async () => {
    const client = sdkClient(full)
    const sent: Array<{ method: string; path: string; headers: Record<string, string> }> = []
    client.middlewareStack.add(
      (next) => (args) => {
        const request = args.request as { method: string; path: string; headers: Record<string, string> }
        sent.push({ method: request.method, path: request.path, headers: { ...request.headers } })
        return next(args)
      },
      { step: "deserialize", name: "e2eRecordSent" }
    )
    try {
      const big = randomBytes(12 * 1024 * 1024)
      const upload = new Upload({
        client,
        params: { Bucket: ACCOUNT, Key: "rw/sdk/upload.bin", Body: Readable.from([big.subarray(0, 7_000_000), big.subarray(7_000_000)]) },
        partSize: 5 * 1024 * 1024,
        queueSize: 2
      })
      await upload.done()
      const got = await client.send(new GetObjectCommand({ Bucket: ACCOUNT, Key: "rw/sdk/upload.bin" }))
      expect(sha256(await got.Body!.transformToByteArray())).toBe(sha256(big))
      expect(sent.filter((s) => s.method === "PUT" && s.path.includes("upload.bin")).length).toBe(3) // three parts

      const small = randomBytes(200_000)
      await client.send(new PutObjectCommand({
        Bucket: ACCOUNT,
        Key: "rw/sdk/stream.bin",
        Body: Readable.from([small.subarray(0, 70_000), small.subarray(70_000)]),
        ContentLength: small.length
      }))
      const streamed = sent.find((s) => s.method === "PUT" && s.path.endsWith("stream.bin"))!
      expect(streamed.headers["x-amz-content-sha256"]).toMatch(/^STREAMING-.*TRAILER$/)
      expect(streamed.headers["content-encoding"]).toContain("aws-chunked")
      const back = await client.send(new GetObjectCommand({ Bucket: ACCOUNT, Key: "rw/sdk/stream.bin" }))
      expect(back.ContentEncoding ?? "").not.toContain("aws-chunked")
      expect(sha256(await back.Body!.transformToByteArray())).toBe(sha256(small))
      expect(sha256(await readFromMoto(motoS3, BUCKET, "rw-data/sdk/stream.bin"))).toBe(sha256(small))
    } finally {
      client.destroy()
    }
  })

  it("conditional writes: IfNoneMatch=* twice → 412 and unchanged; two concurrent writers → one 200, one 412", async () => {
    const client = sdkClient(full)
    try {
      const key = "rw/cond/once.txt"
      expect(await statusOf(client.send(new PutObjectCommand({ Bucket: ACCOUNT, Key: key, Body: "first", IfNoneMatch: "*" })))).toBe(200)
      expect(await statusOf(client.send(new PutObjectCommand({ Bucket: ACCOUNT, Key: key, Body: "second", IfNoneMatch: "*" })))).toBe(412)
      expect(await inMoto("rw-data/cond/once.txt")).toBe("first")

      for (let round = 0; round < 3; round++) {
        const raceKey = `rw/cond/race-${round}.bin`
        const bodies = [randomBytes(512 * 1024), randomBytes(512 * 1024)]
        const statuses = await Promise.all(bodies.map((body) =>
          statusOf(client.send(new PutObjectCommand({ Bucket: ACCOUNT, Key: raceKey, Body: body, IfNoneMatch: "*" })))))
        expect([...statuses].sort()).toStrictEqual([200, 412])
        const winner = bodies[statuses.indexOf(200)]!
        expect(sha256(await readFromMoto(motoS3, BUCKET, `rw-data/cond/race-${round}.bin`))).toBe(sha256(winner))
      }
    } finally {
      client.destroy()
    }
  })
})

describe("multipart bookkeeping: ListParts, ListMultipartUploads, UploadPartCopy", () => {
  it("boto3: upload_part_copy (two ranges of a 6 MiB object), list_parts, list_multipart_uploads, complete, read back", async () => {
    const data = randomBytes(6 * 1024 * 1024 + 4321)
    const file = join(workDir, "mpa-source.bin")
    writeFileSync(file, data)
    const out = await runBoto3<Record<string, unknown>>(`
      w = boto3.client("s3", endpoint_url=inp["endpoint"], region_name="us-east-1",
          aws_access_key_id=inp["akid"], aws_secret_access_key=inp["secret"], aws_session_token=inp["token"],
          config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"}))
      with open(inp["file"], "rb") as f:
          w.put_object(Bucket="acme", Key="rw/mpa/source file.bin", Body=f.read())
      n = inp["size"]
      five = 5 * 1024 * 1024
      key = "rw/mpa/copied=1+x.bin"
      uid = w.create_multipart_upload(Bucket="acme", Key=key)["UploadId"]
      other = w.create_multipart_upload(Bucket="acme", Key="rw/mpa/other upload.bin")["UploadId"]
      src = {"Bucket": "acme", "Key": "rw/mpa/source file.bin"}
      p1 = w.upload_part_copy(Bucket="acme", Key=key, UploadId=uid, PartNumber=1, CopySource=src,
          CopySourceRange="bytes=0-%d" % (five - 1))["CopyPartResult"]
      p2 = w.upload_part_copy(Bucket="acme", Key=key, UploadId=uid, PartNumber=2, CopySource=src,
          CopySourceRange="bytes=%d-%d" % (five, n - 1))["CopyPartResult"]
      listed = w.list_parts(Bucket="acme", Key=key, UploadId=uid)
      page1 = w.list_parts(Bucket="acme", Key=key, UploadId=uid, MaxParts=1)
      page2 = w.list_parts(Bucket="acme", Key=key, UploadId=uid, MaxParts=1, PartNumberMarker=page1["NextPartNumberMarker"])
      by_prefix = w.list_multipart_uploads(Bucket="acme", Prefix="rw/mpa/")
      by_product = w.list_multipart_uploads(Bucket="acme", Prefix="rw")
      no_prefix = w.list_multipart_uploads(Bucket="acme")
      done = w.complete_multipart_upload(Bucket="acme", Key=key, UploadId=uid,
          MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["ETag"]}]})
      w.abort_multipart_upload(Bucket="acme", Key="rw/mpa/other upload.bin", UploadId=other)
      after = w.list_multipart_uploads(Bucket="acme", Prefix="rw/")
      h = hashlib.sha256()
      for chunk in w.get_object(Bucket="acme", Key=key)["Body"].iter_chunks(1024 * 1024):
          h.update(chunk)
      uploads = lambda r: sorted([u["Key"], u["UploadId"]] for u in r.get("Uploads", []))
      out = {
          "uid": uid, "other": other, "etags": [p1["ETag"], p2["ETag"]],
          "listed": [[p["PartNumber"], p["ETag"], p["Size"]] for p in listed["Parts"]],
          "listedMeta": [listed["Bucket"], listed["Key"], listed["UploadId"], listed["IsTruncated"]],
          "page1": [[p["PartNumber"] for p in page1["Parts"]], page1["IsTruncated"], page1["NextPartNumberMarker"]],
          "page2": [[p["PartNumber"] for p in page2["Parts"]], page2["IsTruncated"]],
          "byPrefix": uploads(by_prefix), "byPrefixMeta": [by_prefix["Bucket"], by_prefix["Prefix"], by_prefix["IsTruncated"]],
          "byProduct": uploads(by_product), "noPrefix": uploads(no_prefix),
          "after": uploads(after), "completeEtag": done["ETag"], "sha256": h.hexdigest()
      }
    `, { endpoint: proxy.url, akid: full.accessKeyId, secret: full.secretAccessKey, token: full.sessionToken, file, size: data.length }, 90_000)
    const md5 = (bytes: Uint8Array) => `"${createHash("md5").update(bytes).digest("hex")}"`
    const five = 5 * 1024 * 1024
    const etags = [md5(data.subarray(0, five)), md5(data.subarray(five))]
    expect(out["etags"]).toStrictEqual(etags)
    expect(out["listed"]).toStrictEqual([[1, etags[0], five], [2, etags[1], data.length - five]])
    expect(out["listedMeta"]).toStrictEqual(["acme", "rw/mpa/copied=1+x.bin", out["uid"], false])
    expect(out["page1"]).toStrictEqual([[1], true, 1])
    expect(out["page2"]).toStrictEqual([[2], false])
    const open = [["rw/mpa/copied=1+x.bin", out["uid"]], ["rw/mpa/other upload.bin", out["other"]]]
    expect(out["byPrefix"]).toStrictEqual(open)
    expect(out["byPrefixMeta"]).toStrictEqual(["acme", "rw/mpa/", false])
    expect(out["byProduct"]).toStrictEqual(open)
    expect(out["noPrefix"]).toStrictEqual([])
    expect(out["after"]).toStrictEqual([])
    expect(out["completeEtag"]).toMatch(/-2"$/)
    expect(out["sha256"]).toBe(sha256(data))
    expect(sha256(await readFromMoto(motoS3, BUCKET, "rw-data/mpa/copied=1+x.bin"))).toBe(sha256(data))
  }, 90_000)

  it("product-level ListMultipartUploads (GET /acme/rw?uploads&prefix=…), signed by hand; keys in the account's namespace", async () => {
    const client = sdkClient(full)
    const signer = new AwsClient({ ...full, service: "s3", region: "us-east-1", retries: 0 })
    try {
      const created = await client.send(new CreateMultipartUploadCommand({ Bucket: ACCOUNT, Key: "rw/mpa-pl/one.bin" }))
      try {
        const response = await signer.fetch(`${proxy.url}/${ACCOUNT}/rw?uploads&prefix=mpa-pl%2F`)
        const body = await response.text()
        expect(response.status, body).toBe(200)
        expect(body).toContain("<ListMultipartUploadsResult")
        expect([...body.matchAll(/<Upload><Key>([^<]*)<\/Key><UploadId>([^<]*)<\/UploadId>/g)].map((m) => [m[1], m[2]]))
          .toStrictEqual([["rw/mpa-pl/one.bin", created.UploadId]])
        const parts = await signer.fetch(`${proxy.url}/${ACCOUNT}/rw/mpa-pl/one.bin?uploadId=${encodeURIComponent(created.UploadId!)}`)
        const partsBody = await parts.text()
        expect(parts.status, partsBody).toBe(200)
        expect(partsBody).toContain("<Key>rw/mpa-pl/one.bin</Key>")
        expect(partsBody).not.toContain("<Part>")
      } finally {
        await client.send(new AbortMultipartUploadCommand({ Bucket: ACCOUNT, Key: "rw/mpa-pl/one.bin", UploadId: created.UploadId }))
      }
    } finally {
      client.destroy()
    }
  })

  it("denials: anonymous, outside the Role ceiling, a part copied from outside the ceiling → 403, nothing copied", async () => {
    const out = await runBoto3<Array<[string, number, string | null]>>(`
      limited = boto3.client("s3", endpoint_url=inp["endpoint"], region_name="us-east-1",
          aws_access_key_id=inp["akid"], aws_secret_access_key=inp["secret"], aws_session_token=inp["token"],
          config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"}))
      def attempt(name, call):
          try:
              call()
              return [name, 200, None]
          except ClientError as e:
              return [name, e.response["ResponseMetadata"]["HTTPStatusCode"], e.response.get("Error", {}).get("Code")]
      uid = limited.create_multipart_upload(Bucket="acme", Key="rw/allowed/mpa.bin")["UploadId"]
      out = [
          attempt("anonymous list uploads", lambda: s3.list_multipart_uploads(Bucket="acme", Prefix="rw/")),
          attempt("anonymous list parts", lambda: s3.list_parts(Bucket="acme", Key="rw/allowed/mpa.bin", UploadId=uid)),
          attempt("limited list uploads outside", lambda: limited.list_multipart_uploads(Bucket="acme", Prefix="rw/other/")),
          attempt("limited list uploads inside", lambda: limited.list_multipart_uploads(Bucket="acme", Prefix="rw/allowed/")),
          attempt("limited part copy from outside", lambda: limited.upload_part_copy(Bucket="acme", Key="rw/allowed/mpa.bin",
              UploadId=uid, PartNumber=1, CopySource={"Bucket": "acme", "Key": "rw/other/x"})),
          attempt("limited list parts inside", lambda: limited.list_parts(Bucket="acme", Key="rw/allowed/mpa.bin", UploadId=uid)),
      ]
      parts = limited.list_parts(Bucket="acme", Key="rw/allowed/mpa.bin", UploadId=uid).get("Parts", [])
      limited.abort_multipart_upload(Bucket="acme", Key="rw/allowed/mpa.bin", UploadId=uid)
      out.append(["parts after the denied copy", len(parts), None])
    `, { endpoint: proxy.url, akid: limited.accessKeyId, secret: limited.secretAccessKey, token: limited.sessionToken })
    expect(out).toStrictEqual([
      ["anonymous list uploads", 403, "AccessDenied"],
      ["anonymous list parts", 403, "AccessDenied"],
      ["limited list uploads outside", 403, "AccessDenied"],
      ["limited list uploads inside", 200, null],
      ["limited part copy from outside", 403, "AccessDenied"],
      ["limited list parts inside", 200, null],
      ["parts after the denied copy", 0, null]
    ])
  })
})

describe("denials: 403 AccessDenied, the backend untouched", () => {
  it("read-only connection, no write permission, outside the Role ceiling, anonymous (put, delete, copy, multipart)", async () => {
    const out = await runBoto3<Record<string, unknown>>(`
      def signed(c):
          return boto3.client("s3", endpoint_url=inp["endpoint"], region_name="us-east-1",
              aws_access_key_id=c["akid"], aws_secret_access_key=c["secret"], aws_session_token=c["token"],
              config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"}))
      full = signed(inp["full"])
      limited = signed(inp["limited"])
      def attempt(name, call):
          try:
              call()
              return [name, 200, None]
          except ClientError as e:
              return [name, e.response["ResponseMetadata"]["HTTPStatusCode"], e.response.get("Error", {}).get("Code")]
      out = [
          attempt("ro put", lambda: full.put_object(Bucket="acme", Key="ro/existing.txt", Body=b"overwritten")),
          attempt("ro delete", lambda: full.delete_object(Bucket="acme", Key="ro/existing.txt")),
          attempt("ro multipart", lambda: full.create_multipart_upload(Bucket="acme", Key="ro/existing.txt")),
          attempt("nowrite put", lambda: full.put_object(Bucket="acme", Key="nowrite/existing.txt", Body=b"overwritten")),
          attempt("nowrite delete", lambda: full.delete_object(Bucket="acme", Key="nowrite/existing.txt")),
          attempt("nowrite copy", lambda: full.copy_object(Bucket="acme", Key="nowrite/existing.txt",
              CopySource={"Bucket": "acme", "Key": "rw/copy/src.txt"})),
          attempt("limited outside put", lambda: limited.put_object(Bucket="acme", Key="rw/other/x", Body=b"overwritten")),
          attempt("limited outside delete", lambda: limited.delete_object(Bucket="acme", Key="rw/other/x")),
          attempt("limited near-miss put", lambda: limited.put_object(Bucket="acme", Key="rw/allowed-not/x", Body=b"no")),
          attempt("limited copy out of the ceiling", lambda: limited.copy_object(Bucket="acme", Key="rw/allowed/stolen.txt",
              CopySource={"Bucket": "acme", "Key": "rw/other/x"})),
          attempt("anonymous put", lambda: s3.put_object(Bucket="acme", Key="rw/anon.txt", Body=b"overwritten")),
          attempt("anonymous delete", lambda: s3.delete_object(Bucket="acme", Key="rw/anon.txt")),
          attempt("anonymous multipart", lambda: s3.create_multipart_upload(Bucket="acme", Key="rw/anon.txt")),
          attempt("limited inside put", lambda: limited.put_object(Bucket="acme", Key="rw/allowed/ok.txt", Body=b"ok")),
      ]
      bulk = limited.delete_objects(Bucket="acme", Delete={"Objects": [{"Key": "rw/other/x"}, {"Key": "rw/allowed/ok.txt"}]})
      out = {"attempts": out, "bulkDeleted": [d["Key"] for d in bulk.get("Deleted", [])],
             "bulkErrors": [(e["Key"], e["Code"]) for e in bulk.get("Errors", [])]}
    `, {
      endpoint: proxy.url,
      full: { akid: full.accessKeyId, secret: full.secretAccessKey, token: full.sessionToken },
      limited: { akid: limited.accessKeyId, secret: limited.secretAccessKey, token: limited.sessionToken }
    })
    const attempts = out["attempts"] as Array<[string, number, string | null]>
    for (const [name, status, code] of attempts) {
      if (name === "limited inside put") expect([name, status], String(code)).toStrictEqual([name, 200])
      else expect([name, status, code]).toStrictEqual([name, 403, "AccessDenied"])
    }
    expect(out["bulkDeleted"]).toStrictEqual(["rw/allowed/ok.txt"])
    expect(out["bulkErrors"]).toStrictEqual([["rw/other/x", "AccessDenied"]])
    expect(await inMoto("ro-data/existing.txt")).toBe("original ro")
    expect(await inMoto("nowrite-data/existing.txt")).toBe("original nowrite")
    expect(await inMoto("rw-data/other/x")).toBe("original other")
    expect(await inMoto("rw-data/anon.txt")).toBe("original anon")
    expect(await inMoto("rw-data/allowed-not/x")).toBeUndefined()
    expect(await inMoto("rw-data/allowed/stolen.txt")).toBeUndefined()
    expect(await inMoto("rw-data/allowed/ok.txt")).toBeUndefined() // put, then deleted by the bulk delete
    const uploads = await fetch(`${moto.endpoint}/${BUCKET}?uploads`)
    expect(await uploads.text()).not.toContain("<Upload>")
  })

  it("anonymous raw PUT and POST ?delete: 403 AccessDenied XML", async () => {
    const put = await fetch(`${proxy.url}/${ACCOUNT}/rw/anon.txt`, { method: "PUT", body: "overwritten" })
    const putBody = await put.text()
    expect([put.status, parseError(putBody).Code]).toStrictEqual([403, "AccessDenied"])
    const xml = "<Delete><Object><Key>rw/anon.txt</Key></Object></Delete>"
    const del = await fetch(`${proxy.url}/${ACCOUNT}?delete`, { method: "POST", body: xml })
    const delBody = await del.text()
    // Either the whole request is refused, or every key is reported as AccessDenied.
    if (del.status === 200) expect(delBody).toMatch(/<Error><Key>rw\/anon.txt<\/Key><Code>AccessDenied<\/Code>/)
    else expect([del.status, parseError(delBody).Code]).toStrictEqual([403, "AccessDenied"])
    expect(await inMoto("rw-data/anon.txt")).toBe("original anon")
  })
})

describe("a client that disconnects mid-upload", () => {
  it("leaves no object (HEAD 404 through the proxy and in moto) and the proxy keeps serving", async () => {
    const total = 10 * 1024 * 1024
    const url = `${proxy.url}/${ACCOUNT}/rw/partial/cut.bin`
    const signer = new AwsClient({ ...full, service: "s3", region: "us-east-1", retries: 0 })
    const signed = await signer.sign(url, { method: "PUT", headers: { "x-amz-content-sha256": "UNSIGNED-PAYLOAD" } })
    const headers: Record<string, string> = { "content-length": String(total) }
    signed.headers.forEach((value, name) => {
      headers[name] = value
    })
    const target = new URL(url)
    const outcome = await new Promise<string>((resolve) => {
      const req = httpRequest({ host: target.hostname, port: target.port, method: "PUT", path: target.pathname, headers })
      req.on("response", (res) => {
        res.resume()
        resolve(`answered ${res.statusCode}`)
      })
      req.on("error", () => resolve("cut"))
      req.on("close", () => resolve("cut"))
      req.write(randomBytes(1024 * 1024), () => {
        setTimeout(() => req.destroy(), 200)
      })
    })
    expect(outcome).toBe("cut")
    await sleep(1_000)
    const client = sdkClient(full)
    try {
      expect(await statusOf(client.send(new HeadObjectCommand({ Bucket: ACCOUNT, Key: "rw/partial/cut.bin" })))).toBe(404)
      expect(await inMoto("rw-data/partial/cut.bin")).toBeUndefined()
      const still = await client.send(new GetObjectCommand({ Bucket: ACCOUNT, Key: "rw/copy/src.txt" }))
      expect(await still.Body!.transformToString()).toBe("copy me")
      await client.send(new PutObjectCommand({ Bucket: ACCOUNT, Key: "rw/partial/after.txt", Body: "after" }))
      expect(await inMoto("rw-data/partial/after.txt")).toBe("after")
    } finally {
      client.destroy()
    }
  })
})

describe("client compatibility (docs/s3-compatibility.md#client-rules): Go's XML, folder markers, small parts, expired presigned PUTs", () => {
  /** rclone's S3 backend with the session credentials, on a clean environment (no AWS_* settings). */
  const rclone = (args: ReadonlyArray<string>, creds: Creds) =>
    run("rclone", [
      ...args, "--config", "/dev/null", "--s3-provider", "Other", "--s3-endpoint", proxy.url, "--s3-env-auth=false",
      "--s3-access-key-id", creds.accessKeyId, "--s3-secret-access-key", creds.secretAccessKey, "--s3-session-token", creds.sessionToken,
      "--s3-region", "us-east-1", "--s3-force-path-style", "--s3-no-check-bucket", "--retries", "1", "--low-level-retries", "1"
    ], {
      timeoutMs: 90_000,
      env: Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("AWS_")))
    })

  it("rclone (Go's encoder writes the ETags' quotes as &#34;) completes a 12 MiB multipart upload", async () => {
    const data = randomBytes(12 * 1024 * 1024)
    const file = join(workDir, "rclone-big.bin")
    writeFileSync(file, data)
    const result = await rclone(["copyto", file, `:s3:${ACCOUNT}/rw/rclone/big.bin`, "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M"], full)
    expect(result.status, result.stderr).toBe(0)
    expect(sha256(await readFromMoto(motoS3, BUCKET, "rw-data/rclone/big.bin"))).toBe(sha256(data))
    const head = await motoS3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "rw-data/rclone/big.bin" }))
    expect(head.ETag).toMatch(/-3"$/) // three parts: it went through CompleteMultipartUpload
  }, 90_000)

  it("DeleteObjects written as Go writes it (&#39;, &#34;) deletes those keys; a body cut short is 400 MalformedXML and deletes nothing", async () => {
    const keys = ["go/it's.txt", "go/say \"hi\".txt", "go/keep.txt"]
    for (const key of keys) await motoS3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `rw-data/${key}`, Body: key }))
    const client = new AwsClient({ ...full, service: "s3", region: "us-east-1", retries: 0 })
    const post = (xml: string) =>
      client.fetch(`${proxy.url}/${ACCOUNT}?delete`, {
        method: "POST",
        body: xml,
        headers: { "content-type": "application/xml", "content-md5": createHash("md5").update(xml).digest("base64") }
      })

    const cut = await post(`<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>rw/go/keep.txt</Key>`)
    const cutBody = await cut.text()
    expect([cut.status, parseError(cutBody).Code], cutBody).toStrictEqual([400, "MalformedXML"])
    expect(await inMoto("rw-data/go/keep.txt")).toBe("go/keep.txt")

    const xml = `<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>rw/go/it&#39;s.txt</Key></Object>`
      + `<Object><Key>rw/go/say &#34;hi&#34;.txt</Key></Object><Quiet>false</Quiet></Delete>`
    const response = await post(xml)
    const body = await response.text()
    expect(response.status, body).toBe(200)
    expect(body).not.toContain("<Error>")
    expect(await inMoto("rw-data/go/it's.txt")).toBeUndefined()
    expect(await inMoto("rw-data/go/say \"hi\".txt")).toBeUndefined()
    expect(await inMoto("rw-data/go/keep.txt")).toBe("go/keep.txt")
  })

  it("aws-cli writes, reads and deletes a folder marker (`put-object --key rw/marker/dir/`)", async () => {
    const env = credsEnv(full)
    const endpoint = ["--endpoint-url", proxy.url]
    const put = await runAws(["s3api", "put-object", "--bucket", ACCOUNT, "--key", "rw/marker/dir/", ...endpoint], 30_000, env)
    expect(put.status, put.stderr).toBe(0)
    expect(await inMoto("rw-data/marker/dir/")).toBe("")
    const head = await runAws(["s3api", "head-object", "--bucket", ACCOUNT, "--key", "rw/marker/dir/", "--output", "json", ...endpoint], 30_000, env)
    expect(head.status, head.stderr).toBe(0)
    expect((JSON.parse(head.stdout.toString()) as { ContentLength: number }).ContentLength).toBe(0)
    const del = await runAws(["s3api", "delete-object", "--bucket", ACCOUNT, "--key", "rw/marker/dir/", ...endpoint], 30_000, env)
    expect(del.status, del.stderr).toBe(0)
    expect(await inMoto("rw-data/marker/dir/")).toBeUndefined()
  })

  it("boto3: parts under 5 MiB but the last → complete_multipart_upload fails 400 EntityTooSmall", async () => {
    const out = await runBoto3<{ error: { code: string; status: number } }>(`
      w = boto3.client("s3", endpoint_url=inp["endpoint"], region_name="us-east-1",
          aws_access_key_id=inp["akid"], aws_secret_access_key=inp["secret"], aws_session_token=inp["token"],
          config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"}))
      key = "rw/small-parts/x.bin"
      uid = w.create_multipart_upload(Bucket="acme", Key=key)["UploadId"]
      parts = [{"PartNumber": n, "ETag": w.upload_part(Bucket="acme", Key=key, UploadId=uid, PartNumber=n, Body=b"x" * 1024 * 1024)["ETag"]}
               for n in (1, 2)]
      try:
          w.complete_multipart_upload(Bucket="acme", Key=key, UploadId=uid, MultipartUpload={"Parts": parts})
          out = {"error": None}
      except ClientError as e:
          out = {"error": error_of(e), "raw": e.response.get("Error")}
      w.abort_multipart_upload(Bucket="acme", Key=key, UploadId=uid)
    `, { endpoint: proxy.url, akid: full.accessKeyId, secret: full.secretAccessKey, token: full.sessionToken })
    expect(out.error, JSON.stringify(out)).toStrictEqual({ code: "EntityTooSmall", status: 400 })
    expect(await inMoto("rw-data/small-parts/x.bin")).toBeUndefined()
  })

  it("a presigned PUT that has expired (boto3, ExpiresIn=-1000 as ceph s3-tests) → 403 AccessDenied 'Request has expired'", async () => {
    const out = await runBoto3<{ status: number; body: string }>(`
      import urllib.request, urllib.error
      w = boto3.client("s3", endpoint_url=inp["endpoint"], region_name="us-east-1",
          aws_access_key_id=inp["akid"], aws_secret_access_key=inp["secret"], aws_session_token=inp["token"],
          config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
      url = w.generate_presigned_url("put_object", Params={"Bucket": "acme", "Key": "rw/presigned/late.txt"}, ExpiresIn=-1000)
      try:
          r = urllib.request.urlopen(urllib.request.Request(url, data=b"foo", method="PUT"), timeout=30)
          out = {"status": r.status, "body": r.read().decode()}
      except urllib.error.HTTPError as e:
          out = {"status": e.code, "body": e.read().decode()}
    `, { endpoint: proxy.url, akid: full.accessKeyId, secret: full.secretAccessKey, token: full.sessionToken })
    const error = parseError(out.body)
    expect([out.status, error.Code, error.Message]).toStrictEqual([403, "AccessDenied", "Request has expired"])
    expect(await inMoto("rw-data/presigned/late.txt")).toBeUndefined()
  })
})
