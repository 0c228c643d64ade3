import { describe, expect, it } from "@effect/vitest"
import { AwsV4Signer } from "aws4fetch"
import { Effect, FastCheck as fc, type Layer } from "effect"
import { encodeKey } from "../../src/core/backends/keys.js"
import type { Hmac } from "../../src/core/services/Hmac.js"
import { signRequest } from "../../src/core/sigv4/sign.js"
import { SigningKeyCache } from "../../src/core/sigv4/signingKey.js"
import { WebCryptoHmac } from "../../src/layers/WebCryptoHmac.js"
import { NodeCryptoHmac } from "../../src/platform/bun/NodeCryptoHmac.js"

/*
 * The backends' signer must sign exactly as aws4fetch's AwsV4Signer signs for service `s3` (what the S3 stores used
 * before): the same headers sent, the same Authorization, for keys, queries and headers as the stores build them.
 */

/** Keys as users name them (encoded as the S3 store puts them in the URL), segments that need escaping included. */
const key = fc.array(
  fc.string({ unit: fc.constantFrom("a", "Z", "0", " ", "+", "%", "&", "=", "!", "'", "(", ")", "*", "~", "é", "😀", ":", "@", "$", ","), minLength: 1, maxLength: 8 }),
  { minLength: 1, maxLength: 4 }
).map((segments) => segments.join("/"))

/** Each name once, as the stores write queries (aws4fetch signs only the first of a repeated name, the SigV4 rule all of them). */
const query = fc.uniqueArray(
  fc.tuple(
    fc.constantFrom("list-type", "prefix", "continuation-token", "max-keys", "uploadId", "partNumber", "uploads", "delete", "a b", "*"),
    fc.string({ unit: fc.constantFrom("a", "/", " ", "+", "=", "&", "~", "*", "é", "%"), maxLength: 6 })
  ),
  { maxLength: 4, selector: ([name]) => name }
)

/** Headers the stores send: ranges and preconditions (never signed), checksums and metadata, content type and length. */
const headers = fc.array(
  fc.tuple(
    fc.constantFrom("range", "if-match", "if-none-match", "content-type", "content-length", "x-amz-meta-title", "x-amz-copy-source",
      "x-amz-checksum-crc32", "cache-control", "x-amz-content-sha256", "user-agent"),
    fc.string({ unit: fc.constantFrom("a", "0", " ", "  ", "\t", "=", "\"", "/", ","), minLength: 1, maxLength: 10 })
      .filter((v) => v.trim() !== "")
  ),
  { maxLength: 5 }
)

const input = fc.record({
  method: fc.constantFrom("GET", "HEAD", "PUT", "POST", "DELETE"),
  endpoint: fc.constantFrom("https://s3.eu-west-1.amazonaws.com", "http://127.0.0.1:9000", "https://storage.googleapis.com", "https://r2.example/base"),
  bucket: fc.constantFrom("my-bucket", "b.with.dots"),
  key: fc.option(key, { nil: undefined }),
  query,
  headers,
  accessKeyId: fc.stringMatching(/^[A-Z0-9]{16,20}$/),
  secretAccessKey: fc.stringMatching(/^[A-Za-z0-9/+]{20,40}$/),
  sessionToken: fc.option(fc.stringMatching(/^[A-Za-z0-9/+=]{10,40}$/), { nil: undefined }),
  region: fc.constantFrom("us-east-1", "eu-west-1", "auto"),
  time: fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 0, 1) })
})

const signers: ReadonlyArray<readonly [string, Layer.Layer<Hmac>]> = [["WebCrypto", WebCryptoHmac], ["node:crypto", NodeCryptoHmac]]

describe("signRequest (the backends' SigV4)", () => {
  for (const [name, hmacLayer] of signers) {
    it.effect(`signs as aws4fetch does, header for header (${name})`, () =>
      Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(input, async (i) => {
            const search = new URLSearchParams(i.query).toString().replace(/\+/g, "%20")
            const url = `${i.endpoint}/${encodeURIComponent(i.bucket)}${i.key === undefined ? "" : `/${encodeKey(i.key)}`}${search === "" ? "" : `?${search}`}`
            const sent = new Headers(i.headers)
            const timestamp = new Date(i.time).toISOString().replace(/[:-]|\.\d{3}/g, "")
            const credentials = { accessKeyId: i.accessKeyId, secretAccessKey: i.secretAccessKey, sessionToken: i.sessionToken }
            const expected = await new AwsV4Signer({
              method: i.method,
              url,
              headers: sent,
              accessKeyId: i.accessKeyId,
              secretAccessKey: i.secretAccessKey,
              ...(i.sessionToken === undefined ? {} : { sessionToken: i.sessionToken }),
              service: "s3",
              region: i.region,
              datetime: timestamp
            }).sign()
            const signed = await Effect.runPromise(
              signRequest({ method: i.method, url, headers: sent }, { credentials, region: i.region, service: "s3", timestamp, cache: new SigningKeyCache() })
                .pipe(Effect.provide(hmacLayer))
            )
            expect(signed.url).toBe(url)
            expect([...signed.headers]).toStrictEqual([...expected.headers])
            // The caller's headers are not changed.
            expect([...sent]).toStrictEqual([...new Headers(i.headers)])
          }),
          { numRuns: 300 }
        )
      ))
  }

  it.effect("a cached signing key is used only for its own secret", () =>
    Effect.gen(function*() {
      const cache = new SigningKeyCache()
      const request = { method: "GET", url: "https://s3.amazonaws.com/b/k", headers: new Headers() }
      const options = (secretAccessKey: string) => ({ credentials: { accessKeyId: "AKID", secretAccessKey }, region: "us-east-1", service: "s3", timestamp: "20260102T030405Z", cache })
      const first = yield* signRequest(request, options("secret-one"))
      const second = yield* signRequest(request, options("secret-two"))
      const again = yield* signRequest(request, options("secret-one"))
      expect(second.headers.get("authorization")).not.toBe(first.headers.get("authorization"))
      expect(again.headers.get("authorization")).toBe(first.headers.get("authorization"))
    }).pipe(Effect.provide(NodeCryptoHmac)))
})
