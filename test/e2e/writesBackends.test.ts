import { createHash, randomBytes } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { RestError } from "@azure/storage-blob"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningAzurite, AZURITE_ACCOUNT, AZURITE_KEY, seedContainer, startAzurite } from "../fakes/azurite.js"
import { runAws, runBoto3 } from "./harness/clients.js"
import { type RunningGcs, startGcs } from "../fakes/gcs/server.js"
import { type RunningSourceApi, startSourceApi } from "./harness/sourceApi.js"
import { botoCreds, botoSessionClient, credsEnv, type SessionCredentials, startStsProxy, type StsProxy } from "./harness/sts.js"

/**
 * Writes end to end on the two non-S3 backends (docs/backends.md#writes): the scenarios of writes.test.ts, run
 * with real clients (boto3, aws-cli) through the Bun proxy on session credentials from its `/.sts`, once against
 * Azurite (an `az_shared_key` connection) and once against the in-test GCS XML API (a `gcs_hmac` connection,
 * signatures verified). What reached each backend is read back from it directly, not through the proxy.
 */

const ACCOUNT = "acme"
const AUDIENCE = "e2e-writes-backends.source.coop"
const DEFAULT_ROLE = `arn:aws:iam::${ACCOUNT}:role/_default`
const CONTAINER = "e2e-writes-az"
const GCS_BUCKET = "e2e-writes-gs"
const HMAC_ID = "GOOG1EE2EWRITESHMACKEYEXAMPLE000000000000000000000000000000"
const HMAC_SECRET = "e2e/gcs+writes/Secret0123456789abcdefABCDEF"
const MiB = 1024 * 1024

/** Objects every backend starts with, relative to its product. */
const SEED: Record<string, string> = {
  "copy/src.txt": "copy me",
  "keep/a.txt": "keep a",
  "keep/b.txt": "keep b",
  "cond/existing.txt": "original cond",
  "anon/existing.txt": "original anon",
  "ifmatch/existing.txt": "original ifmatch"
}

/** What a backend holds for a key, read from the backend itself. */
interface Stored {
  readonly bytes: Buffer
  readonly contentType: string | undefined
  readonly metadata: Record<string, string>
}

interface Backend {
  readonly label: string
  /** The product (`acme/<product>`) on this backend, and its prefix in the container or bucket. */
  readonly product: "az" | "gs"
  readonly prefix: string
  /** The object under the product's `key`, straight from the backend; undefined when absent. */
  stored(key: string): Promise<Stored | undefined>
  /** How many pieces the object was assembled from (committed blocks, composite components); 1 for a plain put. */
  pieces(key: string): Promise<number>
}

let azurite: RunningAzurite
let gcs: RunningGcs
let api: RunningSourceApi
let sts: StsProxy
let full: SessionCredentials
let workDir: string

const AZURE: Backend = {
  label: "Azure (Azurite, az_shared_key)",
  product: "az",
  prefix: "az-data/",
  stored: async (key) => {
    const blob = azurite.service.getContainerClient(CONTAINER).getBlobClient(`az-data/${key}`)
    try {
      const properties = await blob.getProperties()
      return { bytes: await blob.downloadToBuffer(), contentType: properties.contentType, metadata: properties.metadata ?? {} }
    } catch (e) {
      if ((e as RestError).statusCode === 404) return undefined
      throw e
    }
  },
  pieces: async (key) => {
    const list = await azurite.service.getContainerClient(CONTAINER).getBlockBlobClient(`az-data/${key}`).getBlockList("committed")
    return Math.max(1, list.committedBlocks?.length ?? 0)
  }
}

const GCS: Backend = {
  label: "GCS (in-test XML API server, gcs_hmac)",
  product: "gs",
  prefix: "gs-data/",
  stored: async (key) => {
    const object = gcs.get(GCS_BUCKET, `gs-data/${key}`)
    return object === undefined ? undefined : { bytes: object.bytes, contentType: object.contentType, metadata: { ...object.metadata } }
  },
  pieces: async (key) => gcs.get(GCS_BUCKET, `gs-data/${key}`)?.composite?.componentCount ?? 1
}

