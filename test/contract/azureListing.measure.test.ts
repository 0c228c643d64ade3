import { Duration, Effect, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { AzureProvider } from "../../src/core/backends/azure/AzureStore.js"
import type { ObjectStore } from "../../src/core/backends/ObjectStore.js"
import { AppConfig } from "../../src/core/services/AppConfig.js"
import { FetchUpstream } from "../../src/layers/FetchUpstream.js"
import { NodeCryptoHmac } from "../../src/platform/bun/NodeCryptoHmac.js"
import { parseEnumerationResults } from "../../src/core/backends/azure/listXml.js"
import { AZURITE_ACCOUNT, AZURITE_KEY, containerSas, type RunningAzurite, seedContainer, startAzurite } from "../fakes/azurite.js"
import { settings } from "../fixtures/stubUpstream.js"

/**
 * A measurement, not a check (run with `SDP_MEASURE=1 npx vitest run test/contract/azureListing.measure.test.ts`):
 * listing 10 000 blobs, 1000 a page, through the Azure provider (request, SharedKey, parse into ListPage)
 * against the same pages fetched from Azurite by the Azure SDK. Medians of 5 runs are printed.
 */
const COUNT = 10_000
const CONTAINER = "measure"

describe.skipIf(process.env.SDP_MEASURE !== "1")("measure: listing 10 000 Azure blobs", () => {
  let azurite: RunningAzurite
  let store: ObjectStore
  beforeAll(async () => {
    azurite = await startAzurite()
    const body = new TextEncoder().encode("x")
    const objects = Array.from({ length: COUNT }, (_, i) => [`set/${String(i).padStart(6, "0")}.bin`, body] as const)
    await seedContainer(azurite.service, CONTAINER, objects, false, 64)
    const layer = Layer.mergeAll(
      FetchUpstream({ supportsCacheOption: false, keepEncodedBodies: false }),
      NodeCryptoHmac,
      Layer.succeed(AppConfig, { ...settings, backendTimeout: Duration.seconds(30) })
    )
    const connection = {
      data_connection_id: "measure",
      read_only: true,
      details: { provider: "az", account_name: AZURITE_ACCOUNT, container_name: CONTAINER, endpoint: azurite.endpoint },
      authentication: { type: "az_shared_key" as const, account_key: AZURITE_KEY }
    }
    store = await Effect.runPromise(Effect.flatMap(AzureProvider, (make) => make(connection)).pipe(Effect.provide(layer)))
  }, 300_000)
  afterAll(async () => {
    await azurite?.stop()
  })

  const median = (values: Array<number>) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!

  it("provider vs Azurite directly (SDK)", async () => {
    const viaProvider = async () => {
      let count = 0
      let token: string | undefined
      do {
        const page = await Effect.runPromise(store.list({ prefix: "", delimiter: "", maxKeys: 1000, continuationToken: token, startAfter: undefined }))
        count += page.objects.length
        token = page.nextContinuationToken
      } while (token !== undefined)
      return count
    }
    const direct = async () => {
      let count = 0
      for await (const page of azurite.service.getContainerClient(CONTAINER).listBlobsFlat().byPage({ maxPageSize: 1000 })) {
        count += page.segment.blobItems.length
      }
      return count
    }
    /** The floor: the same pages over plain fetch (SAS, nothing signed per request), bodies read as text, not parsed. */
    const sas = containerSas(CONTAINER)
    const pages: Array<string> = []
    const raw = async () => {
      let count = 0
      let marker = ""
      pages.length = 0
      do {
        const url = `${azurite.endpoint}/${CONTAINER}?restype=container&comp=list&maxresults=1000${marker === "" ? "" : `&marker=${encodeURIComponent(marker)}`}&${sas}`
        const text = await (await fetch(url, { headers: { "x-ms-version": "2021-12-02" } })).text()
        pages.push(text)
        count += text.split("<Blob>").length - 1
        marker = /<NextMarker>([^<]*)<\/NextMarker>/.exec(text)?.[1] ?? ""
      } while (marker !== "")
      return count
    }
    const time = async (run: () => Promise<number>) => {
      const start = performance.now()
      expect(await run()).toBe(COUNT)
      return performance.now() - start
    }
    await time(viaProvider) // warm-up
    await time(direct)
    await time(raw)
    const provider: Array<number> = []
    const sdk: Array<number> = []
    const plain: Array<number> = []
    for (let i = 0; i < 5; i++) {
      provider.push(await time(viaProvider))
      sdk.push(await time(direct))
      plain.push(await time(raw))
    }
    const parseStart = performance.now()
    for (const page of pages) await Effect.runPromise(parseEnumerationResults(page))
    const parseMs = performance.now() - parseStart
    console.log(
      `[measure] listing ${COUNT} blobs, 1000 a page, 5 runs: provider median ${median(provider).toFixed(0)} ms ` +
        `(${provider.map((t) => t.toFixed(0)).join("/")}), Azure SDK direct median ${median(sdk).toFixed(0)} ms ` +
        `(${sdk.map((t) => t.toFixed(0)).join("/")}), plain fetch+text median ${median(plain).toFixed(0)} ms; ` +
        `parsing the ${pages.length} pages alone: ${parseMs.toFixed(1)} ms`
    )
  }, 300_000)
})
