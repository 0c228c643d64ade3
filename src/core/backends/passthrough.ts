/**
 * Response headers a backend must not hand to the client (hop-by-hop, cookies, auth challenges, and the
 * customer-key fingerprints of SSE-C), docs/s3-compatibility.md#response-headers.
 */
const DENIED = new Set([
  "transfer-encoding", "connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade",
  "proxy-authenticate", "proxy-authorization", "www-authenticate", "set-cookie", "forwarded", "x-forwarded-for",
  "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port", "via", "x-amz-server-side-encryption-customer-key-md5",
  "x-amz-server-side-encryption-aws-kms-key-id", "x-ms-encryption-key-sha256", "x-goog-encryption-key-sha256",
  "x-amz-request-id", "x-amz-id-2",
  // Would advertise the backend's HTTP/3 endpoint as if the proxy offered it.
  "alt-svc"
])

/** Backend response headers minus the denylist; `accept-ranges: bytes` is always announced for objects. */
export const passthroughHeaders = (backend: Headers): Headers => {
  const headers = new Headers()
  backend.forEach((value, name) => {
    if (!DENIED.has(name)) headers.set(name, value)
  })
  if (!headers.has("accept-ranges")) headers.set("accept-ranges", "bytes")
  return headers
}

/** The client request headers a read forwards: range and the four preconditions. */
export const READ_HEADERS = ["range", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since"] as const

export const forwardedReadHeaders = (client: Headers): Headers => {
  const headers = new Headers()
  for (const name of READ_HEADERS) {
    const value = client.get(name)
    if (value !== null) headers.set(name, value)
  }
  return headers
}
