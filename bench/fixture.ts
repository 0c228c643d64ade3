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

/** A ListObjectsV2 `ListBucketResult` with `count` keys under `{prefix}`, each `size` bytes. */
export const listBucketResult = (count: number, prefix: string, size: number): string => {
  const contents = Array.from({ length: count }, (_, i) =>
    `<Contents><Key>${prefix}${String(i).padStart(4, "0")}.bin</Key><LastModified>2025-01-01T00:00:00.000Z</LastModified>`
      + `<ETag>&quot;e${i}&quot;</ETag><Size>${size}</Size><StorageClass>STANDARD</StorageClass></Contents>`)
  return `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`
    + `<Name>${BUCKET}</Name><Prefix>${prefix}</Prefix><KeyCount>${count}</KeyCount><MaxKeys>1000</MaxKeys>`
    + `<IsTruncated>false</IsTruncated>${contents.join("")}</ListBucketResult>`
}
