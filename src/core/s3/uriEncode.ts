/** S3's strict URI encoding: everything but `A-Za-z0-9-._~/` is percent-encoded (UTF-8), `+` included. */
export const uriEncode = (text: string): string =>
  encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(
    /%2F/g,
    "/"
  )
