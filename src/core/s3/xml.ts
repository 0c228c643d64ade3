const XML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&apos;" }

export const escapeXml = (text: string): string => text.replace(/[&<>"']/g, (c) => XML_ESCAPES[c] ?? c)

export const XML_DECLARATION = `<?xml version="1.0" encoding="UTF-8"?>\n`
export const S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"

/** `<Name>text</Name>`, or `<Name/>` for an empty text, as the Rust proxy's quick-xml writes it. */
export const element = (name: string, text: string): string =>
  text === "" ? `<${name}/>` : `<${name}>${escapeXml(text)}</${name}>`
