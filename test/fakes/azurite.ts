import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import {
  BlobServiceClient,
  ContainerSASPermissions,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential
} from "@azure/storage-blob"
import { exited, freePort, sleep, spawnWatched, stopProcess, tail } from "./processes.js"

/** Azurite's well-known development account (the same in every Azurite and in the Azure docs). */
export const AZURITE_ACCOUNT = "devstoreaccount1"
export const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

export interface RunningAzurite {
  /** `http://127.0.0.1:PORT/devstoreaccount1`: the `endpoint` a data connection names. */
  readonly endpoint: string
  /** An SDK client with the account key, for seeding. */
  readonly service: BlobServiceClient
  stop(): Promise<void>
}

const AZURITE_BIN = resolve(import.meta.dirname, "../../node_modules/.bin/azurite-blob")

/**
 * Starts `azurite-blob` (npm devDependency) on a free 127.0.0.1 port with its data in a fresh temporary
 * directory, under the stdin watchdog like moto, and waits until it answers. `--loose` and
 * `--skipApiVersionCheck` keep it from refusing headers and versions real Azure accepts.
 */
export const startAzurite = async (): Promise<RunningAzurite> => {
  const port = await freePort()
  const location = await mkdtemp(join(tmpdir(), "sdp-azurite-"))
  const child = spawnWatched(AZURITE_BIN, [
    "--blobHost", "127.0.0.1", "--blobPort", String(port), "--location", location, "--silent",
    "--skipApiVersionCheck", "--loose"
  ], {})
  const output = tail()
  child.stdout?.on("data", output.push)
  child.stderr?.on("data", output.push)
  const endpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`
  const stop = async () => {
    await stopProcess(child)
    await rm(location, { recursive: true, force: true })
  }
  const deadline = Date.now() + 30_000
  for (;;) {
    if (exited(child)) throw new Error(`azurite-blob exited (${child.exitCode ?? child.signalCode}):\n${output.text}`)
    try {
      // Anonymous account-level calls are refused (403): any HTTP answer means it is listening.
      const response = await fetch(`${endpoint}?comp=list`, { signal: AbortSignal.timeout(1_000) })
      await response.arrayBuffer()
      break
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`azurite-blob did not answer on ${endpoint} within 30 s:\n${output.text}`)
    }
    await sleep(100)
  }
  const service = new BlobServiceClient(endpoint, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY))
  return { endpoint, service, stop }
}

/** Create `container` (public: anonymous reads and listings allowed) and upload every object, a few at a time. */
export const seedContainer = async (
  service: BlobServiceClient,
  container: string,
  objects: ReadonlyArray<readonly [string, Uint8Array]>,
  publicAccess: boolean,
  concurrency = 32
) => {
  const client = service.getContainerClient(container)
  await client.create(publicAccess ? { access: "container" } : {})
  let next = 0
  const worker = async () => {
    while (next < objects.length) {
      const [key, body] = objects[next++]!
      await client.getBlockBlobClient(key).uploadData(body)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
}

/** A container SAS (read + list, one hour) signed by the SDK with the account key: the `sas_token` of a connection. */
export const containerSas = (container: string, permissions = "rl"): string =>
  generateBlobSASQueryParameters({
    containerName: container,
    permissions: ContainerSASPermissions.parse(permissions),
    startsOn: new Date(Date.now() - 5 * 60_000),
    expiresOn: new Date(Date.now() + 60 * 60_000),
    version: "2021-12-02"
  }, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY)).toString()
