/** The headers a stored object keeps, and the write preconditions (`ObjectWrite.headers`). */
const STORED = [
  "content-type", "cache-control", "content-disposition", "content-language", "expires", "content-md5", "if-match",
  "if-none-match"
]

/** The conditions a copy puts on its source (CopyObject and UploadPartCopy alike). */
const COPY_SOURCE_CONDITIONS = [
  "x-amz-copy-source-if-match", "x-amz-copy-source-if-none-match",
  "x-amz-copy-source-if-modified-since", "x-amz-copy-source-if-unmodified-since"
]

export const storedHeaders = (client: Headers): Headers => {
  const headers = new Headers()
  for (const name of STORED) {
    const value = client.get(name)
    if (value !== null) headers.set(name, value)
  }
  // `aws-chunked` is the upload's framing, not the object's encoding.
  const encoding = (client.get("content-encoding") ?? "").split(",").map((e) => e.trim())
    .filter((e) => e !== "" && e.toLowerCase() !== "aws-chunked")
  if (encoding.length > 0) headers.set("content-encoding", encoding.join(", "))
  client.forEach((value, name) => {
    if (name.startsWith("x-amz-meta-") || (name.startsWith("x-amz-checksum-") && name !== "x-amz-checksum-type")) {
      headers.set(name, value)
    }
  })
  return headers
}

/** Adds the client's copy-source conditions (and `also`, e.g. the metadata directive) to `headers`. */
export const withCopySourceConditions = (headers: Headers, client: Headers, also: ReadonlyArray<string> = []): Headers => {
  for (const name of [...also, ...COPY_SOURCE_CONDITIONS]) {
    const value = client.get(name)
    if (value !== null) headers.set(name, value)
  }
  return headers
}
