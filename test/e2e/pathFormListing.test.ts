import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { S3Client } from "@aws-sdk/client-s3"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { runBoto3 } from "./harness/clients.js"
import { type RunningMoto, startMoto } from "./harness/moto.js"
import { type RunningProxy, startBunProxy } from "./harness/proxy.js"
import { motoClient, seedBucket } from "./harness/s3.js"

/**
 * Path-form product listings (docs/listing.md#path-form-product-listing): a client whose endpoint URL carries the
 * account (`endpoint_url=http://proxy/acme`, `Bucket="four"`) sends `GET /acme/four?list-type=2&…`. Prefix,
 * start-after and marker are relative to the product, keys come back as `four/…`, and continuation tokens
 * round-trip, on S3 (moto) and on the local directory store alike. The scenarios are ceph/s3-tests' own.
 */

const ACCOUNT = "acme"
const MOTO_BUCKET = "path-form-data"
/** Each s3-tests scenario's keys, one product per key set and backend. */
const FOUR = ["bar", "baz", "foo", "quxx"]
const THREE = ["foo", "bar", "baz"]

let work: string
let moto: RunningMoto
let motoS3: S3Client
let proxy: RunningProxy

const product = (productId: string, connection: string, prefix: string) => ({
  account_id: ACCOUNT,
  product_id: productId,
  visibility: "public",
  disabled: false,
  metadata: { primary_mirror: "main", mirrors: { main: { connection_id: connection, prefix } } }
})

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "sdp-e2e-path-form-"))
  moto = await startMoto()
  motoS3 = motoClient(moto.endpoint)
  const seed: Record<string, string> = { "nested/fourth/decoy": "not in s3-four" }
  for (const key of FOUR) seed[`nested/four/${key}`] = key
  for (const key of THREE) seed[`nested/three/${key}`] = key
  await seedBucket(motoS3, MOTO_BUCKET, seed, true)
  for (const key of FOUR) {
    mkdirSync(join(work, "data/four"), { recursive: true })
    writeFileSync(join(work, "data/four", key), key)
  }
  for (const key of THREE) {
    mkdirSync(join(work, "data/three"), { recursive: true })
    writeFileSync(join(work, "data/three", key), key)
  }
  writeFileSync(join(work, "catalog.json"), JSON.stringify({
    products: [
      product("s3-four", "moto", "nested/four/"),
      product("s3-three", "moto", "nested/three/"),
      product("local-four", "local", "four/"),
      product("local-three", "local", "three/")
    ],
    data_connections: [
      { data_connection_id: "local", read_only: true, details: { provider: "local", path: "data" } },
      {
        data_connection_id: "moto",
        read_only: true,
        details: { provider: "s3", region: "us-east-1", bucket: MOTO_BUCKET, endpoint: moto.endpoint }
      }
    ]
  }))
  proxy = await startBunProxy({ CATALOG: join(work, "catalog.json") })
})

afterAll(async () => {
  await proxy?.stop()
  motoS3?.destroy()
  await moto?.stop()
  if (work !== undefined) rmSync(work, { recursive: true, force: true })
})

/** boto3 with the account in its endpoint URL: `Bucket` is the product. */
const boto3 = <T>(snippet: string, bucket: string) =>
  runBoto3<T>(
    `
    s3 = client(inp["endpoint"] + "/${ACCOUNT}")
    bucket = inp["bucket"]
    def keys(response):
        return [c["Key"] for c in response.get("Contents", [])]
    ${snippet.trim().split("\n").map((line) => line.trim() === "" ? "" : line).join("\n")}
    `,
    { endpoint: proxy.url, bucket }
  )

const within = (bucket: string, keys: ReadonlyArray<string>) => keys.map((k) => `${bucket}/${k}`)

