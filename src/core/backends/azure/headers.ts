import { azureMetadataName } from "./metadata.js"

/**
 * The request headers an Azure write sends for the client's: content headers become `x-ms-blob-content-*`,
 * `x-amz-meta-*` becomes `x-ms-meta-*` (names escaped, `metadata.ts`); `expires` has no Azure counterpart
 * and is not stored. Preconditions are forwarded as they are (Azure evaluates them as HTTP does).
 */

/** The S3 entity headers Azure stores, and the Put Blob / Put Block List / Set Blob Properties names for them. */
const CONTENT_HEADERS = [
  ["content-type", "x-ms-blob-content-type"],
  ["cache-control", "x-ms-blob-cache-control"],
  ["content-disposition", "x-ms-blob-content-disposition"],
  ["content-encoding", "x-ms-blob-content-encoding"],
  ["content-language", "x-ms-blob-content-language"]
] as const

/** The Azure headers that store `client`'s content headers and user metadata. */
export const storedHeaders = (client: Headers): Array<readonly [string, string]> => {
  const stored: Array<readonly [string, string]> = []
  for (const [s3, azure] of CONTENT_HEADERS) {
    const value = client.get(s3)
    if (value !== null) stored.push([azure, value])
  }
  client.forEach((value, name) => {
    if (name.startsWith("x-amz-meta-") && name.length > 11) stored.push([`x-ms-meta-${azureMetadataName(name.slice(11))}`, value])
  })
  return stored
}

/** Destination preconditions, forwarded as they are. */
export const forwardPreconditions = (client: Headers, headers: Headers): void => {
  for (const name of ["if-match", "if-none-match"] as const) {
    const value = client.get(name)
    if (value !== null) headers.set(name, value)
  }
}

/** The copy-source preconditions, under `prefix` (`x-ms-source-` for Copy Blob and Put Block From URL, none for Get Blob). */
export const forwardSourceConditions = (client: Headers, headers: Headers, prefix: string): void => {
  for (const condition of ["if-match", "if-none-match", "if-modified-since", "if-unmodified-since"] as const) {
    const value = client.get(`x-amz-copy-source-${condition}`)
    if (value !== null) headers.set(`${prefix}${condition}`, value)
  }
}

export const headersOf = (pairs: ReadonlyArray<readonly [string, string]>): Headers => {
  const headers = new Headers()
  for (const [name, value] of pairs) headers.set(name, value)
  return headers
}
