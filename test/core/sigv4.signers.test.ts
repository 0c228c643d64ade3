import { expect, layer } from "@effect/vitest"
import { Effect, FastCheck as fc, type Layer, TestClock } from "effect"
import type { S3Request } from "../../src/core/http/S3Request.js"
import type { Hmac } from "../../src/core/services/Hmac.js"
import { SigningKeyCache } from "../../src/core/sigv4/signingKey.js"
import { verifyRequest } from "../../src/core/sigv4/verify.js"
import { WebCryptoHmac } from "../../src/layers/WebCryptoHmac.js"
import { NodeCryptoHmac } from "../../src/platform/bun/NodeCryptoHmac.js"
import { safeChar, safeSegment } from "../fixtures/arbitraries.js"
import { type SignInput, signWithAws4fetch, signWithSmithy } from "../fixtures/sigv4.js"

/**
 * Two independent signers (aws4fetch's AwsV4Signer, @smithy/signature-v4 as the JS SDK uses it) sign random S3
 * requests; the verifier must accept every one, and reject every single-character mutation of what is signed.
 */

const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
const SIGV4_TAGS = new Set([
  "SignatureDoesNotMatch", "RequestTimeTooSkewed", "RequestExpired", "AuthorizationHeaderMalformed",
  "AuthorizationQueryParametersError", "XAmzContentSHA256Mismatch", "IncompleteBody", "AccessDenied",
  "InvalidAccessKeyId", "InvalidArgument", "InvalidRequest"
])

const queryName = fc.oneof(
  fc.constantFrom("x-id", "prefix", "list-type", "uploads", "partNumber", "a", "a-b", "A", "~", "*"),
  fc.string({ unit: safeChar, minLength: 1, maxLength: 6 })
).filter((n) => !/^x-amz-/i.test(n))
const queryValue = fc.oneof(fc.constant(""), fc.constantFrom("GetObject", "PutObject", "2"), fc.string({ unit: safeChar, maxLength: 8 }))
const headerValue = fc.tuple(
  fc.stringMatching(/^[\x21-\x7e]{1,6}$/),
  fc.constantFrom(" ", "   ", "\t", " \t  "),
  fc.stringMatching(/^[\x21-\x7e]{1,6}$/)
).map(([a, gap, b]) => a + gap + b)
const headerName = fc.oneof(fc.stringMatching(/^x-amz-meta-[a-z0-9]{1,6}$/), fc.stringMatching(/^x-custom-[a-z]{1,6}$/))

const signInput = (presign: boolean, uniqueQueryNames: boolean): fc.Arbitrary<SignInput> =>
  fc.record({
    accessKeyId: fc.stringMatching(/^[A-Z0-9]{16,20}$/),
    secretAccessKey: fc.stringMatching(/^[A-Za-z0-9/+]{20,40}$/),
    sessionToken: fc.option(fc.stringMatching(/^[A-Za-z0-9/+=]{10,40}$/), { nil: undefined }),
    region: fc.oneof(fc.constantFrom("us-east-1", "eu-west-2", "auto"), fc.stringMatching(/^[a-z]{2}-[a-z]{3,9}-[1-9]$/)),
    timeMillis: fc.integer({ min: Date.UTC(2016, 0, 1), max: Date.UTC(2035, 0, 1) }).map((ms) => ms - (ms % 1000)),
    method: fc.constantFrom("GET", "HEAD", "PUT", "DELETE", "POST"),
    host: fc.constantFrom("localhost:8787", "data.source.coop", "127.0.0.1:9000"),
    pathSegments: fc.array(safeSegment, { minLength: 1, maxLength: 4 }),
    query: uniqueQueryNames
      ? fc.uniqueArray(fc.tuple(queryName, queryValue), { selector: ([n]) => n, maxLength: 5 })
      : fc.array(fc.tuple(queryName, queryValue), { maxLength: 5 }),
    headers: fc.uniqueArray(fc.tuple(headerName, headerValue), { selector: ([n]) => n, maxLength: 3 }),
    payloadHash: presign ? fc.constant(undefined) : fc.constantFrom("UNSIGNED-PAYLOAD", EMPTY_SHA256),
    presign: fc.constant(presign),
    expiresSeconds: fc.integer({ min: 1, max: 604800 })
  })

const SIGNERS = [
  ["aws4fetch", signWithAws4fetch, true],
  ["smithy", signWithSmithy, false]
] as const

const lookupFor = (input: SignInput) => (id: string) =>
  Effect.succeed(id === input.accessKeyId ? input.secretAccessKey : "wrong-secret")

/** A time at which the request must verify: within skew (header) or before expiry (presigned). */
const validNow = (input: SignInput, fraction: number) =>
  input.presign
    ? input.timeMillis + Math.floor(fraction * (input.expiresSeconds ?? 3600) * 1000)
    : input.timeMillis + Math.round((fraction * 2 - 1) * 15 * 60 * 1000)

type Target = "signature" | "header" | "path" | "query" | "date"
const PRINTABLE = [..."abcXYZ019-_.~%+=*!&;:@ /\\\"'()[]{}<>|^`,$"]

const replaceAt = (text: string, index: number, char: string) => text.slice(0, index) + char + text.slice(index + 1)

const entries = (url: URL) => JSON.stringify([...url.searchParams].sort())

