import { parseCredential, parseSignedHeaders } from "./credential.js"
import type { Credential } from "./credential.js"
import { ALGORITHM } from "./stringToSign.js"

export interface PresignedQuery extends Credential {
  readonly signedHeaders: ReadonlyArray<string>
  readonly signature: string
  /** `X-Amz-Date` exactly as sent (`YYYYMMDDTHHMMSSZ`); validated by the verifier. */
  readonly timestamp: string
  /** `X-Amz-Expires`, at most 604800 seconds; zero or negative (ceph s3-tests sends -1000) has expired already. */
  readonly expiresSeconds: number
  readonly sessionToken: string | undefined
}

export const MAX_PRESIGNED_EXPIRES = 604800

/** True when the query carries SigV4 query authentication (any of its defining parameters). */
export const isPresigned = (params: URLSearchParams): boolean =>
  params.has("X-Amz-Algorithm") || params.has("X-Amz-Signature") || params.has("X-Amz-Credential")

/** The `X-Amz-*` query parameters of a presigned URL, or the S3 message for what is wrong with them. */
export const parsePresignedQuery = (params: URLSearchParams): PresignedQuery | string => {
  const single = (name: string): string | undefined | null => {
    const all = params.getAll(name)
    return all.length === 0 ? undefined : all.length === 1 ? all[0]! : null
  }
  const algorithm = single("X-Amz-Algorithm")
  const credentialText = single("X-Amz-Credential")
  const signature = single("X-Amz-Signature")
  const timestamp = single("X-Amz-Date")
  const signedHeadersText = single("X-Amz-SignedHeaders")
  const expires = single("X-Amz-Expires")
  const sessionToken = single("X-Amz-Security-Token")
  const values = [algorithm, credentialText, signature, timestamp, signedHeadersText, expires, sessionToken]
  if (values.includes(null)) return "Query-string authentication parameters must not be repeated."
  if (
    algorithm === undefined || credentialText === undefined || signature === undefined || timestamp === undefined
    || signedHeadersText === undefined || expires === undefined
  ) {
    return "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, "
      + "X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
  }
  if (algorithm !== ALGORITHM) return `X-Amz-Algorithm only supports "${ALGORITHM}"`
  if (!/^-?\d{1,7}$/.test(expires ?? "")) return "X-Amz-Expires should be a number"
  const expiresSeconds = Number(expires)
  if (expiresSeconds > MAX_PRESIGNED_EXPIRES) {
    return `X-Amz-Expires must be less than a week (in seconds) that is; ${MAX_PRESIGNED_EXPIRES}`
  }
  const credential = parseCredential(credentialText ?? "")
  if (typeof credential === "string") return `Error parsing the X-Amz-Credential parameter; ${credential}`
  const signedHeaders = parseSignedHeaders(signedHeadersText ?? "")
  if (typeof signedHeaders === "string") return `Error parsing the X-Amz-SignedHeaders parameter; ${signedHeaders}`
  return {
    ...credential,
    signedHeaders,
    signature: signature ?? "",
    timestamp: timestamp ?? "",
    expiresSeconds,
    sessionToken: sessionToken ?? undefined
  }
}
