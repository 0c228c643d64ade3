import { Duration, Effect, Layer } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { AZURE_API_VERSION, AzureProvider } from "../../src/core/backends/azure/AzureStore.js"
import { blobReadSas, decodeAccountKey } from "../../src/core/backends/azure/sharedKey.js"
import type { ObjectStore } from "../../src/core/backends/ObjectStore.js"
import type { BackendAuth, DataConnection } from "../../src/core/backends/connection.js"
import { AppConfig } from "../../src/core/services/AppConfig.js"
import { FetchUpstream } from "../../src/layers/FetchUpstream.js"
import { Hmac } from "../../src/core/services/Hmac.js"
import { Upstream, type UpstreamRequest } from "../../src/core/services/Upstream.js"
import { NodeCryptoHmac } from "../../src/platform/bun/NodeCryptoHmac.js"
import { AZURITE_ACCOUNT, AZURITE_KEY, containerSas, type RunningAzurite, startAzurite } from "../fakes/azurite.js"
import { settings } from "../fixtures/stubUpstream.js"
import { objectStoreWritesContract, writeRequest } from "./objectStoreWrites.contract.js"

/** Real HTTP (Node's fetch), node:crypto HMAC, a 10 s backend timeout. */
const live = Layer.mergeAll(
  FetchUpstream({ supportsCacheOption: false, keepEncodedBodies: false }),
  NodeCryptoHmac,
  Layer.succeed(AppConfig, { ...settings, backendTimeout: Duration.seconds(10) })
)

const connection = (container: string, endpoint: string, authentication: BackendAuth): DataConnection => ({
  data_connection_id: "azure-writes",
  read_only: false,
  details: { provider: "az", account_name: AZURITE_ACCOUNT, container_name: container, endpoint },
  authentication
})

/** One Azurite for every run in this file, stopped after the last. */
let azurite: Promise<RunningAzurite> | undefined
let runs = 0
const openStore = async (container: string, auth: () => BackendAuth, publicAccess = false): Promise<ObjectStore> => {
  azurite ??= startAzurite()
  const running = await azurite
  await running.service.getContainerClient(container).create(publicAccess ? { access: "container" } : {})
  return Effect.runPromise(
    Effect.flatMap(AzureProvider, (make) => make(connection(container, running.endpoint, auth()))).pipe(Effect.provide(live))
  )
}
const close = async () => {
  if (--runs === 0 && azurite !== undefined) await (await azurite).stop()
}

runs++
objectStoreWritesContract("Azure provider over Azurite (az_shared_key)", {
  open: () => openStore("writes-shared-key", () => ({ type: "az_shared_key", account_key: AZURITE_KEY })),
  close
})

runs++
objectStoreWritesContract("Azure provider over Azurite (az_sas, container SAS racwdl)", {
  open: () => openStore("writes-sas", () => ({ type: "az_sas", sas_token: containerSas("writes-sas", "racwdl") })),
  close
})

