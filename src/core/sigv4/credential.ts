import type { CredentialScope } from "./stringToSign.js"
import { TERMINATOR } from "./stringToSign.js"

export interface Credential {
  readonly accessKeyId: string
  readonly scope: CredentialScope
}

/**
 * `AKID/YYYYMMDD/region/service/aws4_request` → the parts, or a reason it is malformed. Region and service are
 * whatever the client signed with (checked later against what we expect); the date must be 8 digits.
 */
export const parseCredential = (value: string): Credential | string => {
  const parts = value.split("/")
  if (parts.length !== 5) return `the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/${TERMINATOR}".`
  const [accessKeyId, date, region, service, terminator] = parts as [string, string, string, string, string]
  if (accessKeyId === "") return "the Credential has an empty access key id."
  if (!/^\d{8}$/.test(date)) return `Invalid credential date "${date}". This date is not in the correct format.`
  if (region === "") return "the region is empty."
  if (service === "") return "the service is empty."
  if (terminator !== TERMINATOR) return `incorrect terminal "${terminator}". This endpoint uses "${TERMINATOR}".`
  return { accessKeyId, scope: { date, region, service } }
}

/** `SignedHeaders=a;b;c`: non-empty, lowercase names; returned sorted and deduplicated. */
export const parseSignedHeaders = (value: string): ReadonlyArray<string> | string => {
  const names = value.split(";")
  for (const name of names) {
    if (name === "" || name !== name.toLowerCase() || !/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name)) {
      return `the SignedHeaders list is malformed ("${value}").`
    }
  }
  return [...new Set(names)].sort()
}
