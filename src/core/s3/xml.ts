const XML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&apos;", "\r": "&#13;" }

/**
 * Text as XML character data, well-formed whatever it holds: markup characters escaped, a carriage return
 * as `&#13;` (a parser would read a raw one as a line feed), and what XML 1.0 cannot carry at all (other
 * control characters, lone surrogates, U+FFFE/U+FFFF) as U+FFFD.
 */
export const escapeXml = (text: string): string =>
  text.replace(
    /[&<>"'\r]|[^\t\n\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/gu,
    (c) => XML_ESCAPES[c] ?? "\ufffd"
  )

export const XML_DECLARATION = `<?xml version="1.0" encoding="UTF-8"?>\n`
export const S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"

/** `<Name>text</Name>`, or `<Name/>` for an empty text, as the Rust proxy's quick-xml writes it. */
export const element = (name: string, text: string): string =>
  text === "" ? `<${name}/>` : `<${name}>${escapeXml(text)}</${name}>`
