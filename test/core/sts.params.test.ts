import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Option, Redacted } from "effect"
import { STS_NAMESPACE, renderStsError, type StsError, stsCodeOf, stsStatusOf } from "../../src/core/sts/errors.js"
import * as E from "../../src/core/sts/errors.js"
import { decodeStsParams, MAX_FORM_BYTES, parseRoleArn, readStsParams, sessionNameFor } from "../../src/core/sts/params.js"
import { s3Request } from "../fixtures/requests.js"

const base = { Action: "AssumeRoleWithWebIdentity", RoleArn: "sc::demo::role/_default", WebIdentityToken: "a.b.c" }

describe("RoleArn", () => {
  it("both forms, the bare `_default` (no account, as the Rust proxy took it), and nothing else", () => {
    expect(parseRoleArn("sc::demo::role/_default")).toStrictEqual(Option.some({ account: "demo", name: "_default" }))
    expect(parseRoleArn("_default")).toStrictEqual(Option.some({ account: undefined, name: "_default" }))
    expect(parseRoleArn("arn:aws:iam::demo:role/ci-reader")).toStrictEqual(Option.some({ account: "demo", name: "ci-reader" }))
    expect(parseRoleArn("arn:aws:iam::123456789012:role/a+b=c,d.e@f")).toStrictEqual(
      Option.some({ account: "123456789012", name: "a+b=c,d.e@f" })
    )
    for (const bad of [
      "default", "ci", "_default ", "/_default", "sc::demo:role/_default", "sc::::role/_default", "arn:aws:iam::demo:role/", "arn:aws:iam::demo:role/team/x",
      "arn:aws-us-gov:iam::demo:role/_default", "arn:aws:iam::demo:user/x", "sc::de mo::role/x", `sc::demo::role/${"x".repeat(65)}`
    ]) expect(parseRoleArn(bad), bad).toStrictEqual(Option.none())
  })
})

describe("parameters", () => {
  it("decode with defaults left to the role; the token is redacted", () => {
    const decoded = Either.getOrThrow(decodeStsParams({ ...base, Version: "2011-06-15" }))
    expect(decoded.roleArn).toBe("sc::demo::role/_default")
    expect(decoded.role).toStrictEqual({ account: "demo", name: "_default" })
    expect(Redacted.value(decoded.token)).toBe("a.b.c")
    expect(String(decoded.token)).not.toContain("a.b.c")
    expect(decoded.sessionName).toStrictEqual(Option.none())
    expect(decoded.durationSeconds).toStrictEqual(Option.none())
    const full = Either.getOrThrow(decodeStsParams({ ...base, RoleSessionName: "s1", DurationSeconds: "900" }))
    expect(full.sessionName).toStrictEqual(Option.some("s1"))
    expect(full.durationSeconds).toStrictEqual(Option.some(900))
  })

  it("each problem is one error with a clear message", () => {
    const error = (raw: Record<string, string>) => Either.flip(decodeStsParams(raw)).pipe(Either.getOrThrow)
    expect(error({})).toMatchObject({ _tag: "InvalidAction", message: "Action is required" })
    expect(error({ ...base, Action: "GetCallerIdentity" })._tag).toBe("InvalidAction")
    expect(error({ ...base, Version: "2011-06-16" })._tag).toBe("InvalidAction")
    expect(error({ Action: base.Action, WebIdentityToken: "abcd" })).toMatchObject({ _tag: "ValidationError", message: "RoleArn is required" })
    expect(error({ Action: base.Action, RoleArn: base.RoleArn })).toMatchObject({ message: "WebIdentityToken is required" })
    expect(error({ ...base, WebIdentityToken: "abc" }).message).toMatch(/4 to 20000/)
    expect(error({ ...base, RoleArn: "role/_default" }).message).toMatch(/^RoleArn must be/)
    for (const name of ["a", "x".repeat(65), "has space", "semi;colon"]) {
      expect(error({ ...base, RoleSessionName: name }).message).toMatch(/^RoleSessionName/)
    }
    for (const d of ["899", "0", "-900", "900.5", "1e3", "0x384", " 900", ""]) {
      expect(error({ ...base, DurationSeconds: d }).message, d).toMatch(/^DurationSeconds/)
    }
  })

  it("a session name is derived from the subject when none is sent", () => {
    expect(sessionNameFor("auth0|user 1")).toBe("auth0_user_1")
    expect(sessionNameFor("x")).toBe("session")
    expect(sessionNameFor("y".repeat(100))).toHaveLength(64)
  })

  it.effect("query first (never merged); else a bounded form body", () =>
    Effect.gen(function*() {
      const fromQuery = yield* readStsParams(s3Request("POST", "/.sts?Action=A&Action=B", { body: "RoleArn=x" }))
      expect(fromQuery).toStrictEqual({ Action: "A" })
      const fromBody = yield* readStsParams(
        s3Request("POST", "/.sts", { headers: { "content-type": "application/x-www-form-urlencoded" }, body: "Action=A&RoleArn=r%2Bx" })
      )
      expect(fromBody).toStrictEqual({ Action: "A", RoleArn: "r+x" })
      const exact = yield* readStsParams(s3Request("POST", "/.sts", { body: `A=${"z".repeat(MAX_FORM_BYTES - 2)}` }))
      expect(exact["A"]).toHaveLength(MAX_FORM_BYTES - 2)
      const over = yield* Effect.flip(readStsParams(s3Request("POST", "/.sts", { body: `A=${"z".repeat(MAX_FORM_BYTES - 1)}` })))
      expect(over._tag).toBe("RequestEntityTooLarge")
      const declared = yield* Effect.flip(readStsParams(
        s3Request("POST", "/.sts", { headers: { "content-length": "999999" }, body: "Action=A" })
      ))
      expect(declared._tag).toBe("RequestEntityTooLarge")
    }))

  it.effect("an endless body is cut off at the bound, not read to its end", () =>
    Effect.gen(function*() {
      let pulled = 0
      const endless = new ReadableStream<Uint8Array>({
        pull: (controller) => {
          pulled += 4096
          controller.enqueue(new Uint8Array(4096).fill(65))
        }
      })
      const request = { ...s3Request("POST", "/.sts"), body: endless }
      expect((yield* Effect.flip(readStsParams(request)))._tag).toBe("RequestEntityTooLarge")
      expect(pulled).toBeLessThan(MAX_FORM_BYTES + 3 * 4096)
    }))
})

