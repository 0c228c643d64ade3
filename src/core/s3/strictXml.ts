import * as Either from "effect/Either"

/**
 * A strict XML 1.0 reader for the small documents clients send (DeleteObjects, CompleteMultipartUpload).
 * Anything not well-formed is refused, so a truncated or garbled body can never read as a shorter valid
 * one. Character references (`&#34;`, `&#x22;`: Go's encoder writes quotes so) and the five predefined
 * entities are decoded. DTDs are refused: these documents never need one, and it only opens entity expansion.
 */

/** An element: its local name (namespace prefix dropped), its child elements and its character data. */
export interface XmlElement {
  readonly name: string
  readonly children: ReadonlyArray<XmlElement>
  /** Text, CDATA and references directly inside the element, decoded, in document order. */
  readonly text: string
}

const NOT_CHAR = /[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/u
/** XML 1.0's Name production (fifth edition), exactly. */
const NAME =
  /[:A-Z_a-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\u{10000}-\u{effff}][-.0-9:A-Z_a-z\u00b7\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u037d\u037f-\u1fff\u200c-\u200d\u203f-\u2040\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\u{10000}-\u{effff}]*/uy
const SPACE = /[ \t\n]*/y
const TEXT = /[^<&]+/y
const DECLARATION =
  /<\?xml[ \t\n]+version[ \t\n]*=[ \t\n]*(["'])1\.[0-9]+\1(?:[ \t\n]+encoding[ \t\n]*=[ \t\n]*(["'])[A-Za-z][\w.-]*\2)?(?:[ \t\n]+standalone[ \t\n]*=[ \t\n]*(["'])(?:yes|no)\3)?[ \t\n]*\?>/y
const REFERENCE = /&(?:#([0-9]+)|#x([0-9a-fA-F]+)|([^;&<\s]*));/y
const PREDEFINED: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: "\"", apos: "'" }

/** Thrown only inside `parseXml`, and caught there: the first place the document stops being XML. */
class NotWellFormed {
  constructor(readonly reason: string) {}
}

interface Open {
  readonly qname: string
  readonly children: Array<XmlElement>
  text: string
}

