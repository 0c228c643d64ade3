import { createHash } from "node:crypto"
import { expect, layer } from "@effect/vitest"
import { Effect, FastCheck as fc, type Layer, TestClock } from "effect"
import type { S3Request } from "../../src/core/http/S3Request.js"
import type { Hmac } from "../../src/core/services/Hmac.js"
import { isSigV4BodyError } from "../../src/core/sigv4/errors.js"
import { verifyRequest, type VerifyOptions } from "../../src/core/sigv4/verify.js"
import { WebCryptoHmac } from "../../src/layers/WebCryptoHmac.js"
import { NodeCryptoHmac } from "../../src/platform/bun/NodeCryptoHmac.js"
import {
  amzDate,
  encodeAwsChunked,
  type SignInput,
  signingKeyOf,
  signWithSmithy,
  streamOf
} from "../fixtures/sigv4.js"

/** Whether byte `at` of an aws-chunked body lies in a trailer line's name (after the final chunk, before its colon). */
const inTrailerName = (encoded: Uint8Array, at: number): boolean => {
  const text = Buffer.from(encoded).toString("latin1")
  const finalChunk = text.lastIndexOf("\r\n0;chunk-signature=")
  const trailersStart = finalChunk < 0 ? -1 : text.indexOf("\r\n", finalChunk + 2) + 2
  if (trailersStart <= 1 || at < trailersStart) return false
  const lineStart = text.lastIndexOf("\n", at - 1) + 1
  return !text.slice(lineStart, at + 1).includes(":")
}

const T = Date.UTC(2025, 4, 6, 7, 8, 9)
const AKID = "AKIDCHUNKED000000000"
const SECRET = "chunked/secret+KEY"
const REGION = "eu-central-1"
const lookup = (id: string) => Effect.succeed(id === AKID ? SECRET : "x")

type Mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" | "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" | "STREAMING-UNSIGNED-PAYLOAD-TRAILER"

interface Built {
  readonly request: (body: ReadableStream<Uint8Array>) => S3Request
  readonly encoded: Uint8Array
  readonly signatures: ReadonlyArray<string>
}

/** A PUT signed by smithy with an aws-chunked body encoded (and chunk-signed) by the test's own signer. */
const build = async (
  mode: Mode,
  data: Uint8Array,
  chunkSize: number,
  trailers: ReadonlyArray<readonly [string, string]> = [["x-amz-checksum-crc32", "AAAAAA=="]]
): Promise<Built> => {
  const input: SignInput = {
    accessKeyId: AKID,
    secretAccessKey: SECRET,
    region: REGION,
    timeMillis: T,
    method: "PUT",
    host: "localhost:8787",
    pathSegments: ["acct", "prod", "chunked file=1.bin"],
    query: [["x-id", "PutObject"]],
    headers: [
      ["content-encoding", "aws-chunked"],
      ["x-amz-decoded-content-length", String(data.length)],
      ...(mode === "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" ? [] : [["x-amz-trailer", "x-amz-checksum-crc32"] as const])
    ],
    payloadHash: mode,
    presign: false
  }
  const signed = await signWithSmithy(input)
  const seed = /Signature=([0-9a-f]{64})/.exec(signed.headers.get("authorization")!)![1]!
  const date = amzDate(T)
  const { body, signatures } = encodeAwsChunked(
    data,
    chunkSize,
    mode === "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
      ? undefined
      : {
        signingKey: signingKeyOf(SECRET, date.slice(0, 8), REGION, "s3"),
        timestamp: date,
        scope: `${date.slice(0, 8)}/${REGION}/s3/aws4_request`,
        seedSignature: seed
      },
    mode === "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" ? undefined : trailers
  )
  return { request: (stream) => ({ ...signed, body: stream }), encoded: body, signatures }
}

