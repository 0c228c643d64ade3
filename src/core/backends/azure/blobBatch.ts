/**
 * Azure's Blob Batch (`POST {container}?restype=container&comp=batch`): up to 256 subrequests in one
 * `multipart/mixed` body, each a whole HTTP request with its own authorization, answered by one
 * `multipart/mixed` document of subresponses matched by Content-ID. It is how DeleteObjects stays within
 * Workers' subrequest budget: 1000 keys are 4 backend requests, not 1000.
 */

/** Subrequests per batch (Azure's limit). */
export const BATCH_MAX = 256

const CRLF = "\r\n"

/** One signed subrequest: the URL it was signed for and its headers, authorization included. */
export interface Subrequest {
  readonly method: string
  readonly url: string
  readonly headers: Headers
}

/** The batch body: each subrequest as `application/http`, Content-ID = its index. */
export const batchBody = (boundary: string, subrequests: ReadonlyArray<Subrequest>): string => {
  let body = ""
  subrequests.forEach((subrequest, index) => {
    const url = new URL(subrequest.url)
    body += `--${boundary}${CRLF}Content-Type: application/http${CRLF}Content-Transfer-Encoding: binary${CRLF}`
      + `Content-ID: ${index}${CRLF}${CRLF}${subrequest.method} ${url.pathname}${url.search} HTTP/1.1${CRLF}`
    subrequest.headers.forEach((value, name) => (body += `${name}: ${value}${CRLF}`))
    body += CRLF
  })
  return `${body}--${boundary}--${CRLF}`
}

/** One subresponse: its status and `x-ms-error-code`. */
export interface Subresponse {
  readonly status: number
  readonly errorCode: string | undefined
}

/** The boundary of a `multipart/mixed` content type, or undefined. */
export const boundaryOf = (contentType: string | null): string | undefined => {
  const match = /boundary=("?)([^";]+)\1/i.exec(contentType ?? "")
  return match?.[2]
}

/**
 * The subresponses of a batch answer by Content-ID (the subrequest's index). A part without a Content-ID
 * in range, or without a status line, is left out: its subrequest has no known outcome.
 */
export const parseBatchResponse = (text: string, boundary: string, count: number): ReadonlyArray<Subresponse | undefined> => {
  const outcomes: Array<Subresponse | undefined> = Array.from({ length: count }, () => undefined)
  const parts = text.split(`--${boundary}`).slice(1)
  for (const part of parts) {
    if (part.startsWith("--")) break
    const lines = part.split(/\r?\n/)
    const id = lines.map((line) => /^content-id:\s*(\d+)\s*$/i.exec(line)?.[1]).find((value) => value !== undefined)
    const statusAt = lines.findIndex((line) => /^HTTP\/1\.[01] \d{3}/.test(line))
    if (id === undefined || statusAt < 0) continue
    const index = Number(id)
    if (index >= count || outcomes[index] !== undefined) continue
    let errorCode: string | undefined
    for (const line of lines.slice(statusAt + 1)) {
      if (line.trim() === "") break
      const code = /^x-ms-error-code:\s*(.*?)\s*$/i.exec(line)?.[1]
      if (code !== undefined) errorCode = code
    }
    outcomes[index] = { status: Number(lines[statusAt]!.split(" ")[1]), errorCode }
  }
  return outcomes
}
