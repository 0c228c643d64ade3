import * as Effect from "effect/Effect"
import * as Encoding from "effect/Encoding"
import type { Bytes, Hmac } from "../../services/Hmac.js"

/**
 * Azure Storage's SharedKey scheme (Blob service, version 2009-09-19 and later), as documented in
 * "Authorize with Shared Key": `Authorization: SharedKey {account}:{base64(HMAC-SHA256(key, stringToSign))}`.
 * The string to sign is the verb, eleven standard headers (one a line, empty when absent; Content-Length
 * empty when zero), the canonicalized `x-ms-*` headers and the canonicalized resource.
 */

/** The standard headers of the string to sign, in order. */
const STANDARD = [
  "content-encoding",
  "content-language",
  "content-length",
  "content-md5",
  "content-type",
  "date",
  "if-modified-since",
  "if-match",
  "if-none-match",
  "if-unmodified-since",
  "range"
] as const

/** `x-ms-*` headers: lowercase names in order, values with folded whitespace, `name:value\n` each. */
const canonicalizedHeaders = (headers: Headers): string => {
  const entries: Array<readonly [string, string]> = []
  headers.forEach((value, name) => {
    if (name.startsWith("x-ms-")) entries.push([name, value.replace(/\s+/g, " ").trim()])
  })
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return entries.map(([name, value]) => `${name}:${value}\n`).join("")
}

/**
 * `/{account}{path}` (the URL's path as sent, percent-encoded; with an emulator's path-style endpoint the
 * path begins with the account again, as the Azure SDKs sign it), then one `\nname:value` line per query
 * parameter: names lowercased and sorted, values decoded, repeated values sorted and comma-joined.
 */
const canonicalizedResource = (account: string, url: URL): string => {
  const params = new Map<string, Array<string>>()
  url.searchParams.forEach((value, name) => {
    const key = name.toLowerCase()
    const values = params.get(key)
    if (values === undefined) params.set(key, [value])
    else values.push(value)
  })
  let resource = `/${account}${url.pathname === "" ? "/" : url.pathname}`
  for (const name of [...params.keys()].sort()) {
    resource += `\n${name}:${(params.get(name) ?? []).sort().join(",")}`
  }
  return resource
}

/** The SharedKey string to sign for a request without a body. */
export const stringToSign = (method: string, url: string, headers: Headers, account: string): string => {
  const lines: Array<string> = [method.toUpperCase()]
  for (const name of STANDARD) {
    const value = headers.get(name) ?? ""
    lines.push(name === "content-length" && value === "0" ? "" : value)
  }
  return `${lines.join("\n")}\n${canonicalizedHeaders(headers)}${canonicalizedResource(account, new URL(url))}`
}

/** The account key as bytes; `undefined` when it is not base64. */
export const decodeAccountKey = (key: string): Bytes | undefined => {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(key.trim())) return undefined
  const decoded = Encoding.decodeBase64(key.trim())
  return decoded._tag === "Right" && decoded.right.length > 0 ? new Uint8Array(decoded.right) : undefined
}

/** The `Authorization` header value for a request whose headers (x-ms-date, x-ms-version included) are final. */
export const sharedKeyAuthorization = (
  hmac: typeof Hmac.Service,
  account: string,
  key: Bytes,
  request: { readonly method: string; readonly url: string; readonly headers: Headers }
): Effect.Effect<string> =>
  Effect.map(
    hmac.sha256(key, stringToSign(request.method, request.url, request.headers, account)),
    (signature) => `SharedKey ${account}:${Encoding.encodeBase64(signature)}`
  )

/**
 * A read-only blob service SAS (version 2020-12-06 and later string to sign: permissions, start, expiry,
 * `/blob/{account}/{container}/{blob}`, identifier, IP, protocol, version, resource `b`, snapshot time,
 * encryption scope, then the five response-header overrides, all empty but `r`, the expiry, the version
 * and `b`), as the query to put on a copy-source URL: Put Block From URL reads its source with the
 * source's own authorization, which a SharedKey request does not carry over.
 */
export const blobReadSas = (
  hmac: typeof Hmac.Service,
  request: {
    readonly account: string
    readonly key: Bytes
    readonly container: string
    readonly blob: string
    readonly expiry: Date
    readonly version: string
  }
): Effect.Effect<string> => {
  const expiry = request.expiry.toISOString().replace(/\.\d{3}Z$/, "Z")
  const lines = [
    "r",
    "",
    expiry,
    `/blob/${request.account}/${request.container}/${request.blob}`,
    "",
    "",
    "https,http",
    request.version,
    "b",
    "",
    "",
    "",
    "",
    "",
    "",
    ""
  ]
  return Effect.map(hmac.sha256(request.key, lines.join("\n")), (signature) =>
    [
      ["sv", request.version],
      ["spr", "https,http"],
      ["se", expiry],
      ["sr", "b"],
      ["sp", "r"],
      ["sig", Encoding.encodeBase64(signature)]
    ].map(([name, value]) => `${name}=${encodeURIComponent(value!)}`).join("&"))
}
