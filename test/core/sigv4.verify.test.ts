import { expect, layer } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import type { S3Request } from "../../src/core/http/S3Request.js"
import { InvalidAccessKeyId } from "../../src/core/s3/errors.js"
import { verifyRequest } from "../../src/core/sigv4/verify.js"
import { NodeCryptoHmac } from "../../src/platform/bun/NodeCryptoHmac.js"
import { type SignInput, signWithAws4fetch, signWithSmithy } from "../fixtures/sigv4.js"

const T = Date.UTC(2026, 1, 3, 4, 5, 6)
const MIN = 60_000
const base: SignInput = {
  accessKeyId: "SCSTS1ABCDEFGHIJKLMNOP",
  secretAccessKey: "s3cr3t",
  sessionToken: "eyJ.token.sig",
  region: "us-east-1",
  timeMillis: T,
  method: "GET",
  host: "localhost:8787",
  pathSegments: ["acct", "prod", "a b=c+d.txt"],
  query: [["x-id", "GetObject"]],
  headers: [],
  payloadHash: "UNSIGNED-PAYLOAD",
  presign: false
}
const lookup = (id: string) => id === base.accessKeyId ? Effect.succeed(base.secretAccessKey) : Effect.fail(new InvalidAccessKeyId())
const sign = (overrides: Partial<SignInput> = {}) => Effect.promise(() => signWithSmithy({ ...base, ...overrides }))
const at = (ms: number, request: S3Request) =>
  Effect.zipRight(TestClock.setTime(ms), Effect.either(verifyRequest(request, lookup)))
const tagOf = (e: { _tag: string }) => e._tag
const withHeaders = (request: S3Request, f: (h: Headers) => void): S3Request => {
  const headers = new Headers(request.headers)
  f(headers)
  return { ...request, headers }
}