/** The root element of `source`, or why it is not a well-formed XML document. */
export const parseXml = (source: string): Either.Either<XmlElement, string> => {
  // Line ends are normalized before parsing (XML 1.0 §2.11); `&#13;` still yields a carriage return.
  const text = source.replace(/^\ufeff/, "").replace(/\r\n?/g, "\n")
  let at = 0
  const fail = (reason: string): never => {
    throw new NotWellFormed(`${reason} at offset ${at}`)
  }
  const match = (pattern: RegExp): string | undefined => {
    pattern.lastIndex = at
    const found = pattern.exec(text)
    if (found === null) return undefined
    at = pattern.lastIndex
    return found[0]
  }
  const skipSpace = (): string => match(SPACE) ?? ""
  const name = (): string => match(NAME) ?? fail("a name was expected")
  const expect = (literal: string) => {
    if (!text.startsWith(literal, at)) fail(`\`${literal}\` was expected`)
    at += literal.length
  }
  const until = (end: string, what: string): string => {
    const stop = text.indexOf(end, at)
    if (stop < 0) fail(`an unclosed ${what}`)
    const inner = text.slice(at, stop)
    at = stop + end.length
    return inner
  }
  const reference = (): string => {
    REFERENCE.lastIndex = at
    const found = REFERENCE.exec(text) ?? fail("a malformed reference")
    at = REFERENCE.lastIndex
    const [, decimal, hex, entity] = found
    if (entity !== undefined) return PREDEFINED[entity] ?? fail(`an undeclared entity &${entity};`)
    const code = decimal !== undefined ? Number(decimal) : Number.parseInt(hex ?? "", 16)
    const char = code <= 0x10ffff ? String.fromCodePoint(code) : ""
    return char === "" || NOT_CHAR.test(char) ? fail("a reference to a character XML does not allow") : char
  }
  /** A comment or a processing instruction (other than `<?xml`), which may stand anywhere outside a tag. */
  const misc = (): boolean => {
    if (text.startsWith("<!--", at)) {
      at += 4
      const comment = until("-->", "comment")
      if (comment.includes("--") || comment.endsWith("-")) fail("`--` inside a comment")
      return true
    }
    if (text.startsWith("<?", at)) {
      at += 2
      if (name().toLowerCase() === "xml") fail("a misplaced XML declaration")
      if (!text.startsWith("?>", at) && skipSpace() === "") fail("a malformed processing instruction")
      until("?>", "processing instruction")
      return true
    }
    return false
  }
  /** Attributes are checked (quoted, unique, references valid) and dropped: these documents need none. */
  const attributes = () => {
    const seen = new Set<string>()
    for (;;) {
      const space = skipSpace()
      if (text.startsWith(">", at) || text.startsWith("/>", at)) return
      if (space === "") fail("a space was expected before an attribute")
      const attribute = name()
      if (seen.has(attribute)) fail(`the attribute ${attribute} is repeated`)
      seen.add(attribute)
      skipSpace()
      expect("=")
      skipSpace()
      const quote = text[at]
      if (quote !== "\"" && quote !== "'") fail("a quoted attribute value was expected")
      at++
      for (let c = text[at]; c !== quote; c = text[at]) {
        if (c === undefined || c === "<") fail("an unclosed attribute value")
        if (c === "&") reference()
        else at++
      }
      at++
    }
  }
  const localName = (qname: string) => qname.slice(qname.indexOf(":") + 1)

  /** The root element, read with an explicit stack (deep nesting cannot exhaust the call stack). */
  const root = (): XmlElement => {
    const stack: Array<Open> = []
    /** Hands a finished element to its parent; the root, once finished, is the answer. */
    const finish = (done: XmlElement): XmlElement | undefined => {
      const parent = stack[stack.length - 1]
      if (parent === undefined) return done
      parent.children.push(done)
      return undefined
    }
    for (;;) {
      const top = stack[stack.length - 1]
      let done: XmlElement | undefined
      if (top !== undefined && at >= text.length) fail(`<${top.qname}> is not closed`)
      if (top === undefined || (text[at] === "<" && !"/!?".includes(text[at + 1] ?? "/"))) {
        expect("<")
        const qname = name()
        attributes()
        if (text.startsWith("/>", at)) {
          at += 2
          done = finish({ name: localName(qname), children: [], text: "" })
        } else {
          at++
          stack.push({ qname, children: [], text: "" })
        }
      } else if (text.startsWith("</", at)) {
        at += 2
        const qname = name()
        skipSpace()
        expect(">")
        if (qname !== top.qname) fail(`</${qname}> closes <${top.qname}>`)
        stack.pop()
        done = finish({ name: localName(qname), children: top.children, text: top.text })
      } else if (text.startsWith("<![CDATA[", at)) {
        at += 9
        top.text += until("]]>", "CDATA section")
      } else if (misc()) {
        // comments and processing instructions carry no content
      } else if (text[at] === "<") {
        fail("a declaration inside an element")
      } else if (text[at] === "&") {
        top.text += reference()
      } else {
        const data = match(TEXT) ?? ""
        if (data.includes("]]>")) fail("`]]>` in text")
        top.text += data
      }
      if (done !== undefined) return done
    }
  }

  try {
    if (NOT_CHAR.test(text)) {
      at = text.search(NOT_CHAR)
      fail("a character XML does not allow")
    }
    if (/^<\?xml[ \t\n?]/.test(text) && match(DECLARATION) === undefined) fail("a malformed XML declaration")
    do skipSpace()
    while (misc())
    if (text.startsWith("<!DOCTYPE", at)) fail("a document type declaration")
    if (text[at] !== "<") fail("the root element was expected")
    const element = root()
    do skipSpace()
    while (misc())
    if (at < text.length) fail("content after the root element")
    return Either.right(element)
  } catch (e) {
    if (e instanceof NotWellFormed) return Either.left(e.reason)
    throw e
  }
}
