/**
 * Section 6's Azure backend: Azurite (`azurite-blob`, started by test/fakes/azurite.ts under its stdin watchdog,
 * data in a temporary directory) with one private container holding `count` synthetic keys (16 bytes each), and a
 * container SAS (read + list) for listing it directly.
 */
import { AZURITE_KEY, containerSas, seedContainer, startAzurite } from "../test/fakes/azurite.js"
import { AZURE_CONTAINER, syntheticKeys } from "./fixture.js"

export interface AzureBackend {
  /** `http://127.0.0.1:PORT/devstoreaccount1`, the connection's `endpoint`. */
  readonly endpoint: string
  readonly accountKey: string
  /** `{endpoint}/{container}?restype=container&comp=list&prefix=…&{sas}`: List Blobs, signed with the SAS. */
  readonly listUrl: (prefix: string, maxResults: number) => string
  readonly stop: () => Promise<void>
}

export const startAzureBackend = async (count: number, concurrency = 32): Promise<AzureBackend> => {
  const azurite = await startAzurite()
  try {
    const body = new Uint8Array(16)
    await seedContainer(azurite.service, AZURE_CONTAINER, syntheticKeys(count).map((key) => [key, body] as const), false, concurrency)
  } catch (error) {
    await azurite.stop()
    throw error
  }
  const sas = containerSas(AZURE_CONTAINER)
  return {
    endpoint: azurite.endpoint,
    accountKey: AZURITE_KEY,
    listUrl: (prefix, maxResults) =>
      `${azurite.endpoint}/${AZURE_CONTAINER}?restype=container&comp=list&prefix=${encodeURIComponent(prefix)}`
      + `&maxresults=${maxResults}&${sas}`,
    stop: () => azurite.stop()
  }
}