/** Mutates one character of `target`; undefined when that mutation would not change what is signed. */
const mutate = (request: S3Request, target: Target, position: number, char: string): S3Request | undefined => {
  const url = request.url
  const withUrl = (href: string): S3Request => ({ ...request, url: new URL(href) })
  const withHeader = (name: string, value: string): S3Request => {
    const headers = new Headers(request.headers)
    headers.set(name, value)
    return { ...request, headers }
  }
  const mutateHex = (text: string, index: number) => {
    const c = text[index]!
    const other = "0123456789abcdef".replace(c, "")
    return replaceAt(text, index, other[position % other.length]!)
  }
  const presigned = url.searchParams.has("X-Amz-Signature")
  switch (target) {
    case "signature": {
      if (presigned) {
        const at = url.href.indexOf("X-Amz-Signature=") + "X-Amz-Signature=".length + (position % 64)
        return withUrl(mutateHex(url.href, at))
      }
      const auth = request.headers.get("authorization")!
      const at = auth.indexOf("Signature=") + "Signature=".length + (position % 64)
      return withHeader("authorization", mutateHex(auth, at))
    }
    case "date": {
      if (presigned) {
        const at = url.href.indexOf("X-Amz-Date=") + "X-Amz-Date=".length + (position % 15)
        return url.href[at] === "T" ? undefined : withUrl(mutateHex(url.href, at).replace(/[a-f](?=[^&]*Z)/, "1"))
      }
      const date = request.headers.get("x-amz-date")!
      const at = position % date.length
      if (date[at] === "T" || date[at] === "Z") return undefined
      return withHeader("x-amz-date", replaceAt(date, at, String((Number(date[at]) + 1 + (position % 9)) % 10)))
    }
    case "path": {
      const path = url.pathname
      const at = 1 + (position % (path.length - 1 || 1))
      if (char === path[at] || char === "?" || char === "#") return undefined
      const next = new URL(url.origin + replaceAt(path, at, char) + url.search)
      return next.pathname === path ? undefined : { ...request, url: next }
    }
    case "query": {
      const search = url.search
      if (search.length <= 1) return undefined
      const at = 1 + (position % (search.length - 1))
      if (char === "#") return undefined
      const next = new URL(url.origin + url.pathname + replaceAt(search, at, char))
      return entries(next) === entries(url) ? undefined : { ...request, url: next }
    }
    case "header": {
      const signed = presigned
        ? url.searchParams.get("X-Amz-SignedHeaders")!.split(";")
        : /SignedHeaders=([^,\s]+)/.exec(request.headers.get("authorization")!)![1]!.split(";")
      const name = signed[position % signed.length]!
      const value = request.headers.get(name) ?? ""
      if (value === "") return undefined
      const at = position % value.length
      const next = replaceAt(value, at, char).trim()
      const collapse = (s: string) => s.replace(/[ \t]+/g, " ").trim()
      return collapse(next) === collapse(value) || next === "" ? undefined : withHeader(name, next)
    }
  }
}

const LAYERS: ReadonlyArray<readonly [string, Layer.Layer<Hmac>]> = [
  ["node:crypto", NodeCryptoHmac],
  ["WebCrypto", WebCryptoHmac]
]

for (const [layerName, live] of LAYERS) {
  layer(live)(`SigV4 verifier vs independent signers (${layerName})`, (it) => {
    for (const [signerName, sign, unique] of SIGNERS) {
      for (const presign of [false, true]) {
        const mode = presign ? "presigned" : "header"
        it.effect.prop(
          `accepts every ${mode} request ${signerName} signs`,
          { input: signInput(presign, unique), fraction: fc.double({ min: 0, max: 1, noNaN: true }) },
          ({ fraction, input }) =>
            Effect.gen(function*() {
              const request = yield* Effect.promise(() => sign(input))
              yield* TestClock.setTime(validNow(input, fraction))
              const verified = yield* verifyRequest(request, lookupFor(input), { cache: new SigningKeyCache(4) })
              expect(verified.accessKeyId).toBe(input.accessKeyId)
              expect(verified.sessionToken).toBe(input.sessionToken)
              expect(verified.authentication).toBe(mode)
              expect(verified.scope.region).toBe(input.region)
            }),
          { fastCheck: { numRuns: 60 } }
        )

        it.effect.prop(
          `rejects every one-character mutation of signature, signed header, path, query, date (${signerName}, ${mode})`,
          {
            input: signInput(presign, unique),
            target: fc.constantFrom<Target>("signature", "header", "path", "query", "date"),
            position: fc.nat(),
            char: fc.constantFrom(...PRINTABLE)
          },
          ({ char, input, position, target }) =>
            Effect.gen(function*() {
              const request = yield* Effect.promise(() => sign(input))
              const mutated = mutate(request, target, position, char)
              fc.pre(mutated !== undefined)
              yield* TestClock.setTime(validNow(input, 0.5))
              const error = yield* Effect.flip(verifyRequest(mutated!, lookupFor(input)))
              expect(SIGV4_TAGS.has(error._tag)).toBe(true)
            }),
          { fastCheck: { numRuns: 120 } }
        )
      }
    }

    it.effect("a wrong secret (same key id) is SignatureDoesNotMatch; the cache does not mask it", () =>
      Effect.gen(function*() {
        const input: SignInput = {
          accessKeyId: "AKIDTEST000000000000",
          secretAccessKey: "secret-one",
          region: "us-east-1",
          timeMillis: Date.UTC(2025, 0, 2),
          method: "GET",
          host: "localhost",
          pathSegments: ["acct", "prod", "k"],
          query: [],
          headers: [],
          payloadHash: "UNSIGNED-PAYLOAD",
          presign: false
        }
        const request = yield* Effect.promise(() => signWithSmithy(input))
        yield* TestClock.setTime(input.timeMillis)
        const cache = new SigningKeyCache()
        yield* verifyRequest(request, () => Effect.succeed("secret-one"), { cache })
        const error = yield* Effect.flip(verifyRequest(request, () => Effect.succeed("secret-two"), { cache }))
        expect(error._tag).toBe("SignatureDoesNotMatch")
      }))
  })
}
