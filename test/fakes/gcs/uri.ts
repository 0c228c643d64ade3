/** URL pieces as GCS reads them and SigV4 canonicalises them. */

/** RFC 3986 strict encoding as SigV4 canonicalises names and values (`/` kept in paths only). */
export const uriEncode = (text: string, keepSlash: boolean): string =>
  Array.from(Buffer.from(text, "utf8")).map((b) => {
    const c = String.fromCharCode(b)
    return /[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === "/") ? c : `%${b.toString(16).toUpperCase().padStart(2, "0")}`
  }).join("")

export const decodeComponent = (text: string): string => {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/** Query pairs as received: `+` is a space as in form encoding (what GCS and S3 accept). */
export const queryPairs = (rawQuery: string): Array<[string, string]> =>
  rawQuery === ""
    ? []
    : rawQuery.split("&").filter((p) => p !== "").map((pair) => {
      const eq = pair.indexOf("=")
      const name = eq < 0 ? pair : pair.slice(0, eq)
      const value = eq < 0 ? "" : pair.slice(eq + 1)
      return [decodeComponent(name.replace(/\+/g, " ")), decodeComponent(value.replace(/\+/g, " "))]
    })