runs++
describe("Azure writes over Azurite: what a connection may not do", () => {
  afterAll(close)

  it("an anonymous connection (public container) has no writer", async () => {
    const store = await openStore("writes-public", () => ({ type: "unsigned" }), true)
    expect(store.writer).toBeUndefined()
  })

  it("a read-only SAS: put, delete and multipart answer AccessDenied", async () => {
    const store = await openStore("writes-read-only", () => ({ type: "az_sas", sas_token: containerSas("writes-read-only", "rl") }))
    const writer = store.writer!
    const tags = await Promise.all([
      Effect.runPromise(Effect.flip(writer.put(writeRequest("k.txt", new TextEncoder().encode("x"))))),
      Effect.runPromise(Effect.flip(writer.delete("k.txt"))),
      Effect.runPromise(Effect.flip(Effect.flatMap(
        writer.createMultipart({ key: "m.bin", headers: new Headers() }),
        (uploadId) => writer.uploadPart({ ...writeRequest("m.bin", new TextEncoder().encode("part")), uploadId, partNumber: 1 })
      )))
    ])
    expect(tags.map((e) => e._tag)).toStrictEqual(["AccessDenied", "AccessDenied", "AccessDenied"])
  })

  it("Azure-side view: escaped metadata names, content headers; an empty last part", async () => {
    const store = await openStore("writes-azure-view", () => ({ type: "az_shared_key", account_key: AZURITE_KEY }))
    const writer = store.writer!
    const utf8 = (text: string) => new TextEncoder().encode(text)
    await Effect.runPromise(writer.put(writeRequest("meta.txt", utf8("m"), {
      "content-type": "text/x-one",
      "x-amz-meta-two-words": "a b",
      "x-amz-meta-plain": "p"
    })))
    const running = await azurite!
    const properties = await running.service.getContainerClient("writes-azure-view").getBlobClient("meta.txt").getProperties()
    expect(properties.metadata).toStrictEqual({ two_x2dwords: "a b", plain: "p" })
    expect(properties.contentType).toBe("text/x-one")

    const uploadId = await Effect.runPromise(writer.createMultipart({ key: "empty-last.bin", headers: new Headers() }))
    // Every part but the last is at least 5 MiB (S3's rule, which the proxy keeps on Azure too).
    const first = "12345".repeat(1024 * 1024)
    const one = await Effect.runPromise(writer.uploadPart({ ...writeRequest("empty-last.bin", utf8(first)), uploadId, partNumber: 1 }))
    const two = await Effect.runPromise(writer.uploadPart({ ...writeRequest("empty-last.bin", new Uint8Array(0)), uploadId, partNumber: 2 }))
    await Effect.runPromise(writer.completeMultipart({
      key: "empty-last.bin",
      uploadId,
      parts: [{ partNumber: 1, etag: one.etag }, { partNumber: 2, etag: two.etag }],
      headers: new Headers()
    }))
    const reply = await Effect.runPromise(store.read({ key: "empty-last.bin", method: "GET", headers: new Headers() }))
    expect(await new Response(reply.body).text()).toBe(first)
  })

  it("copy-source preconditions: a wrong if-match → PreconditionFailed; the right one copies", async () => {
    const store = await openStore("writes-copy-conditions", () => ({ type: "az_sas", sas_token: containerSas("writes-copy-conditions", "racwdl") }))
    const writer = store.writer!
    const source = await Effect.runPromise(writer.put(writeRequest("src.txt", new TextEncoder().encode("s"))))
    const copy = (etag: string) =>
      writer.copy({ sourceKey: "src.txt", key: "dst.txt", headers: new Headers({ "x-amz-copy-source-if-match": etag }) })
    expect(await Effect.runPromise(Effect.flip(copy("\"0x8D000000\"")))).toMatchObject({ _tag: "PreconditionFailed" })
    expect((await Effect.runPromise(copy(source.etag))).etag).toMatch(/^"0x/)
  })

  it("a body of unknown length is refused before anything is sent", async () => {
    const store = await openStore("writes-unknown-length", () => ({ type: "az_shared_key", account_key: AZURITE_KEY }))
    const body = new ReadableStream<Uint8Array>({ start: (c) => c.close() })
    const error = await Effect.runPromise(Effect.flip(store.writer!.put({ ...writeRequest("k", body), contentLength: undefined })))
    expect(error).toMatchObject({ _tag: "InvalidRequest" })
  })
})

runs++
describe("Azure DeleteObjects over Azurite: Blob Batch keeps 1000 keys within the Workers subrequest budget", () => {
  afterAll(close)

  /** The store over an Upstream that counts what it sends. */
  const countingStore = async (container: string, auth: () => BackendAuth) => {
    azurite ??= startAzurite()
    const running = await azurite
    await running.service.getContainerClient(container).create()
    const sent: Array<string> = []
    const counting = Layer.effect(Upstream, Effect.map(Upstream, (upstream) => ({
      fetch: (request: UpstreamRequest) => {
        sent.push(`${request.method} ${new URL(request.url).search.startsWith("?restype=container&comp=batch") ? "batch" : "blob"}`)
        return upstream.fetch(request)
      }
    }))).pipe(Layer.provide(FetchUpstream({ supportsCacheOption: false, keepEncodedBodies: false })))
    const store = await Effect.runPromise(
      Effect.flatMap(AzureProvider, (make) => make(connection(container, running.endpoint, auth()))).pipe(
        Effect.provide(Layer.mergeAll(counting, NodeCryptoHmac, Layer.succeed(AppConfig, { ...settings, backendTimeout: Duration.seconds(30) })))
      )
    )
    return { store, sent, container: running.service.getContainerClient(container) }
  }

  for (const [kind, auth] of [
    ["az_shared_key", (): BackendAuth => ({ type: "az_shared_key", account_key: AZURITE_KEY })],
    ["az_sas", (): BackendAuth => ({ type: "az_sas", sas_token: containerSas("batch-delete-sas", "racwdl") })]
  ] as const) {
    it(`${kind}: 1000 keys (some absent, some odd) are 4 backend requests, each key deleted and reported`, async () => {
      const { store, sent, container } = await countingStore(kind === "az_sas" ? "batch-delete-sas" : "batch-delete-key", auth)
      const keys = Array.from({ length: 1000 }, (_, i) => (i % 97 === 0 ? `absent/${i}` : `d/${i % 3 === 0 ? "sp ace+é" : "k"}-${i}.txt`))
      const present = keys.filter((k) => !k.startsWith("absent/"))
      let next = 0
      await Promise.all(Array.from({ length: 16 }, async () => {
        while (next < present.length) await container.getBlockBlobClient(present[next++]!).upload("x", 1)
      }))
      const outcomes = await Effect.runPromise(store.writer!.deleteMany(keys))
      expect(outcomes).toStrictEqual(keys.map((key) => ({ key, error: undefined })))
      expect(sent).toStrictEqual(["POST batch", "POST batch", "POST batch", "POST batch"])
      const left: Array<string> = []
      for await (const blob of container.listBlobsFlat()) left.push(blob.name)
      expect(left).toStrictEqual([])
    })
  }
})

runs++
describe("Azure multipart bookkeeping over Azurite: what Azurite cannot show", () => {
  afterAll(close)

  // Azurite 3.35 answers Put Block From URL with 501 APINotImplemented, so the contract's uploadPartCopy
  // runs the Get Blob → Put Block fallback there; the SharedKey copy-source SAS is checked on its own.
  it("the SharedKey copy-source SAS (blobReadSas) reads the blob it names, and only with its signature", async () => {
    const store = await openStore("writes-source-sas", () => ({ type: "az_shared_key", account_key: AZURITE_KEY }))
    await Effect.runPromise(store.writer!.put(writeRequest("dir/sö urce=1.txt", new TextEncoder().encode("source bytes"))))
    const running = await azurite!
    const query = await Effect.runPromise(Effect.flatMap(Hmac, (hmac) =>
      blobReadSas(hmac, {
        account: AZURITE_ACCOUNT,
        key: decodeAccountKey(AZURITE_KEY)!,
        container: "writes-source-sas",
        blob: "dir/sö urce=1.txt",
        expiry: new Date(Date.now() + 60_000),
        version: AZURE_API_VERSION
      })).pipe(Effect.provide(NodeCryptoHmac)))
    const url = `${running.endpoint}/writes-source-sas/dir/s%C3%B6%20urce%3D1.txt`
    const signed = await fetch(`${url}?${query}`)
    expect([signed.status, await signed.text()]).toStrictEqual([200, "source bytes"])
    const forged = await fetch(`${url}?${query.replace(/sig=[^&]+/, "sig=AAAA")}`)
    await forged.body?.cancel()
    expect(forged.status).toBe(403)
  })
})