describe("the STS error table", () => {
  const rows: ReadonlyArray<readonly [StsError, number, string, "Sender" | "Receiver"]> = [
    [new E.InvalidAction({ message: "m" }), 400, "InvalidAction", "Sender"],
    [new E.ValidationError({ message: "m" }), 400, "ValidationError", "Sender"],
    [new E.RequestEntityTooLarge({ limit: 65536 }), 413, "RequestEntityTooLarge", "Sender"],
    [new E.StsAccessDenied({ reason: "r" }), 403, "AccessDenied", "Sender"],
    [new E.InvalidIdentityToken({ message: "m" }), 400, "InvalidIdentityToken", "Sender"],
    [new E.ExpiredTokenException(), 400, "ExpiredTokenException", "Sender"],
    [new E.IDPCommunicationError({ issuer: "i", reason: "r" }), 400, "IDPCommunicationError", "Sender"],
    [new E.IDPRejectedClaim(), 403, "IDPRejectedClaim", "Sender"],
    [new E.StsServiceUnavailable({ reason: "secret detail" }), 503, "ServiceUnavailable", "Receiver"],
    [new E.StsInternalFailure({ reason: "secret detail" }), 500, "InternalFailure", "Receiver"]
  ]
  for (const [error, status, code, type] of rows) {
    it(`${error._tag} → ${status} ${type} ${code}`, () => {
      expect(stsStatusOf(error)).toBe(status)
      expect(stsCodeOf(error)).toBe(code)
      const reply = renderStsError(error, "rid&1")
      expect(reply.status).toBe(status)
      expect(reply.headers.get("content-type")).toBe("application/xml")
      expect(reply.body).toMatch(new RegExp(
        `^<\\?xml version="1.0" encoding="UTF-8"\\?>\\n<ErrorResponse xmlns="${STS_NAMESPACE}"><Error><Type>${type}</Type>`
          + `<Code>${code}</Code><Message>[^<]+</Message></Error><RequestId>rid&amp;1</RequestId></ErrorResponse>$`
      ))
      expect(reply.body).not.toContain("secret detail")
    })
  }

  it("messages are XML-escaped", () => {
    expect(renderStsError(new E.ValidationError({ message: "<a & b>" }), "r").body).toContain("<Message>&lt;a &amp; b&gt;</Message>")
  })
})
