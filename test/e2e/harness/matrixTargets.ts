import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, relative } from "node:path"
import type { S3Client, S3ServiceException } from "@aws-sdk/client-s3"
import { AwsClient } from "aws4fetch"
import { exportPKCS8 } from "jose"
import { startMoto } from "./moto.js"
import { makeKey } from "./oidcIssuer.js"
import { REPO_ROOT, type RunningProxy, startBunProxy } from "./proxy.js"
import { motoClient, readFromMoto, seedBucket } from "./s3.js"
import { startRecordingForwarder } from "./servers.js"
import { exchangeAtSts, mintApiKey, type SessionCredentials } from "./sts.js"
import { parseList } from "./xml.js"

/**
 * What the client matrix (clients.matrix.test.ts) runs against: a Bun proxy serving the sample catalog's
 * account `demo` (public `demo/sample`, restricted `demo/private`) from one backend, session credentials
 * of the `demo` account from the proxy's own `/.sts` (an API key minted in-process with the proxy's OIDC
 * key, as `bun run api-key demo` does), and a view of the backend that does not go through the proxy.
 */
export interface MatrixTarget {
  readonly label: string
  readonly proxy: RunningProxy
  readonly creds: SessionCredentials
  /** The bytes the backend holds for an account-relative key (`private/…`), or undefined when it has none. */
  stored(key: string): Promise<Buffer | undefined>
  /**
   * Starts watching the backend under an account-relative prefix; the function returned lists what was
   * written or deleted there since (`PUT private/…`, `DELETE private/…`, …), as the backend saw it.
   */
  watchWrites(prefix: string): () => Promise<ReadonlyArray<string>>
  /** S3 backends only: the backend's own ListObjectsV2 (`encoding-type=url`) under an account-relative prefix, keys account-relative. */
  readonly backendListing?: (prefix: string) => Promise<ReadonlyArray<ListedEntry>>
  stop(): Promise<void>
}

/** One `<Contents>` entry of a ListObjectsV2 answer, as the raw XML has it (key still URL-encoded). */
export interface ListedEntry {
  readonly key: string
  readonly size: string
  readonly lastModified: string
  readonly etag: string
}

/** The `<Contents>` of a ListObjectsV2 XML document. */
export const listedEntries = (xml: string): Array<ListedEntry> =>
  parseList(xml).Contents.map((c) => ({ key: c.Key, size: c.Size, lastModified: c.LastModified, etag: c.ETag }))

/** The sample product's files as shipped in the repository, as account-relative keys → bytes. */
export const SAMPLE_DATA = join(REPO_ROOT, "sample/data/demo")
const walk = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name)) : entry.isFile() ? [join(dir, entry.name)] : []
  )
export const sampleObjects = (): Map<string, Buffer> =>
  new Map(walk(SAMPLE_DATA).map((file) => [relative(SAMPLE_DATA, file), readFileSync(file)] as const))

const ACCOUNT = "demo"
const ISSUER = "http://127.0.0.1:1" // only the proxy's own keys answer for it, in-process

/** Starts a proxy on `catalog` whose OIDC key is known here, and trades a fresh API key for session credentials. */
const startWithSession = async (name: string, catalog: string): Promise<{ proxy: RunningProxy; creds: SessionCredentials }> => {
  const key = await makeKey("RS256", `matrix-${name}-1`)
  const proxy = await startBunProxy({
    CATALOG: catalog,
    OIDC_PROVIDER_ISSUER: ISSUER,
    OIDC_PROVIDER_KID: key.kid,
    OIDC_PROVIDER_KEY: await exportPKCS8(key.privateKey)
  })
  try {
    const apiKey = await mintApiKey(key, ISSUER, ACCOUNT, 3_600)
    return { proxy, creds: await exchangeAtSts(proxy.url, `arn:aws:iam::${ACCOUNT}:role/_default`, apiKey, `matrix-${name}`) }
  } catch (e) {
    await proxy.stop()
    throw e
  }
}

const product = (productId: string, visibility: string, connection: string) => ({
  account_id: ACCOUNT,
  product_id: productId,
  visibility,
  disabled: false,
  metadata: { primary_mirror: "main", mirrors: { main: { connection_id: connection, prefix: `${ACCOUNT}/${productId}/` } } }
})

/** `ino:mtime:size` of every file under `dir`, by path relative to it (a rewrite changes the mtime, a rename the inode). */
const fileStates = (dir: string): Map<string, string> => {
  const states = new Map<string, string>()
  const visit = (at: string) => {
    let entries
    try {
      entries = readdirSync(at, { withFileTypes: true })
    } catch {
      return
    }
    for (const entry of entries) {
      const path = join(at, entry.name)
      if (entry.isDirectory()) visit(path)
      else if (entry.isFile()) {
        const info = statSync(path, { bigint: true })
        states.set(relative(dir, path), `${info.ino}:${info.mtimeNs}:${info.size}`)
      }
    }
  }
  visit(dir)
  return states
}

/**
 * The embedded default (`bun run dev`): `sample/` copied into a temporary directory (so writes never touch
 * the repository's sample data), its own `catalog.json` as CATALOG, the `local` directory store.
 */
