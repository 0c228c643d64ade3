/**
 * `GET /{bucket}?…`: object listings, V1 by default (`marker`, `NextMarker`) and V2 with `list-type=2`, keys in
 * UTF-8 byte order, at most 1000 entries a page.
 */
import { byteOrder, etagOf, type GcsObject } from "./bucket.js"
import type { Exchange } from "./exchange.js"
import { uriEncode } from "./uri.js"
import { errorXml, escapeXml, NAMESPACE, XML_DECLARATION } from "./xml.js"

const MAX_KEYS = 1000

export const listObjects = ({ bucketName, bucket, query, send, fail }: Exchange): void => {
  const objects = bucket.objects
  bucket.sorted ??= [...objects.keys()].sort(byteOrder)
  const sorted = bucket.sorted
  const nextMarkerMode = bucket.options.nextMarker ?? "always"
  const v2 = query["list-type"] === "2"
  if (query["list-type"] !== undefined && query["list-type"] !== "1" && !v2) {
    return fail(400, errorXml("InvalidArgument", "Invalid argument.", `Invalid list-type: ${query["list-type"]}`))
  }
  const prefix = query.prefix ?? ""
  const delimiter = query.delimiter ?? ""
  const maxKeysRaw = query["max-keys"]
  if (maxKeysRaw !== undefined && !/^\d+$/.test(maxKeysRaw)) {
    return fail(400, errorXml("InvalidArgument", "Invalid argument.", `Invalid max-keys: ${maxKeysRaw}`))
  }
  const maxKeys = Math.min(maxKeysRaw === undefined ? MAX_KEYS : Number(maxKeysRaw), MAX_KEYS)
  const urlEncoded = query["encoding-type"] === "url"
  const enc = (text: string) => escapeXml(urlEncoded ? uriEncode(text, true) : text)
  let after: string | undefined
  if (v2) {
    const token = query["continuation-token"]
    if (token !== undefined) {
      const decoded = Buffer.from(token, "base64url").toString("utf8")
      if (!decoded.startsWith("gcs1:")) return fail(400, errorXml("InvalidArgument", "Invalid argument.", "Invalid continuation token"))
      after = decoded.slice(5)
    } else {
      after = query["start-after"]
    }
  } else {
    after = query.marker
  }

  // The first name after the marker (binary search), then names while they have the prefix.
  let lo = 0
  let hi = sorted.length
  const from = after !== undefined && byteOrder(after, prefix) > 0 ? after : prefix
  const inclusive = from === prefix && (after === undefined || byteOrder(after, prefix) < 0)
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    const c = byteOrder(sorted[mid]!, from)
    if (c < 0 || (c === 0 && !inclusive)) lo = mid + 1
    else hi = mid
  }
  const keys: Array<string> = []
  for (let i = lo; i < sorted.length && sorted[i]!.startsWith(prefix); i++) keys.push(sorted[i]!)
  const contents: Array<GcsObject> = []
  const prefixes: Array<string> = []
  let last: string | undefined
  let truncated = false
  for (const k of keys) {
    const cut = delimiter === "" ? -1 : k.indexOf(delimiter, prefix.length)
    const rolled = cut < 0 ? undefined : k.slice(0, cut + delimiter.length)
    if (rolled !== undefined && (rolled === prefixes.at(-1) || rolled === after)) continue
    if (contents.length + prefixes.length >= maxKeys) {
      truncated = true
      break
    }
    if (rolled !== undefined) {
      prefixes.push(rolled)
      last = rolled
    } else {
      contents.push(objects.get(k)!)
      last = k
    }
  }

  const parts: Array<string> = [XML_DECLARATION, `<ListBucketResult xmlns='${NAMESPACE}'>`, `<Name>${escapeXml(bucketName)}</Name>`]
  parts.push(`<Prefix>${enc(prefix)}</Prefix>`)
  if (v2) {
    if (query["continuation-token"] !== undefined) parts.push(`<ContinuationToken>${escapeXml(query["continuation-token"])}</ContinuationToken>`)
    if (query["start-after"] !== undefined) parts.push(`<StartAfter>${enc(query["start-after"])}</StartAfter>`)
    parts.push(`<KeyCount>${contents.length + prefixes.length}</KeyCount>`)
  } else {
    parts.push(`<Marker>${enc(query.marker ?? "")}</Marker>`)
  }
  if (truncated && last !== undefined) {
    if (v2) {
      parts.push(`<NextContinuationToken>${Buffer.from(`gcs1:${last}`).toString("base64url")}</NextContinuationToken>`)
    } else if (nextMarkerMode === "always" || delimiter !== "") {
      parts.push(`<NextMarker>${enc(last)}</NextMarker>`)
    }
  }
  if (delimiter !== "") parts.push(`<Delimiter>${enc(delimiter)}</Delimiter>`)
  if (urlEncoded) parts.push("<EncodingType>url</EncodingType>")
  parts.push(`<IsTruncated>${truncated}</IsTruncated>`)
  for (const o of contents) {
    parts.push(
      `<Contents><Key>${enc(o.key)}</Key><Generation>${o.generation}</Generation><MetaGeneration>${o.metageneration}</MetaGeneration><LastModified>${o.updated.toISOString()}</LastModified><ETag>${
        escapeXml(etagOf(o))
      }</ETag><Size>${o.bytes.length}</Size></Contents>`
    )
  }
  for (const p of prefixes) parts.push(`<CommonPrefixes><Prefix>${enc(p)}</Prefix></CommonPrefixes>`)
  parts.push("</ListBucketResult>")
  send(200, { "content-type": "application/xml; charset=UTF-8", "cache-control": "private, max-age=0" }, parts.join(""))
}