describe.each(["s3", "local"])("path-form listings on the %s backend", (backend) => {
  const four = `${backend}-four`
  const three = `${backend}-three`

  it("listv2_maxkeys_one: one key, truncated; start-after the first key, and its continuation token, give the rest", async () => {
    const out = await boto3<Record<string, unknown>>(`
    first = s3.list_objects_v2(Bucket=bucket, MaxKeys=1)
    after = s3.list_objects_v2(Bucket=bucket, StartAfter="bar")
    resumed = s3.list_objects_v2(Bucket=bucket, ContinuationToken=first["NextContinuationToken"])
    out = {
        "first": [keys(first), first["IsTruncated"]],
        "after": [keys(after), after["IsTruncated"], after.get("StartAfter")],
        "resumed": [keys(resumed), resumed["IsTruncated"], resumed.get("ContinuationToken") == first["NextContinuationToken"]],
    }
    `, four)
    expect(out).toStrictEqual({
      first: [within(four, ["bar"]), true],
      after: [within(four, ["baz", "foo", "quxx"]), false, "bar"],
      resumed: [within(four, ["baz", "foo", "quxx"]), false, true]
    })
  })

  it("listv2_many: max-keys=2 gives [bar, baz] truncated; start-after=baz, or the token, gives [foo]", async () => {
    const out = await boto3<Record<string, unknown>>(`
    first = s3.list_objects_v2(Bucket=bucket, MaxKeys=2)
    after = s3.list_objects_v2(Bucket=bucket, StartAfter="baz", MaxKeys=2)
    resumed = s3.list_objects_v2(Bucket=bucket, ContinuationToken=first["NextContinuationToken"], MaxKeys=2)
    out = {
        "first": [keys(first), first["IsTruncated"]],
        "after": [keys(after), after["IsTruncated"]],
        "resumed": [keys(resumed), resumed["IsTruncated"]],
    }
    `, three)
    expect(out).toStrictEqual({
      first: [within(three, ["bar", "baz"]), true],
      after: [within(three, ["foo"]), false],
      resumed: [within(three, ["foo"]), false]
    })
  })

  it("listv2_startafter_not_in_list: start-after=blah is echoed as sent and lists [foo, quxx]", async () => {
    const out = await boto3<Record<string, unknown>>(`
    response = s3.list_objects_v2(Bucket=bucket, StartAfter="blah")
    out = [response.get("StartAfter"), keys(response), response["IsTruncated"]]
    `, four)
    expect(out).toStrictEqual(["blah", within(four, ["foo", "quxx"]), false])
  })

  it("listv2_both_continuationtoken_startafter: the token wins, both are echoed as sent", async () => {
    const out = await boto3<Record<string, unknown>>(`
    first = s3.list_objects_v2(Bucket=bucket, StartAfter="bar", MaxKeys=1)
    token = first["NextContinuationToken"]
    second = s3.list_objects_v2(Bucket=bucket, StartAfter="bar", ContinuationToken=token)
    out = {
        "first": [keys(first), first["IsTruncated"]],
        "second": [second.get("ContinuationToken") == token, second.get("StartAfter"), second["IsTruncated"], keys(second)],
    }
    `, four)
    expect(out).toStrictEqual({
      first: [within(four, ["baz"]), true],
      second: [true, "bar", false, within(four, ["foo", "quxx"])]
    })
  })

  it("listv2_continuationtoken_empty: an empty token is echoed as '' and lists from the start", async () => {
    const out = await boto3<Record<string, unknown>>(`
    response = s3.list_objects_v2(Bucket=bucket, ContinuationToken="")
    out = [response.get("ContinuationToken", "absent"), response["IsTruncated"], keys(response)]
    `, four)
    expect(out).toStrictEqual(["", false, within(four, FOUR)])
  })

  it("the V2 paginator pages one key at a time through every key exactly once", async () => {
    const out = await boto3<Array<string>>(`
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 1})
    out = [key for page in pages for key in keys(page)]
    `, four)
    expect(out).toStrictEqual(within(four, FOUR))
  })

  it("V1: marker is relative to the product, and the NextMarker the proxy returns pages on (list_objects paginator)", async () => {
    const out = await boto3<Record<string, unknown>>(`
    after = s3.list_objects(Bucket=bucket, Marker="baz")
    first = s3.list_objects(Bucket=bucket, MaxKeys=1)
    pages = s3.get_paginator("list_objects").paginate(Bucket=bucket, PaginationConfig={"PageSize": 1})
    out = {
        "after": [keys(after), after.get("Marker")],
        "first": [keys(first), first["IsTruncated"], first.get("NextMarker")],
        "paged": [key for page in pages for key in keys(page)],
    }
    `, four)
    expect(out).toStrictEqual({
      after: [within(four, ["foo", "quxx"]), "baz"],
      first: [within(four, ["bar"]), true, "bar"],
      paged: within(four, FOUR)
    })
  })
})

describe("continuation tokens the local store did not issue", () => {
  it("are refused with 400 InvalidArgument, not answered from the start", async () => {
    const out = await boto3<Array<unknown>>(`
    results = []
    # base64url of "not-issued-here"; not base64url at all; base64url of "three/bar", another listing's position
    for token in ["bm90LWlzc3VlZC1oZXJl", "not a token at all", "dGhyZWUvYmFy"]:
        try:
            s3.list_objects_v2(Bucket=bucket, ContinuationToken=token)
            results.append("listed")
        except ClientError as e:
            results.append([error_of(e), e.response["Error"].get("Message")])
    out = results
    `, "local-four")
    const refused = [{ code: "InvalidArgument", status: 400 }, "The continuation token provided is incorrect"]
    expect(out).toStrictEqual([refused, refused, refused])
  })
})
