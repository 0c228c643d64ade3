/**
 * Reading the flat, fixed-shape XML listings storage services write (S3's ListBucketResult, Azure's
 * EnumerationResults) on the hot path, where a general XML parser costs more than a Workers request's CPU
 * budget. Their text never holds a raw `<` (it is escaped), so an element is found by its tag.
 */
const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: "\"", apos: "'" }

/** XML character and entity references decoded. */
export const decodeText = (raw: string): string =>
  raw.includes("&")
    ? raw.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|lt|gt|amp|quot|apos);/g, (whole, name: string) =>
      name.startsWith("#x")
        ? String.fromCodePoint(parseInt(name.slice(2), 16))
        : name.startsWith("#")
        ? String.fromCodePoint(Number(name.slice(1)))
        : ENTITIES[name] ?? whole)
    : raw

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
