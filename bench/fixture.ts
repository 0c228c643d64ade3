/** The one product every bench uses, shared by the fake upstream and the in-process CPU bench. */
export const ACCOUNT = "bench"
export const PRODUCT = "data"
export const BUCKET = "b"
export const CONNECTION = "c"
export const OBJECT_KEY = "big.bin"

export const productJson = {
  product_id: PRODUCT,
  account_id: ACCOUNT,
  visibility: "public",
  disabled: false,
  metadata: { primary_mirror: "m", mirrors: { m: { connection_id: CONNECTION, prefix: "" } } }
}

export const connectionJson = (endpoint: string) => ({
  data_connection_id: CONNECTION,
  read_only: true,
  details: { provider: "s3", bucket: BUCKET, endpoint }
})

/**
 * The writable product of section 7 (uploads): its own connection to the same bucket, signed with static keys
 * (the upstream does not check them) and not read-only, and `/permissions` answering read+write. Kept apart
 * from `PRODUCT` so that sections 1–6 keep reading an unsigned connection.
 */
export const WRITE_PRODUCT = "rw"
export const WRITE_CONNECTION = "cw"
export const UPLOAD_PREFIX = "up/"
/** Keys `repeat/{bytes}.bin` answer `bytes` bytes streamed from the upstream's one buffer (no 1 GiB in memory). */
export const REPEAT_PREFIX = "repeat/"

export const writeProductJson = {
  product_id: WRITE_PRODUCT,
  account_id: ACCOUNT,
  visibility: "public",
  disabled: false,
  metadata: { primary_mirror: "m", mirrors: { m: { connection_id: WRITE_CONNECTION, prefix: "" } } }
}

export const writeConnectionJson = (endpoint: string) => ({
  data_connection_id: WRITE_CONNECTION,
  read_only: false,
  details: { provider: "s3", bucket: BUCKET, endpoint, region: "us-east-1" },
  authentication: { type: "s3_access_key", access_key_id: "bench-upstream", secret_access_key: "bench-upstream-secret" }
})

/**
 * The LastModified of the `n`th listed key: seven seconds apart, so that no two entries share one, as in a real
 * bucket. (JavaScriptCore remembers the last date text it parsed: a page of one repeated time costs a tenth of
 * what a real page's times do, bench/README.) Each written once: the upstream answers pages, and its own cost is
 * the "direct" baseline.
 */
const listedTimes: Array<string> = []
const listedTime = (n: number): string => (listedTimes[n] ??= new Date(Date.UTC(2025, 0, 1) + n * 7000).toISOString())

/** A ListObjectsV2 `ListBucketResult` with `count` keys under `{prefix}`, each `size` bytes. */
export const listBucketResult = (count: number, prefix: string, size: number): string => {
  const contents = Array.from({ length: count }, (_, i) =>
    `<Contents><Key>${prefix}${String(i).padStart(4, "0")}.bin</Key><LastModified>${listedTime(i)}</LastModified>`
      + `<ETag>&quot;e${i}&quot;</ETag><Size>${size}</Size><StorageClass>STANDARD</StorageClass></Contents>`)
  return `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`
    + `<Name>${BUCKET}</Name><Prefix>${prefix}</Prefix><KeyCount>${count}</KeyCount><MaxKeys>1000</MaxKeys>`
    + `<IsTruncated>false</IsTruncated>${contents.join("")}</ListBucketResult>`
}

/** How many keys the fake upstream's bucket lists (bench/upstream.ts), 1000 per page. */
export const LIST_KEYS = 10_000

/** `k/00000.bin`, `k/00001.bin`, … : sorted, as S3 lists them. */
export const syntheticKeys = (count: number): ReadonlyArray<string> =>
  Array.from({ length: count }, (_, i) => `k/${String(i).padStart(5, "0")}.bin`)

/**
 * One ListObjectsV2 page of `keys` (sorted): those starting with `prefix` and after `after`, at most `maxKeys`;
 * `tokenOf(lastKey)` makes the NextContinuationToken when more remain.
 */
export const listPage = (
  keys: ReadonlyArray<string>,
  prefix: string,
  after: string,
  maxKeys: number,
  size: number,
  continuationToken: string | undefined,
  tokenOf: (lastKey: string) => string
): string => {
  let lo = 0
  let hi = keys.length
  while (lo < hi) { // first index with key > after
    const mid = (lo + hi) >>> 1
    if ((keys[mid] ?? "") <= after) lo = mid + 1
    else hi = mid
  }
  const page: Array<string> = []
  const times: Array<string> = []
  let i = lo
  for (; i < keys.length && page.length < maxKeys; i++) {
    const key = keys[i] ?? ""
    if (key.startsWith(prefix)) {
      page.push(key)
      times.push(listedTime(i))
    }
  }
  while (i < keys.length && !(keys[i] ?? "").startsWith(prefix)) i++
  const truncated = i < keys.length && page.length > 0
  const last = page.at(-1)
  const contents = page.map((key, n) =>
    `<Contents><Key>${key}</Key><LastModified>${times[n]}</LastModified>`
      + `<ETag>&quot;e${n}&quot;</ETag><Size>${size}</Size><StorageClass>STANDARD</StorageClass></Contents>`)
  return `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`
    + `<Name>${BUCKET}</Name><Prefix>${prefix}</Prefix><KeyCount>${page.length}</KeyCount><MaxKeys>${maxKeys}</MaxKeys>`
    + (continuationToken === undefined ? "" : `<ContinuationToken>${continuationToken}</ContinuationToken>`)
    + `<IsTruncated>${truncated}</IsTruncated>`
    + (truncated && last !== undefined ? `<NextContinuationToken>${tokenOf(last)}</NextContinuationToken>` : "")
    + `${contents.join("")}</ListBucketResult>`
}

/**
 * Section 6's other backends: products whose connections name an Azurite container (Shared Key) and a bucket
 * of the in-test GCS XML API server, each seeded with the same `syntheticKeys`. The upstream serves them only
 * when it is told their endpoints (`AZURE_ENDPOINT`, `GCS_ENDPOINT`).
 */
export const AZURE_PRODUCT = "az"
export const AZURE_CONNECTION = "caz"
export const AZURE_ACCOUNT_NAME = "devstoreaccount1"
export const AZURE_CONTAINER = "bench"
export const GCS_PRODUCT = "gcs"
export const GCS_CONNECTION = "cgcs"
export const GCS_BUCKET = "bench"

const readProductJson = (product: string, connection: string) => ({
  product_id: product,
  account_id: ACCOUNT,
  visibility: "public",
  disabled: false,
  metadata: { primary_mirror: "m", mirrors: { m: { connection_id: connection, prefix: "" } } }
})

export const azureProductJson = readProductJson(AZURE_PRODUCT, AZURE_CONNECTION)
export const gcsProductJson = readProductJson(GCS_PRODUCT, GCS_CONNECTION)

/** `endpoint`: `http://127.0.0.1:PORT/devstoreaccount1` (Azurite, path style). */
export const azureConnectionJson = (endpoint: string, accountKey: string) => ({
  data_connection_id: AZURE_CONNECTION,
  read_only: true,
  details: { provider: "az", account_name: AZURE_ACCOUNT_NAME, container_name: AZURE_CONTAINER, endpoint },
  authentication: { type: "az_shared_key", account_key: accountKey }
})

/** A public bucket: no authentication. */
export const gcsConnectionJson = (endpoint: string) => ({
  data_connection_id: GCS_CONNECTION,
  read_only: true,
  details: { provider: "gcs", bucket: GCS_BUCKET, endpoint }
})