export const startEmbeddedTarget = async (): Promise<MatrixTarget> => {
  const dir = mkdtempSync(join(tmpdir(), "sdp-matrix-embedded-"))
  cpSync(join(REPO_ROOT, "sample"), dir, { recursive: true })
  const data = join(dir, "data", ACCOUNT)
  try {
    const { proxy, creds } = await startWithSession("embedded", join(dir, "catalog.json"))
    return {
      label: "embedded (local directory store)",
      proxy,
      creds,
      stored: async (key) => {
        try {
          return readFileSync(join(data, key))
        } catch {
          return undefined
        }
      },
      watchWrites: (prefix) => {
        const before = fileStates(join(data, prefix))
        return async () => {
          const after = fileStates(join(data, prefix))
          const changes: Array<string> = []
          for (const [path, state] of after) {
            if (!before.has(path)) changes.push(`PUT ${prefix}${path}`)
            else if (before.get(path) !== state) changes.push(`PUT ${prefix}${path} (rewritten)`)
          }
          for (const path of before.keys()) if (!after.has(path)) changes.push(`DELETE ${prefix}${path}`)
          return changes
        }
      },
      stop: async () => {
        try {
          await proxy.stop()
        } finally {
          rmSync(dir, { recursive: true, force: true })
        }
      }
    }
  } catch (e) {
    rmSync(dir, { recursive: true, force: true })
    throw e
  }
}

const BUCKET = "sdp-matrix"

/**
 * moto as an S3 backend: the same two products under `demo/sample/` and `demo/private/` of one bucket
 * (seeded with the sample files), a `s3_access_key` connection, and a recording forwarder between the
 * proxy and moto, so the tests see every request the proxy sent to S3.
 */
export const startMotoTarget = async (): Promise<MatrixTarget> => {
  const dir = mkdtempSync(join(tmpdir(), "sdp-matrix-moto-"))
  const moto = await startMoto()
  let s3: S3Client | undefined
  let forwarder: Awaited<ReturnType<typeof startRecordingForwarder>> | undefined
  const stopBackend = async () => {
    s3?.destroy()
    await forwarder?.stop()
    await moto.stop()
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    const client = motoClient(moto.endpoint)
    s3 = client
    const recorder = await startRecordingForwarder(moto.endpoint)
    forwarder = recorder
    const seed = Object.fromEntries([...sampleObjects()].map(([key, bytes]) => [`${ACCOUNT}/${key}`, bytes] as const))
    await seedBucket(client, BUCKET, seed, false)
    const catalog = {
      accounts: [ACCOUNT],
      products: [product("sample", "public", "moto"), product("private", "restricted", "moto")],
      data_connections: [{
        data_connection_id: "moto",
        read_only: false,
        details: { provider: "s3", bucket: BUCKET, region: "us-east-1", endpoint: recorder.url },
        // moto does not check signatures: stored keys are what makes the connection writable.
        authentication: { type: "s3_access_key", access_key_id: "testing", secret_access_key: "testing" }
      }]
    }
    writeFileSync(join(dir, "catalog.json"), JSON.stringify(catalog, null, 2))
    const { proxy, creds } = await startWithSession("moto", join(dir, "catalog.json"))
    // moto checks no signature, but an unsigned request is anonymous to it and the bucket is private.
    const direct = new AwsClient({ accessKeyId: "testing", secretAccessKey: "testing", service: "s3", region: "us-east-1" })
    return {
      label: "moto (S3, s3_access_key)",
      proxy,
      creds,
      stored: async (key) => {
        try {
          return Buffer.from(await readFromMoto(client, BUCKET, `${ACCOUNT}/${key}`))
        } catch (e) {
          if ((e as S3ServiceException).$metadata?.httpStatusCode === 404) return undefined
          throw e
        }
      },
      watchWrites: (prefix) => {
        const from = recorder.requests.length
        const under = `/${BUCKET}/${ACCOUNT}/${prefix}`
        return async () =>
          recorder.requests.slice(from).flatMap((request) => {
            const url = new URL(request.url, "http://backend")
            const path = decodeURIComponent(url.pathname)
            const isWrite = request.method === "PUT" || request.method === "POST" || request.method === "DELETE"
            return isWrite && path.startsWith(under) ? [`${request.method} ${path.slice(`/${BUCKET}/${ACCOUNT}/`.length)}${url.search}`] : []
          })
      },
      backendListing: async (prefix) => {
        const query = new URLSearchParams({ "list-type": "2", "encoding-type": "url", prefix: `${ACCOUNT}/${prefix}` })
        const response = await direct.fetch(`${moto.endpoint}/${BUCKET}?${query.toString()}`, { signal: AbortSignal.timeout(10_000) })
        const xml = await response.text()
        if (response.status !== 200) throw new Error(`moto's listing answered ${response.status}: ${xml}`)
        return listedEntries(xml).map((entry) => ({ ...entry, key: entry.key.slice(`${ACCOUNT}/`.length) }))
      },
      stop: async () => {
        try {
          await proxy.stop()
        } finally {
          await stopBackend()
        }
      }
    }
  } catch (e) {
    await stopBackend()
    throw e
  }
}
