/**
 * The bare pass-through's whole work, shared by the Bun yardstick (passthrough.ts) and the Worker one
 * (passthroughWorker.ts): map `/{account}/{product}/{key}` to `{upstream}/b/{key}`, forward Range/If-* and hand the
 * body on, a PUT's body the other way, and a listing `/{account}?…` to `{upstream}/b?…`. No catalog, no Effect,
 * no signing, no header filtering, no parsing. Web APIs only, so it runs in workerd as it runs in Bun.
 */
import { BUCKET } from "./fixture.js"

const FORWARDED = ["range", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since"]

export interface Passed {
  readonly status: number
  readonly headers: Headers
  readonly body: ReadableStream<Uint8Array> | null
}

export const passOn = async (upstream: string, request: Request): Promise<Passed> => {
  const url = new URL(request.url)
  const [, , product, ...key] = url.pathname.split("/")
  if (product === undefined || product === "") {
    // `GET /{account}?list-type=2&prefix={product}/…` (section 6): the query on to the bucket with the product's
    // segment dropped from the prefix, and the backend's page handed back as it is (no key rewritten).
    const query = new URLSearchParams(url.search)
    query.set("prefix", (query.get("prefix") ?? "").replace(/^[^/]*\//, ""))
    const response = await fetch(`${upstream}/${BUCKET}?${query.toString().replace(/\+/g, "%20")}`)
    return { status: response.status, headers: response.headers, body: response.body }
  }
  const headers = new Headers()
  for (const name of FORWARDED) {
    const value = request.headers.get(name)
    if (value !== null) headers.set(name, value)
  }
  // A PUT's body streams on as it arrives, with its declared length (section 7's uploads).
  const put = request.method === "PUT"
  const length = request.headers.get("content-length")
  if (put && length !== null) headers.set("content-length", length)
  const response = await fetch(`${upstream}/${BUCKET}/${key.join("/")}`, {
    method: request.method,
    headers,
    ...(put ? { body: request.body, duplex: "half" } : {})
  } as RequestInit)
  return { status: response.status, headers: response.headers, body: response.body }
}
