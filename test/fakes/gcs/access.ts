/**
 * Who may do what, as GCS's IAM decides it here: allUsers gets objectViewer on a public bucket at most; an HMAC
 * key's service account gets objectAdmin, or objectViewer when the bucket lists the key as read-only.
 */
import type { Bucket } from "./bucket.js"

/** The secret of an HMAC key any bucket knows. */
export const hmacSecret = (buckets: ReadonlyMap<string, Bucket>, accessKeyId: string): string | undefined => {
  for (const bucket of buckets.values()) {
    const secret = bucket.options.hmacKeys?.[accessKeyId]
    if (secret !== undefined) return secret
  }
  return undefined
}

/** Listing uploads or parts is multipart bookkeeping (storage.multipartUploads.list*): objectAdmin, not objectViewer. */
export const isReadRequest = (method: string, query: Readonly<Record<string, string>>): boolean =>
  (method === "GET" || method === "HEAD") && query.uploadId === undefined && !("uploads" in query)

/** The AccessDenied details for a caller (`keyId`: a verified HMAC key, or anonymous) the bucket refuses. */
export const refusal = (
  bucket: Bucket,
  keyId: string | undefined,
  request: { readonly method: string; readonly key: string | undefined; readonly query: Readonly<Record<string, string>> }
): string | undefined => {
  const { method, key, query } = request
  const isRead = isReadRequest(method, query)
  const hasKey = keyId !== undefined && bucket.options.hmacKeys?.[keyId] !== undefined
  const mayRead = bucket.options.public === true || hasKey
  const mayWrite = hasKey && !(bucket.options.readOnlyHmacKeys ?? []).includes(keyId)
  if (isRead ? mayRead : mayWrite) return undefined
  const who = keyId ?? "Anonymous caller"
  const permission = isRead
    ? key === undefined ? "storage.objects.list" : "storage.objects.get"
    : method === "GET"
    ? key === undefined ? "storage.multipartUploads.list" : "storage.multipartUploads.listParts"
    : method === "DELETE" && query.uploadId === undefined ? "storage.objects.delete" : "storage.objects.create"
  return `${who} does not have ${permission} access to the Google Cloud Storage ${key === undefined ? "bucket" : "object"}. Permission '${permission}' denied on resource (or it may not exist).`
}
