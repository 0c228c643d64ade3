/**
 * GCS's XML API answers object reads with S3's entity headers plus its own `x-goog-*` set. An S3 client
 * through the proxy should see an S3-shaped answer:
 * - user metadata `x-goog-meta-{name}` → `x-amz-meta-{name}` (what SDKs read as `Metadata`);
 * - GCS internals are dropped: `x-goog-generation`, `x-goog-metageneration`, `x-goog-hash` (a full-object
 *   crc32c/md5, wrong for a ranged answer, and not S3's `x-amz-checksum-*` contract),
 *   `x-goog-stored-content-length`, `x-goog-stored-content-encoding`, `x-goog-storage-class` (GCS class
 *   names are not S3's), `x-goog-component-count`, `x-goog-expiration`, `x-goog-encryption-*`, …, and
 *   `x-guploader-uploadid` (a Google request id);
 * - `alt-svc` is dropped: it advertises HTTP/3 on Google's origin and would be read as the proxy's.
 * Everything else (ETag, Last-Modified, Content-*, Cache-Control, Expires, Accept-Ranges) passes unchanged.
 */
export const gcsReplyHeaders = (headers: Headers): Headers => {
  const out = new Headers()
  headers.forEach((value, name) => {
    if (name.startsWith("x-goog-meta-")) {
      out.set(`x-amz-meta-${name.slice("x-goog-meta-".length)}`, value)
    } else if (!name.startsWith("x-goog-") && !name.startsWith("x-guploader-") && name !== "alt-svc") {
      out.set(name, value)
    }
  })
  return out
}
