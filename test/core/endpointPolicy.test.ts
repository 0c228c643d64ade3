import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { classifyHost, endpointRefusal, type HostClass } from "../../src/core/backends/endpointPolicy.js"

/** Whether the proxy would call `url` with the switch off / on. */
const verdict = (url: string) => ({ off: endpointRefusal(url, false) === undefined, on: endpointRefusal(url, true) === undefined })
const NEVER = { off: false, on: false }
const PRIVATE = { off: false, on: true }
const ALWAYS = { off: true, on: true }

describe("endpoint policy: examples", () => {
  const cases: ReadonlyArray<readonly [string, { off: boolean; on: boolean }]> = [
    ["https://s3.eu-west-1.amazonaws.com", ALWAYS],
    ["https://r2.example/bucket", ALWAYS],
    ["http://minio.local:9000/", ALWAYS],
    ["http://172.32.0.1/", ALWAYS],
    ["http://100.128.0.1/", ALWAYS],
    ["http://[2001:db8::1]/", ALWAYS],
    // Cloud metadata and link-local: never, whatever the switch says.
    ["http://169.254.169.254/latest/meta-data/", NEVER],
    ["http://169.254.169.254./latest/meta-data/", NEVER],
    ["http://169.254.170.2/v2/credentials", NEVER],
    ["http://user:pw@169.254.169.254/", NEVER],
    ["http://2852039166/", NEVER],
    ["http://0xa9fea9fe/", NEVER],
    ["http://0251.0376.0251.0376/", NEVER],
    ["http://169.254.43518/", NEVER],
    ["http://[::ffff:169.254.169.254]/", NEVER],
    ["http://[::ffff:a9fe:a9fe]/", NEVER],
    ["http://[64:ff9b::169.254.169.254]/", NEVER],
    ["http://[fd00:ec2::254]/latest/meta-data/", NEVER],
    ["http://[fe80::1]/", NEVER],
    ["http://[febf:ffff::1]/", NEVER],
    ["http://metadata.google.internal/computeMetadata/v1/", NEVER],
    ["http://METADATA.google.internal./", NEVER],
    ["http://metadata/", NEVER],
    ["http://100.100.100.200/latest/meta-data/", NEVER],
    // Unspecified addresses reach the host itself.
    ["http://0.0.0.0:9000/", NEVER],
    ["http://0/", NEVER],
    ["http://[::]/", NEVER],
    // Not http(s), or not a URL.
    ["file:///etc/passwd", NEVER],
    ["ftp://example.com/", NEVER],
    ["gopher://example.com/", NEVER],
    ["javascript:alert(1)", NEVER],
    ["example.com/bucket", NEVER],
    ["", NEVER],
    // Loopback and private ranges: only with the switch on.
    ["http://127.0.0.1:9000/", PRIVATE],
    ["http://2130706433/", PRIVATE],
    ["http://0x7f.1/", PRIVATE],
    ["http://0x7f000001/", PRIVATE],
    ["http://0177.0.0.1/", PRIVATE],
    ["http://127.1/", PRIVATE],
    ["http://%31%32%37.0.0.1/", PRIVATE],
    ["http://127.255.255.254/", PRIVATE],
    ["http://localhost:10000/devstoreaccount1", PRIVATE],
    ["http://LOCALHOST./", PRIVATE],
    ["http://minio.localhost/", PRIVATE],
    ["http://[::1]:9000/", PRIVATE],
    ["http://[::ffff:127.0.0.1]/", PRIVATE],
    ["http://[::ffff:7f00:1]/", PRIVATE],
    ["http://[::127.0.0.1]/", PRIVATE],
    ["http://10.1.2.3/", PRIVATE],
    ["http://172.16.0.1/", PRIVATE],
    ["http://172.31.255.255/", PRIVATE],
    ["http://192.168.0.10/", PRIVATE],
    ["http://100.64.0.1/", PRIVATE],
    ["http://100.127.255.255/", PRIVATE],
    ["http://[fc00::1]/", PRIVATE],
    ["http://[fd12:3456::1]/", PRIVATE],
    ["http://[::ffff:10.0.0.1]/", PRIVATE]
  ]
  for (const [url, expected] of cases) {
    it(`${JSON.stringify(url)} → ${expected.off ? "allowed" : expected.on ? "only with ALLOW_PRIVATE_ENDPOINTS" : "never"}`, () => {
      expect(verdict(url)).toStrictEqual(expected)
    })
  }

  it("a refusal says why", () => {
    expect(endpointRefusal("http://169.254.169.254/", true)).toBe("link-local address 169.254.169.254")
    expect(endpointRefusal("http://127.0.0.1/", false)).toMatch(/loopback address 127\.0\.0\.1 .*ALLOW_PRIVATE_ENDPOINTS/)
    expect(endpointRefusal("file:///x", true)).toMatch(/scheme file:/)
  })
})

// ---------------------------------------------------------------------------------------------------
// Properties: every spelling of an address is judged as the address, by a model written per octet.
// ---------------------------------------------------------------------------------------------------

type Octets = readonly [number, number, number, number]

const v4Model = ([a, b, c, d]: Octets): HostClass =>
  a === 0
    ? "Unspecified"
    : a === 169 && b === 254
    ? "LinkLocal"
    : a === 100 && b === 100 && c === 100 && d === 200
    ? "Metadata"
    : a === 127
    ? "Loopback"
    : a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127)
    ? "Private"
    : "Public"