layer(NodeCryptoHmac)("verifyRequest: time, scope and shape checks", (it) => {
  it.effect("header auth: ±15 minutes of skew is accepted, beyond is RequestTimeTooSkewed", () =>
    Effect.gen(function*() {
      const request = yield* sign()
      for (const ms of [T, T + 15 * MIN, T - 15 * MIN]) expect((yield* at(ms, request))._tag).toBe("Right")
      for (const ms of [T + 15 * MIN + 1000, T - 15 * MIN - 1000, T + 86_400_000]) {
        const result = yield* at(ms, request)
        expect(result._tag === "Left" && tagOf(result.left)).toBe("RequestTimeTooSkewed")
      }
    }))

  it.effect("presigned: valid until X-Amz-Date + X-Amz-Expires, then AccessDenied 'Request has expired'", () =>
    Effect.gen(function*() {
      for (const signer of [signWithSmithy, signWithAws4fetch]) {
        const request = yield* Effect.promise(() => signer({ ...base, presign: true, expiresSeconds: 3600 }))
        expect((yield* at(T + 3600 * 1000, request))._tag).toBe("Right")
        expect((yield* at(T + 60 * MIN, request))._tag).toBe("Right")
        const late = yield* at(T + 3601 * 1000, request)
        expect(late._tag === "Left" && tagOf(late.left)).toBe("RequestExpired")
        const early = yield* at(T - 16 * MIN, request)
        expect(early._tag === "Left" && tagOf(early.left)).toBe("AccessDenied")
        const ok = yield* at(T + 1000, request)
        expect(ok._tag === "Right" && ok.right.sessionToken).toBe(base.sessionToken)
      }
    }))

  it.effect("the Date header is used when x-amz-date is absent", () =>
    Effect.gen(function*() {
      const request = yield* sign()
      // Signers always send x-amz-date; without it the signature cannot match here, but the time is read from Date:
      const noAmzDate = withHeaders(request, (h) => {
        h.delete("x-amz-date")
        h.set("date", new Date(T).toUTCString())
      })
      const inTime = yield* at(T, noAmzDate)
      expect(inTime._tag === "Left" && tagOf(inTime.left)).toBe("SignatureDoesNotMatch")
      const skewed = yield* at(T + 20 * MIN, noAmzDate)
      expect(skewed._tag === "Left" && tagOf(skewed.left)).toBe("RequestTimeTooSkewed")
      const missing = yield* at(T, withHeaders(noAmzDate, (h) => h.delete("date")))
      expect(missing._tag === "Left" && tagOf(missing.left)).toBe("AccessDenied")
    }))

  it.effect("the scope date must be the x-amz-date day; host must be signed; service must be s3", () =>
    Effect.gen(function*() {
      const request = yield* sign()
      const auth = request.headers.get("authorization")!
      const cases: ReadonlyArray<readonly [S3Request, string]> = [
        [withHeaders(request, (h) => h.set("authorization", auth.replace("/20260203/", "/20260204/"))), "AuthorizationHeaderMalformed"],
        [withHeaders(request, (h) => h.set("authorization", auth.replace("SignedHeaders=host;", "SignedHeaders="))), "AuthorizationHeaderMalformed"],
        [withHeaders(request, (h) => h.set("authorization", auth.replace("/s3/", "/iam/"))), "AuthorizationHeaderMalformed"],
        [withHeaders(request, (h) => h.set("authorization", auth.replace("Credential=", "Credentials="))), "AuthorizationHeaderMalformed"],
        [withHeaders(request, (h) => h.set("authorization", "AWS AKID:c2lnbmF0dXJl")), "InvalidRequest"],
        [withHeaders(request, (h) => h.set("authorization", "Bearer abc")), "InvalidArgument"],
        [withHeaders(request, (h) => h.delete("x-amz-content-sha256")), "InvalidRequest"],
        [withHeaders(request, (h) => h.set("x-amz-content-sha256", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD")), "InvalidArgument"],
        [{ ...request, url: new URL(request.url.href + "&X-Amz-Algorithm=AWS4-HMAC-SHA256") }, "InvalidArgument"],
        [withHeaders(request, (h) => h.set("authorization", auth.replace(base.accessKeyId, "SCSTS9UNKNOWN"))), "InvalidAccessKeyId"],
        [withHeaders(request, (h) => h.set("x-amz-security-token", "another")), "SignatureDoesNotMatch"],
        [{ ...request, method: "PUT" }, "SignatureDoesNotMatch"],
        [withHeaders(request, (h) => h.delete("authorization")), "AccessDenied"]
      ]
      for (const [req, tag] of cases) {
        const result = yield* at(T, req)
        expect([req.headers.get("authorization"), result._tag === "Left" ? tagOf(result.left) : "Right"]).toStrictEqual([
          req.headers.get("authorization"),
          tag
        ])
      }
    }))

  it.effect("presigned parameter errors are AuthorizationQueryParametersError", () =>
    Effect.gen(function*() {
      const request = yield* sign({ presign: true, expiresSeconds: 60 })
      const href = request.url.href
      for (
        const bad of [
          href.replace("X-Amz-Expires=60", "X-Amz-Expires=604801"),
          href.replace("X-Amz-Expires=60", "X-Amz-Expires=1e3"),
          href.replace("X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Algorithm=AWS4-HMAC-SHA1"),
          href.replace(/X-Amz-Date=[^&]+/, "X-Amz-Date=2026-02-03"),
          href.replace(/&?X-Amz-SignedHeaders=[^&]+/, "")
        ]
      ) {
        expect(bad).not.toBe(href)
        const result = yield* at(T, { ...request, url: new URL(bad) })
        expect(result._tag === "Left" && tagOf(result.left)).toBe("AuthorizationQueryParametersError")
      }
    }))

  it.effect("presigned: X-Amz-Expires of zero or less has expired already, whatever the method (ceph s3-tests)", () =>
    Effect.gen(function*() {
      for (const method of ["GET", "PUT", "DELETE", "POST"]) {
        const request = yield* sign({ method, presign: true, expiresSeconds: 60 })
        for (const expires of ["0", "-1", "-1000"]) {
          const url = new URL(request.url.href.replace("X-Amz-Expires=60", `X-Amz-Expires=${expires}`))
          const result = yield* at(T, { ...request, url })
          expect([method, expires, result._tag === "Left" && tagOf(result.left)]).toStrictEqual([method, expires, "RequestExpired"])
        }
      }
    }))

  it.effect("the x-id the JS SDK adds is part of the canonical query (removing it breaks the signature)", () =>
    Effect.gen(function*() {
      const request = yield* sign()
      expect(request.url.search).toContain("x-id=GetObject")
      expect((yield* at(T, request))._tag).toBe("Right")
      const stripped = yield* at(T, { ...request, url: new URL(request.url.href.replace(/[?&]x-id=GetObject/, "")) })
      expect(stripped._tag === "Left" && tagOf(stripped.left)).toBe("SignatureDoesNotMatch")
    }))
})
