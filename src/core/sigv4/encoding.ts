/** Byte and text helpers shared by the SigV4 stages. */

export const encoder = new TextEncoder()

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

/**
 * AWS SigV4 URI encoding of one query name or value: RFC 3986 unreserved characters (`A-Za-z0-9-._~`) stay, every
 * other UTF-8 byte becomes `%XX` with uppercase hex (so a space is `%20`, `/` is `%2F`, `+` is `%2B`, `*` is `%2A`).
 * A lone surrogate cannot come from `URLSearchParams` (it yields USV strings), but is mapped to U+FFFD anyway.
 */
export const encodeQueryComponent = (text: string): string =>
  encodeURIComponent(text.replace(LONE_SURROGATE, "\uFFFD")).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))

export const toHex = (bytes: Uint8Array): string => {
  let out = ""
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]!]
  return out
}

/** Compares two strings in time that depends on their length only (signatures are fixed-length hex). */
export const constantTimeEqual = (a: string, b: string): boolean => {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i)
  return diff === 0
}

export const isSha256Hex = (text: string): boolean => /^[0-9a-fA-F]{64}$/.test(text)

/** SHA-256 of the empty string, hex: the payload hash of a request without a body. */
export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
