/**
 * Reading the flat, fixed-shape XML listings storage services write (S3's ListBucketResult, Azure's
 * EnumerationResults) on the hot path, where a general XML parser costs more than a Workers request's CPU
 * budget. Their text never holds a raw `<` (it is escaped), so an element is found by its tag.
 */
const ENTITIES = new Map([["lt", "<"], ["gt", ">"], ["amp", "&"], ["quot", "\""], ["apos", "'"]])

/** The text an entity or character reference (`amp`, `#38`, `#x26`) stands for. */
const referenced = (name: string): string | undefined =>
  ENTITIES.get(name)
    ?? (/^#x[0-9a-fA-F]+$/.test(name)
      ? String.fromCodePoint(parseInt(name.slice(2), 16))
      : /^#[0-9]+$/.test(name)
      ? String.fromCodePoint(Number(name.slice(1)))
      : undefined)

/** `&quot;…&quot;` around text without another reference: how every listed ETag is written. */
const QUOTED_TOKEN = /^&quot;([^&]*)&quot;$/

/**
 * XML character and entity references decoded; an `&` that starts none is kept as it is. A scan rather than
 * a replace with a callback: every ETag of a listing holds two `&quot;`.
 */
export const decodeText = (raw: string): string => {
  const quoted = QUOTED_TOKEN.exec(raw)
  if (quoted !== null) return `"${quoted[1]}"`
  let out = ""
  let from = 0
  for (let at = raw.indexOf("&"); at >= 0; at = raw.indexOf("&", at + 1)) {
    const end = raw.indexOf(";", at + 1)
    if (end < 0) break
    const value = referenced(raw.slice(at + 1, end))
    if (value === undefined) continue
    out += raw.slice(from, at) + value
    from = end + 1
    at = end
  }
  return from === 0 ? raw : out + raw.slice(from)
}

/**
 * The inner text of each `<name>…</name>` element, in document order (slices share the document's
 * memory); `undefined` when one is never closed, so a body cut short cannot read as a shorter listing.
 */
export const blocks = (xml: string, name: string): Array<string> | undefined => {
  const open = `<${name}>`
  const close = `</${name}>`
  const found: Array<string> = []
  for (let at = xml.indexOf(open); at >= 0; at = xml.indexOf(open, at)) {
    const end = xml.indexOf(close, at)
    if (end < 0) return undefined
    found.push(xml.slice(at + open.length, end))
    at = end + close.length
  }
  return found
}
