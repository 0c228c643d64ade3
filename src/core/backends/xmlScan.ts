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

const QUOT = "&quot;"

/**
 * XML character and entity references decoded; an `&` that starts none is kept as it is. A scan rather than
 * a replace with a callback: every ETag of a listing holds two `&quot;`.
 */
export const decodeText = (raw: string): string => {
  if (!raw.includes("&")) return raw
  // `&quot;…&quot;` around text without another reference, how every listed ETag is written: read by string
  // tests, a third of the time a regular expression's match took (bench/).
  const n = raw.length
  if (n >= 2 * QUOT.length && raw.startsWith(QUOT) && raw.endsWith(QUOT) && raw.indexOf("&", QUOT.length) === n - QUOT.length) {
    return `"${raw.slice(QUOT.length, n - QUOT.length)}"`
  }
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

/**
 * Searches one document for `text`, front to back: a hit found ahead of the position asked is remembered and
 * handed out again until the position passes it, so a document is scanned once per tag however many entries
 * it holds, and an entry without an optional element does not send a search to the end of the document.
 */
const forwardSearch = (xml: string, text: string) => {
  let asked = Number.POSITIVE_INFINITY
  let found = -1
  return (from: number): number => {
    if (from < asked || (found >= 0 && found < from)) {
      asked = from
      found = xml.indexOf(text, from)
    }
    return found
  }
}

/** Called with the range of one element's content (`start` past its open tag, `end` at its close tag); a string stops the walk. */
export type ElementVisitor = (start: number, end: number) => string | undefined

/**
 * Visits every `<name>…</name>` element of `xml` in document order, by range (no copy of the entry); the
 * visitor's string stops the walk and is answered. So is an element never closed, so that a body cut short
 * cannot read as a shorter listing.
 */
export const eachElement = (xml: string, name: string, visit: ElementVisitor): string | undefined => {
  const open = `<${name}>`
  const close = `</${name}>`
  for (let at = xml.indexOf(open); at >= 0; at = xml.indexOf(open, at)) {
    const start = at + open.length
    const end = xml.indexOf(close, start)
    if (end < 0) return `an unclosed ${name} element`
    const stop = visit(start, end)
    if (stop !== undefined) return stop
    at = end + close.length
  }
  return undefined
}

/**
 * A reader of one child element in ranges of `xml` visited front to back (`eachElement`): the decoded text of
 * the first `<name>…</name>` between `from` and `to`, `""` for `<name/>`, `undefined` for none (or one that is
 * not closed within the range).
 */
export const childReader = (xml: string, name: string) => {
  const open = forwardSearch(xml, `<${name}>`)
  const close = forwardSearch(xml, `</${name}>`)
  const empty = forwardSearch(xml, `<${name}/>`)
  const length = name.length + 2
  return (from: number, to: number): string | undefined => {
    const at = open(from)
    if (at >= 0 && at < to) {
      const end = close(at + length)
      return end < 0 || end > to ? undefined : decodeText(xml.slice(at + length, end))
    }
    const self = empty(from)
    return self >= 0 && self < to ? "" : undefined
  }
}
