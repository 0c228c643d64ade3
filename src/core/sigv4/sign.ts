import * as Effect from "effect/Effect"
import { Hmac } from "../services/Hmac.js"
import { canonicalQuery } from "./canonicalRequest.js"
import { encodeQueryComponent, toHex } from "./encoding.js"
import { type SigningKeyCache, signingKey } from "./signingKey.js"
import { ALGORITHM, type CredentialScope, scopeString, stringToSign } from "./stringToSign.js"
import { UNSIGNED_PAYLOAD } from "./payload.js"

export interface SigningCredentials {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken?: string | undefined
}

export interface OutboundRequest {
  readonly method: string
  readonly url: string
  readonly headers: Headers
}

export interface SigningOptions {
  readonly credentials: SigningCredentials
  readonly region: string
  readonly service: string
  /** `YYYYMMDDTHHMMSSZ`. */
  readonly timestamp: string
  readonly cache: SigningKeyCache
}

/** Headers a proxy or the runtime may change on the way: never signed (aws4fetch's list). */
const UNSIGNABLE = new Set([
  "authorization", "content-type", "content-length", "user-agent", "presigned-expires", "expect", "x-amzn-trace-id",
  "range", "connection"
])

/** S3's canonical URI: the path decoded once and each segment encoded once (aws4fetch's `s3` rule). */
const s3Path = (pathname: string): string => {
  let decoded: string
  try {
    decoded = decodeURIComponent(pathname.replace(/\+/g, " "))
  } catch {
    decoded = pathname
  }
  return encodeQueryComponent(decoded).replace(/%2F/g, "/")
}

/**
 * Signs an outbound S3 request with SigV4 header auth, as aws4fetch's `AwsV4Signer` signs it for service `s3`: the
 * same canonical request, byte for byte, for the requests the stores make (test/core/sigv4.sign.test.ts); a repeated
 * query name, which no store sends, is signed whole by the SigV4 rule where aws4fetch kept its first. Over the
 * platform's `Hmac` (node:crypto under Bun) rather than WebCrypto: with aws4fetch a signed backend GET cost ~100 µs
 * more server CPU than an unsigned one under Bun (bench/). Adds `x-amz-date`, `x-amz-content-sha256`
 * (UNSIGNED-PAYLOAD unless given), `x-amz-security-token` for a session and `authorization`; the URL is not changed.
 */
export const signRequest: (request: OutboundRequest, options: SigningOptions) => Effect.Effect<OutboundRequest, never, Hmac> =
  Effect.fnUntraced(function*(request: OutboundRequest, options: SigningOptions) {
    const { credentials, timestamp } = options
    const url = new URL(request.url)
    const headers = new Headers(request.headers)
    headers.delete("host")
    if (!headers.has("x-amz-content-sha256")) headers.set("x-amz-content-sha256", UNSIGNED_PAYLOAD)
    headers.set("x-amz-date", timestamp)
    if (credentials.sessionToken !== undefined && credentials.sessionToken !== "") {
      headers.set("x-amz-security-token", credentials.sessionToken)
    }
    const signed = ["host", ...headers.keys()].filter((name) => !UNSIGNABLE.has(name)).sort()
    const canonicalHeaders = signed
      .map((name) => `${name}:${name === "host" ? url.host : (headers.get(name) ?? "").replace(/\s+/g, " ")}`)
      .join("\n")
    const signedHeaders = signed.join(";")
    const canonical = [
      request.method.toUpperCase(),
      s3Path(url.pathname),
      canonicalQuery(url.searchParams),
      canonicalHeaders + "\n",
      signedHeaders,
      headers.get("x-amz-content-sha256") ?? UNSIGNED_PAYLOAD
    ].join("\n")
    const scope: CredentialScope = { date: timestamp.slice(0, 8), region: options.region, service: options.service }
    const hmac = yield* Hmac
    const key = yield* signingKey(options.cache, credentials.accessKeyId, credentials.secretAccessKey, scope)
    const signature = toHex(yield* hmac.sha256(key, stringToSign(timestamp, scope, yield* hmac.sha256Hex(canonical))))
    headers.set(
      "authorization",
      `${ALGORITHM} Credential=${credentials.accessKeyId}/${scopeString(scope)}, SignedHeaders=${signedHeaders}, Signature=${signature}`
    )
    return { method: request.method, url: request.url, headers }
  })
