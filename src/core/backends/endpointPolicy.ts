import * as Effect from "effect/Effect"
import { BackendAuthenticationFailed } from "../s3/errors.js"
import { BoundedMap } from "../shared/boundedMap.js"

/**
 * Which URLs the proxy may call for a data connection (catalog data, so anyone who can write a connection
 * could otherwise point the proxy at its own network). Judged on the URL as the WHATWG parser normalizes it:
 * `http://2130706433/`, `http://0x7f.1/` and `http://127.1/` are all `127.0.0.1` by then, and IPv6 arrives
 * as bracketed hex pieces (`[::ffff:7f00:1]`). A name is judged as a name: one that resolves to a private
 * address is not caught here (names are resolved inside the runtime's fetch).
 */

/** What a host is, as far as the policy is concerned. */
export type HostClass = "Public" | "Loopback" | "Private" | "LinkLocal" | "Metadata" | "Unspecified"

/** Cloud instance-metadata services by name (each also answers on a link-local or private address). */
const METADATA_NAMES = new Set(["metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal"])

/** `a.b.c.d` → its 32-bit value; undefined for anything else. */
const ipv4Value = (host: string): number | undefined => {
  const parts = host.split(".")
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined
  return parts.reduce((value, part) => value * 256 + Number(part), 0)
}

/** IPv4 ranges, the first match wins (Alibaba's metadata address lies inside CGNAT space). */
const V4_RANGES: ReadonlyArray<readonly [base: string, bits: number, HostClass]> = [
  ["0.0.0.0", 8, "Unspecified"],
  ["169.254.0.0", 16, "LinkLocal"],
  ["100.100.100.200", 32, "Metadata"],
  ["127.0.0.0", 8, "Loopback"],
  ["10.0.0.0", 8, "Private"],
  ["172.16.0.0", 12, "Private"],
  ["192.168.0.0", 16, "Private"],
  ["100.64.0.0", 10, "Private"]
]
const V4_TABLE = V4_RANGES.map(([base, bits, host]) => {
  const size = 2 ** (32 - bits)
  return { block: Math.floor(ipv4Value(base)! / size), size, host }
})

const classifyV4 = (value: number): HostClass =>
  V4_TABLE.find((range) => Math.floor(value / range.size) === range.block)?.host ?? "Public"

/** `::`-compressed hex pieces (as the URL parser prints them) → eight 16-bit pieces; undefined otherwise. */
const ipv6Pieces = (text: string): ReadonlyArray<number> | undefined => {
  const halves = text.split("::")
  if (halves.length > 2) return undefined
  const groups = (half: string | undefined) => (half === undefined || half === "" ? [] : half.split(":"))
  const head = groups(halves[0])
  const tail = groups(halves[1])
  const missing = 8 - head.length - tail.length
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined
  const all = [...head, ...Array<string>(halves.length === 1 ? 0 : missing).fill("0"), ...tail]
  if (!all.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return undefined
  return all.map((g) => parseInt(g, 16))
}

/** AWS's instance metadata over IPv6 (inside the unique-local range). */
const AWS_METADATA_V6 = ipv6Pieces("fd00:ec2::254")!

const classifyV6 = (p: ReadonlyArray<number>): HostClass => {
  const zero = (from: number, to: number) => p.slice(from, to).every((x) => x === 0)
  const embeddedV4 = p[6]! * 65536 + p[7]!
  if (zero(0, 8)) return "Unspecified"
  if (zero(0, 7) && p[7] === 1) return "Loopback"
  // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) reach an IPv4 host.
  if (zero(0, 5) && (p[5] === 0xffff || p[5] === 0)) return classifyV4(embeddedV4)
  if (p[0] === 0x64 && p[1] === 0xff9b && zero(2, 6)) return classifyV4(embeddedV4)
  if ((p[0]! & 0xffc0) === 0xfe80) return "LinkLocal"
  if (p.every((x, i) => x === AWS_METADATA_V6[i])) return "Metadata"
  if ((p[0]! & 0xfe00) === 0xfc00 || (p[0]! & 0xffc0) === 0xfec0) return "Private" // unique-local, old site-local
  return "Public"
}

/** A URL's `hostname` (lowercase, IPv6 bracketed, IPv4 dotted) as the policy sees it. */
export const classifyHost = (hostname: string): HostClass => {
  if (hostname.startsWith("[")) {
    const pieces = hostname.endsWith("]") ? ipv6Pieces(hostname.slice(1, -1)) : undefined
    return pieces === undefined ? "Unspecified" : classifyV6(pieces)
  }
  const name = hostname.toLowerCase().replace(/\.+$/, "")
  const v4 = ipv4Value(name)
  if (v4 !== undefined) return classifyV4(v4)
  if (name === "") return "Unspecified"
  if (METADATA_NAMES.has(name)) return "Metadata"
  if (name === "localhost" || name.endsWith(".localhost")) return "Loopback"
  return "Public"
}

/**
 * Why the proxy will not call `endpoint`, or undefined when it may: only http(s), never link-local, metadata
 * or unspecified addresses, and loopback or private ranges only when `allowPrivate` (local development).
 */
export const endpointRefusal = (endpoint: string, allowPrivate: boolean): string | undefined => {
  const key = `${allowPrivate ? "+" : "-"}${endpoint}`
  const known = decided.get(key)
  if (known !== undefined) return known === "" ? undefined : known
  const refusal = decideEndpoint(endpoint, allowPrivate)
  decided.set(key, refusal ?? "")
  return refusal
}

/** Decisions by endpoint: a pure function of its arguments, asked on every request a connection serves. */
const decided = new BoundedMap<string, string>(1_000)

const decideEndpoint = (endpoint: string, allowPrivate: boolean): string | undefined => {
  let url: URL
  try {
    url = new URL(endpoint)
  } catch {
    return "not a URL"
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return `scheme ${url.protocol} is not http or https`
  const host = classifyHost(url.hostname)
  switch (host) {
    case "Public":
      return undefined
    case "Loopback":
    case "Private":
      return allowPrivate ? undefined : `${host.toLowerCase()} address ${url.hostname} (ALLOW_PRIVATE_ENDPOINTS is off)`
    default:
      return `${host === "LinkLocal" ? "link-local" : host.toLowerCase()} address ${url.hostname}`
  }
}

/**
 * The policy where a connection is opened: a refused endpoint fails closed like an unusable `authentication`
 * (502 on reads, 403 on writes) before anything is sent; the reason goes to the log only.
 */
export const allowEndpoint = (connectionId: string, url: string, allowPrivate: boolean) => {
  const refusal = endpointRefusal(url, allowPrivate)
  return refusal === undefined
    ? Effect.void
    : Effect.zipRight(
      Effect.logWarning("data connection endpoint refused", { connection: connectionId, refusal }),
      Effect.fail(new BackendAuthenticationFailed({ code: "EndpointNotAllowed" }))
    )
}
