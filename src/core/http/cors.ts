import type { Reply } from "./Reply.js"

/**
 * `*` covers every header for anonymous browser reads; the explicit names are for credentialed requests,
 * where the wildcard does not apply.
 */
const EXPOSED = [
  "*", "ETag", "Content-Range", "Content-Length", "Content-Type", "Content-Encoding", "Content-Disposition",
  "Accept-Ranges", "Last-Modified", "Cache-Control", "Expires", "x-amz-request-id", "x-amz-version-id",
  "x-amz-delete-marker", "x-amz-storage-class", "x-amz-server-side-encryption", "x-amz-mp-parts-count",
  "x-amz-checksum-crc32", "x-amz-checksum-crc32c", "x-amz-checksum-crc64nvme", "x-amz-checksum-sha1",
  "x-amz-checksum-sha256", "x-amz-checksum-type"
].join(", ")

/** CORS headers on every response, overwriting anything a backend sent. */
export const withCors = (reply: Reply): Reply => {
  reply.headers.set("access-control-allow-origin", "*")
  reply.headers.set("access-control-expose-headers", EXPOSED)
  return reply
}

/**
 * The preflight answer. It echoes the requested headers, because a `*` in Allow-Headers does not cover
 * `Authorization` (Fetch spec), which signed browser uploads need.
 */
export const preflight = (requestHeaders: Headers): Reply => {
  const headers = new Headers({
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "GET, HEAD, PUT, POST, DELETE",
    "access-control-allow-headers": requestHeaders.get("access-control-request-headers") ?? "*",
    "access-control-max-age": "86400",
    vary: "Access-Control-Request-Headers"
  })
  return { status: 204, headers, body: null }
}
