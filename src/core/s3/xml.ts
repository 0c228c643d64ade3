const XML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&apos;", "\r": "&#13;" }

const ESCAPED = /[&<>"'\r]|[^\t\n\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/gu

/** Printable ASCII without a markup character: nothing to escape. */
const PLAIN = /^[\t\n !#-%(-;=?-~]*$/
const QUOTE = "\"".charCodeAt(0)

/** What each ASCII character becomes (undefined: itself); a control character other than tab and line feed is U+FFFD. */
const ASCII_ESCAPES: ReadonlyArray<string | undefined> = Array.from({ length: 128 }, (_, code) => {
  const c = String.fromCharCode(code)
  return XML_ESCAPES[c] ?? (code < 0x20 && c !== "\t" && c !== "\n" ? "\ufffd" : undefined)
})

/**
 * Text as XML character data, well-formed whatever it holds: markup characters escaped, a carriage return
 * as `&#13;` (a parser would read a raw one as a line feed), and what XML 1.0 cannot carry at all (other
 * control characters, lone surrogates, U+FFFE/U+FFFF) as U+FFFD. A plain name is recognised by a regular
 * expression, a quoted ETag by its quotes and the same expression on what they hold (a match with its capture
 * took twice as long, bench/), other ASCII text escaped by a table in one pass; a listing escapes thousands of
 * names per page.
 */
export const escapeXml = (text: string): string => {
  // The two shapes a listing writes thousands of per page, tested natively: a plain ASCII name, a quoted ETag.
  if (PLAIN.test(text)) return text
  const n = text.length
  if (n >= 2 && text.charCodeAt(0) === QUOTE && text.charCodeAt(n - 1) === QUOTE) {
    const inner = text.slice(1, n - 1)
    if (PLAIN.test(inner)) return `&quot;${inner}&quot;`
  }
  let out = ""
  let from = 0
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code >= 0x80) return text.replace(ESCAPED, (c) => XML_ESCAPES[c] ?? "\ufffd")
    const escaped = ASCII_ESCAPES[code]
    if (escaped !== undefined) {
      out += text.slice(from, i) + escaped
      from = i + 1
    }
  }
  return from === 0 ? text : out + text.slice(from)
}

export const XML_DECLARATION = `<?xml version="1.0" encoding="UTF-8"?>\n`
export const S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"

/** `<Name>text</Name>`, or `<Name/>` for an empty text, as the Rust proxy's quick-xml writes it. */
export const element = (name: string, text: string): string =>
  text === "" ? `<${name}/>` : `<${name}>${escapeXml(text)}</${name}>`
