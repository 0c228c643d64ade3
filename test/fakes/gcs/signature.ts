import { createHash, createHmac } from "node:crypto"
import type { IncomingMessage } from "node:http"
import { decodeComponent, queryPairs, uriEncode } from "./uri.js"
import { errorXml, escapeXml } from "./xml.js"

/** How far `x-amz-date` may be from the server's clock. */
const SKEW_MS = 15 * 60 * 1000

const sha256Hex = (data: string | Buffer) => createHash("sha256").update(data).digest("hex")
const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data).digest()

export interface Verdict {
  readonly ok: boolean
  readonly status: number
  readonly code: string
  readonly body?: string
}

/** Verifies an `AWS4-HMAC-SHA256` Authorization header against the known HMAC keys (any bucket's). */
export const verifySigV4 = (
  req: IncomingMessage,
  rawPath: string,
  rawQuery: string,
  secretOf: (accessKeyId: string) => string | undefined,
  allowedRegions: ReadonlyArray<string>,
  now: number
): Verdict & { readonly accessKeyId?: string } => {
  const header = req.headers.authorization ?? ""
  const match = /^AWS4-HMAC-SHA256 Credential=([^/\s,]+)\/(\d{8})\/([^/\s,]+)\/([^/\s,]+)\/aws4_request,\s*SignedHeaders=([a-z0-9\-;]+),\s*Signature=([0-9a-f]{64})$/
    .exec(header)
  if (match === null) {
    return { ok: false, status: 400, code: "MalformedSecurityHeader", body: errorXml("MalformedSecurityHeader", "Your request has a malformed header.", header) }
  }
  const [, accessKeyId, date, region, service, signedHeaderList, signature] = match as unknown as [string, string, string, string, string, string, string]
  const secret = secretOf(accessKeyId)
  if (secret === undefined) {
    return {
      ok: false,
      status: 403,
      code: "InvalidAccessKeyId",
      body: errorXml("InvalidAccessKeyId", "The Google Cloud Storage access key Id you provided does not exist in our records.")
    }
  }
  const amzDate = String(req.headers["x-amz-date"] ?? req.headers["x-goog-date"] ?? "")
  const parsed = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate)
  if (parsed === null || !amzDate.startsWith(date)) {
    return { ok: false, status: 400, code: "AuthorizationHeaderMalformed", body: errorXml("AuthorizationHeaderMalformed", "The authorization header is malformed; the date in the credential scope does not match the request date.") }
  }
  const at = Date.UTC(+parsed[1]!, +parsed[2]! - 1, +parsed[3]!, +parsed[4]!, +parsed[5]!, +parsed[6]!)
  if (Math.abs(now - at) > SKEW_MS) {
    return { ok: false, status: 403, code: "RequestTimeTooSkewed", body: errorXml("RequestTimeTooSkewed", "The difference between the request time and the server's time is too large.") }
  }
  if (!allowedRegions.includes(region) || (service !== "s3" && service !== "storage")) {
    return { ok: false, status: 400, code: "AuthorizationHeaderMalformed", body: errorXml("AuthorizationHeaderMalformed", `The authorization header is malformed; the region '${region}' or service '${service}' is wrong.`) }
  }
  const signedHeaders = signedHeaderList.split(";")
  if (!signedHeaders.includes("host")) {
    return { ok: false, status: 400, code: "AuthorizationHeaderMalformed", body: errorXml("AuthorizationHeaderMalformed", "Host must be a signed header.") }
  }
  const canonicalHeaders = signedHeaders.map((name) => {
    const value = req.headers[name]
    const text = Array.isArray(value) ? value.join(",") : value ?? ""
    return `${name}:${text.trim().replace(/\s+/g, " ")}\n`
  }).join("")
  const canonicalQuery = queryPairs(rawQuery)
    .map(([n, v]) => [uriEncode(n, false), uriEncode(v, false)] as const)
    .sort(([an, av], [bn, bv]) => (an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([n, v]) => `${n}=${v}`)
    .join("&")
  const canonicalUri = uriEncode(decodeComponent(rawPath), true)
  const payloadHash = String(req.headers["x-amz-content-sha256"] ?? req.headers["x-goog-content-sha256"] ?? "UNSIGNED-PAYLOAD")
  const canonicalRequest = [req.method ?? "GET", canonicalUri, canonicalQuery, canonicalHeaders, signedHeaderList, payloadHash].join("\n")
  const scope = `${date}/${region}/${service}/aws4_request`
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(canonicalRequest)].join("\n")
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), "aws4_request")
  const expected = createHmac("sha256", key).update(stringToSign).digest("hex")
  if (expected !== signature) {
    return {
      ok: false,
      status: 403,
      code: "SignatureDoesNotMatch",
      body: errorXml(
        "SignatureDoesNotMatch",
        "Access denied.",
        undefined,
        `<StringToSign>${escapeXml(stringToSign)}</StringToSign><CanonicalRequest>${escapeXml(canonicalRequest)}</CanonicalRequest>`
      )
    }
  }
  return { ok: true, status: 200, code: "ok", accessKeyId }
}