const BACKENDS: ReadonlyArray<Backend> = [AZURE, GCS]

const product = (productId: string, connectionId: string, prefix: string, storageType: string) => ({
  product_id: productId,
  account_id: ACCOUNT,
  title: `e2e ${productId}`,
  visibility: "public",
  disabled: false,
  data_mode: "open",
  metadata: { primary_mirror: "main", mirrors: { main: { connection_id: connectionId, prefix, storage_type: storageType } } }
})

const sha256 = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex")
const text = async (backend: Backend, key: string) => (await backend.stored(key))?.bytes.toString()

/** The snippet's non-blank lines with their common indentation removed. */
const dedent = (snippet: string): Array<string> => {
  const lines = snippet.split("\n").filter((l) => l.trim() !== "")
  const indent = Math.min(...lines.map((l) => /^ */.exec(l)![0].length))
  return lines.map((l) => l.slice(indent))
}

/** boto3 with the session credentials: `w`, a SigV4 client on the proxy; `attempt(call)` → [status, code]. */
const boto = <T>(snippet: string, input: Record<string, unknown> = {}, timeoutMs?: number) =>
  runBoto3<T>(`
    ${botoSessionClient("w")}
    def attempt(call):
        try:
            call()
            return [200, None]
        except ClientError as e:
            return [e.response["ResponseMetadata"]["HTTPStatusCode"], e.response.get("Error", {}).get("Code")]
    ${dedent(snippet).join("\n    ")}
  `, { endpoint: sts.proxy.url, ...botoCreds(full), ...input }, timeoutMs)

interface Scenario {
  readonly name: string
  /** Only on this backend (a dialect's documented difference); both when absent. */
  readonly only?: Backend["product"]
  readonly timeoutMs?: number
  run(backend: Backend): Promise<void>
}