const byte = fc.integer({ min: 0, max: 255 })
/** Any address, with the interesting blocks and their edges weighted in. */
const octets: fc.Arbitrary<Octets> = fc.oneof(
  fc.tuple(byte, byte, byte, byte),
  fc.tuple(fc.constantFrom(0, 10, 127, 169, 172, 192, 100, 99, 101, 126, 128, 168, 170, 171, 173, 191, 193), byte, byte, byte),
  fc.tuple(fc.constant(169), fc.constantFrom(253, 254, 255), byte, byte),
  fc.tuple(fc.constant(172), fc.integer({ min: 14, max: 33 }), byte, byte),
  fc.tuple(fc.constant(100), fc.integer({ min: 62, max: 129 }), byte, byte),
  fc.tuple(fc.constant(100), fc.constant(100), fc.constant(100), fc.integer({ min: 199, max: 201 }))
)

const value = ([a, b, c, d]: Octets) => ((a * 256 + b) * 256 + c) * 256 + d
const hex = (n: number) => n.toString(16)

/** Ways to write one IPv4 address in a URL's host that the URL parser reads as that address. */
const spellings = (o: Octets): ReadonlyArray<string> => {
  const [a, b, c, d] = o
  return [
    o.join("."),
    `${o.join(".")}.`,
    String(value(o)),
    `0x${hex(value(o))}`,
    o.map((x) => `0x${hex(x)}`).join("."),
    o.map((x) => `0${x.toString(8)}`).join("."),
    `${a}.${b}.${c * 256 + d}`,
    `${a}.${(b * 256 + c) * 256 + d}`,
    `[::ffff:${o.join(".")}]`,
    `[::ffff:${hex(a * 256 + b)}:${hex(c * 256 + d)}]`,
    `[0:0:0:0:0:ffff:${o.join(".")}]`,
    `[64:ff9b::${o.join(".")}]`
  ]
}

const hostOf = (spelling: string) => new URL(`http://${spelling}/`).hostname

describe("endpoint policy: properties", () => {
  it.prop("every spelling of an IPv4 address is classified as the address", [octets], ([o]) => {
    for (const spelling of spellings(o)) expect([spelling, classifyHost(hostOf(spelling))]).toStrictEqual([spelling, v4Model(o)])
  }, { fastCheck: { numRuns: 500 } })

  it.prop("the switch opens loopback and private addresses and nothing else", [octets, fc.constantFrom("http", "https")], ([o, scheme]) => {
    const model = v4Model(o)
    for (const spelling of spellings(o)) {
      const url = `${scheme}://${spelling}:9000/bucket`
      expect(endpointRefusal(url, false) === undefined).toBe(model === "Public")
      expect(endpointRefusal(url, true) === undefined).toBe(model === "Public" || model === "Loopback" || model === "Private")
    }
  }, { fastCheck: { numRuns: 300 } })

  const piece = fc.integer({ min: 0, max: 0xffff })
  const pieces = fc.oneof(
    fc.array(piece, { minLength: 8, maxLength: 8 }),
    fc.tuple(fc.constantFrom(0xfe80, 0xfebf, 0xfec0, 0xfc00, 0xfdff, 0xfe00, 0xff02, 0x2001, 0x64), fc.array(piece, { minLength: 7, maxLength: 7 }))
      .map(([first, rest]) => [first, ...rest]),
    fc.tuple(fc.constantFrom(0, 0xffff), octets).map(([marker, [a, b, c, d]]) => [0, 0, 0, 0, 0, marker, a * 256 + b, c * 256 + d])
  )
  const v6Model = (p: ReadonlyArray<number>): HostClass => {
    const rest = p.slice(0, 6)
    const v4: Octets = [p[6]! >> 8, p[6]! & 255, p[7]! >> 8, p[7]! & 255]
    if (p.every((x) => x === 0)) return "Unspecified"
    if (p.slice(0, 7).every((x) => x === 0) && p[7] === 1) return "Loopback"
    if (rest.slice(0, 5).every((x) => x === 0) && (rest[5] === 0 || rest[5] === 0xffff)) return v4Model(v4)
    if (p[0] === 0x64 && p[1] === 0xff9b && rest.slice(2).every((x) => x === 0)) return v4Model(v4)
    if (p[0]! >= 0xfe80 && p[0]! <= 0xfeff) return p[0]! <= 0xfebf ? "LinkLocal" : "Private"
    if (p.join(",") === [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254].join(",")) return "Metadata"
    if (p[0]! >= 0xfc00 && p[0]! <= 0xfdff) return "Private"
    return "Public"
  }

  it.prop("an IPv6 address, however it is written, is classified as the address", [pieces, fc.boolean()], ([p, upper]) => {
    const written = `[${p.map((x) => (upper ? hex(x).toUpperCase() : hex(x).padStart(4, "0"))).join(":")}]`
    expect(classifyHost(hostOf(written))).toBe(v6Model(p))
  }, { fastCheck: { numRuns: 500 } })

  it.prop("schemes other than http and https are refused", [
    fc.constantFrom("ftp", "file", "gopher", "ws", "wss", "data", "javascript", "httpx", "s3", "blob"),
    fc.boolean()
  ], ([scheme, allow]) => {
    expect(endpointRefusal(`${scheme}://example.com/x`, allow)).toBeDefined()
  })
})
