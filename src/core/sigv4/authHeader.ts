import { parseCredential, parseSignedHeaders } from "./credential.js"
import type { Credential } from "./credential.js"
import { ALGORITHM } from "./stringToSign.js"

export interface AuthorizationHeader extends Credential {
  readonly signedHeaders: ReadonlyArray<string>
  readonly signature: string
}

/** Why a header is rejected: "unsupported" (another scheme, 400 InvalidRequest/InvalidArgument) or "malformed". */
export type AuthorizationHeaderProblem =
  | { readonly _tag: "Unsupported"; readonly scheme: string }
  | { readonly _tag: "Malformed"; readonly message: string }

const malformed = (detail: string): AuthorizationHeaderProblem => ({
  _tag: "Malformed",
  message: `The authorization header is malformed; ${detail}`
})

/**
 * `AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date,
 * Signature=<hex>`. Tolerant of spacing as AWS is: any whitespace after the algorithm, parts separated by `,`
 * with optional whitespace around it and around `=`, in any order. Each part exactly once.
 */
export const parseAuthorizationHeader = (value: string): AuthorizationHeader | AuthorizationHeaderProblem => {
  const text = value.trim()
  const space = text.search(/\s/)
  const scheme = space === -1 ? text : text.slice(0, space)
  if (scheme !== ALGORITHM) return { _tag: "Unsupported", scheme }
  const fields = new Map<string, string>()
  for (const part of text.slice(space + 1).split(",")) {
    const item = part.trim()
    if (item === "") continue
    const eq = item.indexOf("=")
    if (eq === -1) return malformed(`unexpected part "${item}".`)
    const name = item.slice(0, eq).trim()
    if (fields.has(name)) return malformed(`${name} appears twice.`)
    fields.set(name, item.slice(eq + 1).trim())
  }
  const credentialText = fields.get("Credential")
  const signedHeadersText = fields.get("SignedHeaders")
  const signature = fields.get("Signature")
  if (credentialText === undefined) return malformed("missing Credential.")
  if (signedHeadersText === undefined) return malformed("missing SignedHeaders.")
  if (signature === undefined) return malformed("missing Signature.")
  for (const name of fields.keys()) {
    if (name !== "Credential" && name !== "SignedHeaders" && name !== "Signature") {
      return malformed(`unexpected part "${name}".`)
    }
  }
  const credential = parseCredential(credentialText)
  if (typeof credential === "string") return malformed(credential)
  const signedHeaders = parseSignedHeaders(signedHeadersText)
  if (typeof signedHeaders === "string") return malformed(signedHeaders)
  return { ...credential, signedHeaders, signature }
}