/** Reads a verified body; returns the bytes, or the error's tag and how many bytes came out before it. */
const drain = (stream: ReadableStream<Uint8Array>) =>
  Effect.promise(async () => {
    const reader = stream.getReader()
    let emitted = 0
    const parts: Array<Uint8Array> = []
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        emitted += value.length
        parts.push(value)
      }
      return { ok: Buffer.concat(parts) } as const
    } catch (e) {
      return { error: isSigV4BodyError(e) ? e._tag : `not a body error: ${String(e)}`, emitted, parts: Buffer.concat(parts) } as const
    }
  })

const MODES: ReadonlyArray<Mode> = [
  "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
  "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
  "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
]
const SIGNED_MODES = MODES.slice(0, 2)

const LAYERS: ReadonlyArray<readonly [string, Layer.Layer<Hmac>]> = [
  ["node:crypto", NodeCryptoHmac],
  ["WebCrypto", WebCryptoHmac]
]

for (const [layerName, live] of LAYERS) {
  layer(live)(`aws-chunked bodies (${layerName})`, (it) => {
    it.effect("the AWS docs example: 66560 'a' bytes in 64 KiB chunks, seed 4f232c…, chunk signatures ad80c7…", () =>
      Effect.gen(function*() {
        // https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html (example credentials, 20130524).
        const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
        const seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
        const data = new Uint8Array(66560).fill("a".charCodeAt(0))
        const { body, signatures } = encodeAwsChunked(data, 65536, {
          signingKey: signingKeyOf(secret, "20130524", "us-east-1", "s3"),
          timestamp: "20130524T000000Z",
          scope: "20130524/us-east-1/s3/aws4_request",
          seedSignature: seed
        })
        expect(signatures).toStrictEqual([
          "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
          "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
          "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
        ])
        expect(body.length).toBe(66824)
        const request: S3Request = {
          method: "PUT",
          url: new URL("http://s3.amazonaws.com/examplebucket/chunkObject.txt"),
          headers: new Headers({
            host: "s3.amazonaws.com",
            "x-amz-date": "20130524T000000Z",
            "x-amz-storage-class": "REDUCED_REDUNDANCY",
            authorization: "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
              + "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
              + `x-amz-decoded-content-length;x-amz-storage-class,Signature=${seed}`,
            "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            "content-encoding": "aws-chunked",
            "x-amz-decoded-content-length": "66560",
            "content-length": "66824"
          }),
          body: streamOf(body, [1000, 7, 65536]),
          requestId: "aws-example"
        }
        yield* TestClock.setTime(Date.UTC(2013, 4, 24))
        const verified = yield* verifyRequest(request, () => Effect.succeed(secret))
        expect(verified.decodedContentLength).toBe(66560)
        const out = yield* drain(verified.body!)
        expect(out.ok).toStrictEqual(Buffer.from(data))
      }))

    for (const mode of MODES) {
      it.effect.prop(
        `${mode}: decodes to the original bytes whatever the chunk and read sizes`,
        {
          data: fc.uint8Array({ maxLength: 3000 }),
          chunkSize: fc.integer({ min: 1, max: 1200 }),
          splits: fc.array(fc.integer({ min: 1, max: 500 }), { minLength: 1, maxLength: 6 }),
          maxHeld: fc.constantFrom(1, 64, 100_000)
        },
        ({ chunkSize, data, maxHeld, splits }) =>
          Effect.gen(function*() {
            const built = yield* Effect.promise(() => build(mode, data, chunkSize))
            yield* TestClock.setTime(T)
            const verified = yield* verifyRequest(built.request(streamOf(built.encoded, splits)), lookup, {
              maxHeldChunkBytes: maxHeld
            })
            expect(verified.decodedContentLength).toBe(data.length)
            expect(verified.trailers().size).toBe(0)
            const out = yield* drain(verified.body!)
            expect(out.ok).toStrictEqual(Buffer.from(data))
            expect([...verified.trailers()]).toStrictEqual(
              mode === "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" ? [] : [["x-amz-checksum-crc32", "AAAAAA=="]]
            )
          }),
        { fastCheck: { numRuns: 40 } }
      )
    }

    for (const mode of SIGNED_MODES) {
      it.effect.prop(
        `${mode}: any one-byte change to the body errors the stream, never completing it`,
        {
          data: fc.uint8Array({ minLength: 1, maxLength: 2000 }),
          chunkSize: fc.integer({ min: 1, max: 700 }),
          splits: fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 4 }),
          position: fc.nat(),
          xor: fc.integer({ min: 1, max: 255 }),
          maxHeld: fc.constantFrom(1, 100_000)
        },
        ({ chunkSize, data, maxHeld, position, splits, xor }) =>
          Effect.gen(function*() {
            const built = yield* Effect.promise(() => build(mode, data, chunkSize))
            const tampered = built.encoded.slice()
            const at = position % tampered.length
            const before = String.fromCharCode(tampered[at]!)
            tampered[at] = tampered[at]! ^ xor
            const after = String.fromCharCode(tampered[at]!)
            // A hex chunk size is case-insensitive and not itself signed ("3e8" = "3E8"), as for S3; so are
            // trailer names (header names are case-insensitive; the trailer signature covers them lowercased).
            const caseOnly = /[a-z]/i.test(before) && before.toLowerCase() === after.toLowerCase()
            fc.pre(!(caseOnly && (/[a-f]/i.test(before) || inTrailerName(built.encoded, at))))
            yield* TestClock.setTime(T)
            const verified = yield* verifyRequest(built.request(streamOf(tampered, splits)), lookup, {
              maxHeldChunkBytes: maxHeld
            })
            const out = yield* drain(verified.body!)
            expect(out.error).toMatch(/^(SignatureDoesNotMatch|IncompleteBody)$/)
            // Never the whole body; and with held chunks, only verified (untampered) bytes come out. Chunks larger
            // than maxHeldChunkBytes pass through while hashed, so there a tampered byte may come out first.
            expect(out.parts!.length).toBeLessThan(data.length)
            if (maxHeld >= chunkSize) expect(Buffer.from(data.subarray(0, out.parts!.length)).equals(out.parts!)).toBe(true)
          }),
        { fastCheck: { numRuns: 150 } }
      )
    }

    it.effect("held chunks: no byte of a chunk whose signature fails is emitted", () =>
      Effect.gen(function*() {
        const data = new Uint8Array(4000).map((_, i) => i % 251)
        const built = yield* Effect.promise(() => build("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", data, 1000))
        const tampered = built.encoded.slice()
        // Flip the 10th data byte of the third chunk (index 2): each framed chunk is 86 + 1000 + 2 bytes here.
        const offset = 2 * (86 + 1000 + 2) + 86 + 10
        tampered[offset] = tampered[offset]! ^ 1
        yield* TestClock.setTime(T)
        const verified = yield* verifyRequest(built.request(streamOf(tampered, [333])), lookup)
        const out = yield* drain(verified.body!)
        expect(out.error).toBe("SignatureDoesNotMatch")
        expect(out.emitted).toBeLessThanOrEqual(2000)
      }))

    it.effect("truncation, extra bytes and a wrong decoded length are IncompleteBody", () =>
      Effect.gen(function*() {
        const data = new Uint8Array(500).fill(7)
        yield* TestClock.setTime(T)
        for (const mode of MODES) {
          const built = yield* Effect.promise(() => build(mode, data, 128))
          for (
            const body of [
              built.encoded.subarray(0, built.encoded.length - 3),
              built.encoded.subarray(0, 200),
              Buffer.concat([built.encoded, Buffer.from("0\r\n\r\n")])
            ]
          ) {
            const verified = yield* verifyRequest(built.request(streamOf(body, [50])), lookup)
            const out = yield* drain(verified.body!)
            expect(out.error).toBe("IncompleteBody")
          }
        }
        // x-amz-decoded-content-length is signed, so sign one for 499 bytes and send the 500-byte body.
        const built = yield* Effect.promise(() => build("STREAMING-UNSIGNED-PAYLOAD-TRAILER", data, 128))
        const rebuilt = yield* Effect.promise(() => build("STREAMING-UNSIGNED-PAYLOAD-TRAILER", new Uint8Array(499), 128))
        const mismatch = rebuilt.request(streamOf(built.encoded))
        const out = yield* drain((yield* verifyRequest(mismatch, lookup)).body!)
        expect(out.error).toBe("IncompleteBody")
      }))

    it.effect("STREAMING-UNSIGNED-PAYLOAD-TRAILER exposes the trailing checksum once the body is read", () =>
      Effect.gen(function*() {
        const data = new TextEncoder().encode("hello, trailers")
        const built = yield* Effect.promise(() =>
          build("STREAMING-UNSIGNED-PAYLOAD-TRAILER", data, 4, [["x-amz-checksum-crc32", "ggFp6A=="]])
        )
        yield* TestClock.setTime(T)
        const verified = yield* verifyRequest(built.request(streamOf(built.encoded, [3])), lookup)
        expect(verified.payload._tag).toBe("StreamingUnsignedTrailer")
        const out = yield* drain(verified.body!)
        expect(out.ok).toStrictEqual(Buffer.from(data))
        expect(verified.trailers().get("x-amz-checksum-crc32")).toBe("ggFp6A==")
      }))

    it.effect("a signed trailer whose value was changed fails its trailer signature", () =>
      Effect.gen(function*() {
        const data = new TextEncoder().encode("0123456789")
        const built = yield* Effect.promise(() => build("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", data, 4))
        const text = Buffer.from(built.encoded).toString("latin1").replace("AAAAAA==", "AAAAAB==")
        yield* TestClock.setTime(T)
        const verified = yield* verifyRequest(built.request(streamOf(Buffer.from(text, "latin1"))), lookup)
        const out = yield* drain(verified.body!)
        expect(out.error).toBe("SignatureDoesNotMatch")
      }))
  })

  layer(live)(`x-amz-content-sha256 as a hex hash (${layerName})`, (it) => {
    const hashed = (data: Uint8Array, claimed: string, options: VerifyOptions = {}) =>
      Effect.gen(function*() {
        const signed = yield* Effect.promise(() =>
          signWithSmithy({
            accessKeyId: AKID,
            secretAccessKey: SECRET,
            region: REGION,
            timeMillis: T,
            method: "PUT",
            host: "localhost:8787",
            pathSegments: ["acct", "prod", "k"],
            query: [],
            headers: [],
            payloadHash: claimed,
            presign: false
          })
        )
        yield* TestClock.setTime(T)
        return yield* verifyRequest({ ...signed, body: streamOf(data, [100]) }, lookup, options)
      })

    it.effect.prop(
      "a matching hash passes the body through; any other hash errors it at the end, last piece withheld",
      { data: fc.uint8Array({ maxLength: 1500 }), wrong: fc.boolean() },
      ({ data, wrong }) =>
        Effect.gen(function*() {
          const real = createHash("sha256").update(data).digest("hex")
          const claimed = wrong ? createHash("sha256").update("other").digest("hex") : real
          const verified = yield* hashed(data, claimed)
          const out = yield* drain(verified.body!)
          if (!wrong) expect(out.ok).toStrictEqual(Buffer.from(data))
          else {
            expect(out.error).toBe("XAmzContentSHA256Mismatch")
            expect(out.emitted).toBeLessThan(Math.max(1, data.length))
          }
        }),
      { fastCheck: { numRuns: 40 } }
    )

    it.effect("a non-empty hash claimed for a request without a body fails at once", () =>
      Effect.gen(function*() {
        const signed = yield* Effect.promise(() =>
          signWithSmithy({
            accessKeyId: AKID,
            secretAccessKey: SECRET,
            region: REGION,
            timeMillis: T,
            method: "GET",
            host: "h",
            pathSegments: ["a"],
            query: [],
            headers: [],
            payloadHash: createHash("sha256").update("x").digest("hex"),
            presign: false
          })
        )
        yield* TestClock.setTime(T)
        const error = yield* Effect.flip(verifyRequest(signed, lookup))
        expect(error._tag).toBe("XAmzContentSHA256Mismatch")
      }))
  })
}