const SCENARIOS: ReadonlyArray<Scenario> = [
  {
    name: "boto3 put_object with metadata and content-type → read back byte-exact, metadata echoed",
    run: async (b) => {
      const body = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.from("\nünïcödé\r\n")])
      const out = await boto<Record<string, unknown>>(`
        key = inp["p"] + "/put/hello world.bin"
        put = w.put_object(Bucket="acme", Key=key, Body=base64.b64decode(inp["body"]),
            ContentType="text/plain; charset=utf-8", Metadata={"color": "blue", "owner": "e2e"})
        got = w.get_object(Bucket="acme", Key=key)
        out = {"putEtag": put["ETag"], "getEtag": got["ETag"], "body": base64.b64encode(got["Body"].read()).decode(),
               "contentType": got["ContentType"], "metadata": got["Metadata"], "length": got["ContentLength"]}
      `, { p: b.product, body: body.toString("base64") })
      expect(Buffer.from(out["body"] as string, "base64").equals(body)).toBe(true)
      expect(out["length"]).toBe(body.length)
      expect(out["contentType"]).toBe("text/plain; charset=utf-8")
      expect(out["metadata"]).toStrictEqual({ color: "blue", owner: "e2e" })
      expect(out["putEtag"]).toBe(out["getEtag"])
      const stored = await b.stored("put/hello world.bin")
      expect(stored?.bytes.equals(body)).toBe(true)
      expect(stored?.contentType).toBe("text/plain; charset=utf-8")
      expect(stored?.metadata).toStrictEqual({ color: "blue", owner: "e2e" })
    }
  },
  {
    name: "boto3 upload_file of 20 MiB (multipart, 8 MiB threshold and parts) → same sha256, assembled from 3 parts",
    timeoutMs: 45_000,
    run: async (b) => {
      const data = randomBytes(20 * MiB)
      const file = join(workDir, `big-${b.product}.bin`)
      writeFileSync(file, data)
      const out = await boto<{ sha256: string; length: number }>(`
        from boto3.s3.transfer import TransferConfig
        key = inp["p"] + "/big/20mib.bin"
        chunk = 8 * 1024 * 1024
        w.upload_file(inp["file"], "acme", key, Config=TransferConfig(multipart_threshold=chunk, multipart_chunksize=chunk, max_concurrency=3))
        h = hashlib.sha256()
        n = 0
        for part in w.get_object(Bucket="acme", Key=key)["Body"].iter_chunks(1024 * 1024):
            h.update(part)
            n += len(part)
        out = {"sha256": h.hexdigest(), "length": n}
      `, { p: b.product, file }, 40_000)
      expect(out).toStrictEqual({ sha256: sha256(data), length: data.length })
      const stored = await b.stored("big/20mib.bin")
      expect(stored && sha256(stored.bytes)).toBe(sha256(data))
      expect(await b.pieces("big/20mib.bin")).toBe(3) // 8 + 8 + 4 MiB: it went through the multipart path
    }
  },
  {
    name: "boto3 copy_object within the product → read back; the source unchanged",
    run: async (b) => {
      const out = await boto<Record<string, unknown>>(`
        p = inp["p"]
        copied = w.copy_object(Bucket="acme", Key=p + "/copy/dst=1.txt", CopySource={"Bucket": "acme", "Key": p + "/copy/src.txt"})
        out = {"etag": copied["CopyObjectResult"]["ETag"],
               "body": w.get_object(Bucket="acme", Key=p + "/copy/dst=1.txt")["Body"].read().decode(),
               "headEtag": w.head_object(Bucket="acme", Key=p + "/copy/dst=1.txt")["ETag"]}
      `, { p: b.product })
      expect(out["body"]).toBe("copy me")
      expect(out["etag"]).toBe(out["headEtag"])
      expect(await text(b, "copy/dst=1.txt")).toBe("copy me")
      expect(await text(b, "copy/src.txt")).toBe("copy me")
    }
  },
  {
    name: "boto3 delete_objects of existing and missing keys → all reported deleted, and gone",
    run: async (b) => {
      const out = await boto<Record<string, unknown>>(`
        p = inp["p"]
        deleted = w.delete_objects(Bucket="acme", Delete={"Objects": [{"Key": p + "/keep/a.txt"}, {"Key": p + "/missing/none.txt"},
            {"Key": p + "/keep/b.txt"}]})
        out = {"deleted": sorted(d["Key"] for d in deleted.get("Deleted", [])),
               "errors": deleted.get("Errors", []),
               "heads": [attempt(lambda: w.head_object(Bucket="acme", Key=p + "/keep/a.txt")),
                         attempt(lambda: w.head_object(Bucket="acme", Key=p + "/keep/b.txt"))]}
      `, { p: b.product })
      const p = b.product
      expect(out["deleted"]).toStrictEqual([`${p}/keep/a.txt`, `${p}/keep/b.txt`, `${p}/missing/none.txt`])
      expect(out["errors"]).toStrictEqual([])
      expect(out["heads"]).toStrictEqual([[404, "404"], [404, "404"]])
      expect(await b.stored("keep/a.txt")).toBeUndefined()
      expect(await b.stored("keep/b.txt")).toBeUndefined()
    }
  },
  {
    name: "boto3 put_object IfNoneMatch=\"*\": an existing key → 412 PreconditionFailed and unchanged; a new key → created",
    run: async (b) => {
      const out = await boto<Record<string, unknown>>(`
        p = inp["p"]
        out = {"existing": attempt(lambda: w.put_object(Bucket="acme", Key=p + "/cond/existing.txt", Body=b"overwritten", IfNoneMatch="*")),
               "fresh": attempt(lambda: w.put_object(Bucket="acme", Key=p + "/cond/fresh.txt", Body=b"created once", IfNoneMatch="*"))}
      `, { p: b.product })
      expect(out["existing"]).toStrictEqual([412, "PreconditionFailed"])
      expect(out["fresh"]).toStrictEqual([200, null])
      expect(await text(b, "cond/existing.txt")).toBe("original cond")
      expect(await text(b, "cond/fresh.txt")).toBe("created once")
    }
  },
  {
    name: "aws-cli s3 cp up and down of a file with a space and `=` in its key",
    run: async (b) => {
      const data = randomBytes(300_000)
      const local = join(workDir, `my file=${b.product}.bin`)
      writeFileSync(local, data)
      const env = credsEnv(full)
      const endpoint = ["--endpoint-url", sts.proxy.url]
      const remote = `s3://${ACCOUNT}/${b.product}/cli/part=1/my file.bin`
      const up = await runAws(["s3", "cp", local, remote, ...endpoint], 30_000, env)
      expect(up.status, up.stderr).toBe(0)
      const stored = await b.stored("cli/part=1/my file.bin")
      expect(stored && sha256(stored.bytes)).toBe(sha256(data))
      const downloaded = join(workDir, `down ${b.product}=1.bin`)
      const down = await runAws(["s3", "cp", remote, downloaded, ...endpoint], 30_000, env)
      expect(down.status, down.stderr).toBe(0)
      expect(sha256(readFileSync(downloaded))).toBe(sha256(data))
    }
  },
  {
    name: "an anonymous PUT (boto3 unsigned) → 403 AccessDenied, the backend unchanged",
    run: async (b) => {
      const out = await boto<Array<[number, string | null]>>(`
        p = inp["p"]
        out = [attempt(lambda: s3.put_object(Bucket="acme", Key=p + "/anon/existing.txt", Body=b"overwritten")),
               attempt(lambda: s3.put_object(Bucket="acme", Key=p + "/anon/new.txt", Body=b"planted"))]
      `, { p: b.product })
      expect(out).toStrictEqual([[403, "AccessDenied"], [403, "AccessDenied"]])
      expect(await text(b, "anon/existing.txt")).toBe("original anon")
      expect(await b.stored("anon/new.txt")).toBeUndefined()
    }
  },
  {
    name: "put_object IfMatch → 501 NotImplemented (GCS ignores If-Match on writes: refused, not ignored), unchanged",
    only: "gs",
    run: async (b) => {
      const out = await boto<Record<string, unknown>>(`
        key = inp["p"] + "/ifmatch/existing.txt"
        etag = w.head_object(Bucket="acme", Key=key)["ETag"]
        out = {"etag": etag, "matching": attempt(lambda: w.put_object(Bucket="acme", Key=key, Body=b"overwritten", IfMatch=etag)),
               "stale": attempt(lambda: w.put_object(Bucket="acme", Key=key, Body=b"overwritten", IfMatch='"0123"'))}
      `, { p: b.product })
      expect(out["etag"]).toBe(`"${createHash("md5").update("original ifmatch").digest("hex")}"`)
      expect(out["matching"]).toStrictEqual([501, "NotImplemented"])
      expect(out["stale"]).toStrictEqual([501, "NotImplemented"])
      expect(await text(b, "ifmatch/existing.txt")).toBe("original ifmatch")
      // Neither write reached the server.
      expect(gcs.requests.filter((r) => r.method === "PUT" && r.key === "gs-data/ifmatch/existing.txt")).toStrictEqual([])
    }
  },
  {
    name: "list_parts lists the uploaded part (Get Block List); the upload then aborts cleanly",
    only: "az",
    run: async (b) => {
      const out = await boto<Record<string, unknown>>(`
        key = inp["p"] + "/mpa/listed.bin"
        uid = w.create_multipart_upload(Bucket="acme", Key=key)["UploadId"]
        part = w.upload_part(Bucket="acme", Key=key, UploadId=uid, PartNumber=1, Body=b"part one")
        listed = w.list_parts(Bucket="acme", Key=key, UploadId=uid)
        out = {"listParts": [(p["PartNumber"], p["Size"], p["ETag"] == part["ETag"]) for p in listed.get("Parts", [])],
               "abort": attempt(lambda: w.abort_multipart_upload(Bucket="acme", Key=key, UploadId=uid)),
               "head": attempt(lambda: w.head_object(Bucket="acme", Key=key))}
      `, { p: b.product })
      expect(out["listParts"]).toStrictEqual([[1, 8, true]])
      expect(out["abort"]).toStrictEqual([200, null])
      expect(out["head"]).toStrictEqual([404, "404"])
      expect(await b.stored("mpa/listed.bin")).toBeUndefined()
    }
  }
]

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), "sdp-e2e-writes-backends-"))
  ;[azurite, gcs] = await Promise.all([startAzurite(), startGcs()])
  const seed = Object.entries(SEED)
  await seedContainer(azurite.service, CONTAINER, seed.map(([k, v]) => [`az-data/${k}`, Buffer.from(v)] as const), false)
  gcs.createBucket(GCS_BUCKET, { hmacKeys: { [HMAC_ID]: HMAC_SECRET } })
  for (const [k, v] of seed) gcs.put(GCS_BUCKET, `gs-data/${k}`, v, { contentType: "text/plain" })
  gcs.clearLog()

  const az = product("az", "conn-writes-az", AZURE.prefix, "az")
  const gs = product("gs", "conn-writes-gs", GCS.prefix, "gcs")
  const bearerOnly = (_call: number, request: { headers: Record<string, unknown> }) =>
    /^Bearer \S+$/.test(String(request.headers["authorization"] ?? "")) ? { body: ["read", "write"] } : { status: 401, body: {} }
  api = await startSourceApi({
    [`/api/v1/products/${ACCOUNT}`]: { body: { products: [az, gs] } },
    [`/api/v1/products/${ACCOUNT}/az`]: { body: az },
    [`/api/v1/products/${ACCOUNT}/gs`]: { body: gs },
    [`/api/v1/products/${ACCOUNT}/az/permissions`]: bearerOnly,
    [`/api/v1/products/${ACCOUNT}/gs/permissions`]: bearerOnly,
    "/api/v1/data-connections/conn-writes-az": {
      body: {
        data_connection_id: "conn-writes-az",
        read_only: false,
        name: "conn-writes-az",
        details: { provider: "az", account_name: AZURITE_ACCOUNT, container_name: CONTAINER, endpoint: azurite.endpoint, base_prefix: "" },
        authentication: { type: "az_shared_key", account_key: AZURITE_KEY }
      }
    },
    "/api/v1/data-connections/conn-writes-gs": {
      body: {
        data_connection_id: "conn-writes-gs",
        read_only: false,
        name: "conn-writes-gs",
        details: { provider: "gcs", bucket: GCS_BUCKET, endpoint: gcs.url, base_prefix: "" },
        authentication: { type: "gcs_hmac", access_key_id: HMAC_ID, secret: HMAC_SECRET }
      }
    }
  })
  sts = await startStsProxy({ sourceApiUrl: api.url, audience: AUDIENCE, name: "writes-backends" })
  full = await sts.assume(DEFAULT_ROLE, "writer")
})

afterAll(async () => {
  await sts?.stop()
  await api?.stop()
  await gcs?.stop()
  await azurite?.stop()
  if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true })
})

for (const backend of BACKENDS) {
  describe(`writes through the Bun proxy on ${backend.label}`, () => {
    for (const scenario of SCENARIOS.filter((s) => s.only === undefined || s.only === backend.product)) {
      it(scenario.name, () => scenario.run(backend), scenario.timeoutMs)
    }
  })
}

describe("what reached the GCS server", () => {
  it("every write was HMAC-signed with the connection's key; no anonymous write got through", () => {
    const writes = gcs.requests.filter((r) => r.method !== "GET" && r.method !== "HEAD")
    expect(writes.length).toBeGreaterThan(0)
    expect(writes.filter((r) => r.auth !== `hmac:${HMAC_ID}`)).toStrictEqual([])
    expect(writes.filter((r) => r.key?.startsWith("gs-data/anon/"))).toStrictEqual([])
  })
})
