/** The XML of GCS's answers (declaration, namespace, escaping, error documents) and of small request documents. */

export const NAMESPACE = "http://doc.s3.amazonaws.com/2006-03-01"
export const XML_DECLARATION = "<?xml version='1.0' encoding='UTF-8'?>"
export const XML_CONTENT = { "content-type": "application/xml; charset=UTF-8" }

export const escapeXml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&apos;" })[c]!)

export const errorXml = (code: string, message: string, details?: string, extra = ""): string =>
  `${XML_DECLARATION}<Error><Code>${code}</Code><Message>${escapeXml(message)}</Message>${
    details === undefined ? "" : `<Details>${escapeXml(details)}</Details>`
  }${extra}</Error>`

/** The first `<Tag>…</Tag>` texts of a small request document (entities decoded). */
export const xmlTexts = (xml: string, tag: string): Array<string> =>
  Array.from(xml.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, "g")), (m) =>
    m[1]!.replace(/&quot;/g, "\"").replace(/&apos;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&"))
