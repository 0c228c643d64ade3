import { describe, expect, it } from "@effect/vitest"
import { Effect, Logger, TestClock } from "effect"
import { decodeJwt } from "jose"
import type { Reply } from "../../src/core/http/Reply.js"
import { Revocations } from "../../src/core/services/Revocations.js"
import { AUDIT_EVENT, handleSts } from "../../src/core/sts/handleSts.js"
import { SessionKeys } from "../../src/core/session/SessionKeys.js"
import { s3Request } from "../fixtures/requests.js"
import {
  apiKey,
  AUDIENCE,
  ecKey,
  GITHUB,
  hs256Token,
  idpServer,
  IDP,
  mint,
  otherRsaKey,
  PROXY_ISSUER,
  stsConfig,
  stsLayer,
  unsignedToken
} from "../fixtures/sts.js"

const config = await stsConfig()
const DEFAULT_ROLE = "sc::demo::role/_default"

type Audit = Record<string, unknown>

/** Runs one `/.sts` request through the whole stack; returns the reply, its code and the audit events. */
const call = (request: ReturnType<typeof s3Request>) =>
  Effect.gen(function*() {
    const events: Array<Audit> = []
    const logger = Logger.make(({ message }) => {
      const value = Array.isArray(message) ? message[0] : message
      if (typeof value === "object" && value !== null && (value as Audit)["event"] === AUDIT_EVENT) events.push(value as Audit)
    })
    const reply = yield* handleSts(request).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
    const body = typeof reply.body === "string" ? reply.body : ""
    return { reply, body, code: /<Code>([^<]*)<\/Code>/.exec(body)?.[1], events }
  })

const form = (params: Record<string, string>, requestId = "req-1") =>
  s3Request("POST", "/.sts", {
    headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8" },
    body: new URLSearchParams(params).toString(),
    requestId
  })

const exchangeParams = (token: string, extra: Record<string, string> = {}) => ({
  Action: "AssumeRoleWithWebIdentity",
  Version: "2011-06-15",
  RoleArn: DEFAULT_ROLE,
  WebIdentityToken: token,
  ...extra
})

const tag = (body: string, name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(body)?.[1]

const expectError = (result: { reply: Reply; code: string | undefined; body: string }, status: number, code: string) => {
  expect(result.reply.status).toBe(status)
  expect(result.code).toBe(code)
  expect(result.body).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<ErrorResponse xmlns="https:\/\/sts.amazonaws.com\/doc\/2011-06-15\/"><Error><Type>(Sender|Receiver)<\/Type>/)
  expect(result.body).toContain("<RequestId>req-1</RequestId></ErrorResponse>")
}

describe("AssumeRoleWithWebIdentity: success", () => {
  it.effect("a source-coop token for _default: AWS-shaped XML, credentials that verify, one audit event", () => {
    const { layer } = stsLayer(config)
    return Effect.gen(function*() {
      const token = yield* Effect.promise(() => mint({ sub: "user-1" }))
      const { reply, body, events } = yield* call(form(exchangeParams(token, { RoleSessionName: "s1" })))
      expect(reply.status).toBe(200)
      expect(body).toContain("<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">")
      expect(body).toContain("<ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>")
      expect(tag(body, "AccessKeyId")).toMatch(/^SCSTS1[A-Z0-9]{16,}$/)
      expect(tag(body, "Expiration")).toBe("1970-01-01T01:00:00.000Z") // test clock at 0 + min(3600, 43200)
      expect(tag(body, "SubjectFromWebIdentityToken")).toBe("user-1")
      expect(tag(body, "AssumedRoleId")).toBe("_default:s1")
      expect(tag(body, "Arn")).toBe("arn:aws:sts::demo:assumed-role/_default/s1")
      expect(tag(body, "Provider")).toBe(IDP)
      expect(tag(body, "Audience")).toBe(AUDIENCE)

      const keys = yield* SessionKeys
      const claims = yield* keys.verify(tag(body, "SessionToken")!)
      expect(claims).toMatchObject({
        sub: "sc::demo::role/_default",
        account_id: "demo",
        role_name: "_default",
        assumed_by: "user-1",
        assumed_by_issuer: IDP,
        session_name: "s1",
        access_key_id: tag(body, "AccessKeyId"),
        permissions: [{ actions: ["read", "write"], resources: ["*"] }],
        exp: 3600
      })
      expect(yield* keys.secretFor(tag(body, "AccessKeyId")!)).toBe(tag(body, "SecretAccessKey"))

      expect(events).toHaveLength(1)
      expect(events[0]).toMatchObject({
        outcome: "success",
        status: 200,
        roleArn: DEFAULT_ROLE,
        account: "demo",
        role: "_default",
        idp: "source-coop",
        issuer: IDP,
        subject: "user-1",
        sessionName: "s1",
        jti: claims.jti,
        durationSeconds: 3600,
        requestId: "req-1"
      })
      expect(JSON.stringify(events)).not.toContain(token)
      expect(JSON.stringify(events)).not.toContain(tag(body, "SessionToken"))
    }).pipe(Effect.provide(layer))
  })

  it.effect("GET with query parameters (GDAL), ES256, the ARN form, a derived session name, DurationSeconds", () => {
    const { layer } = stsLayer(config)
    return Effect.gen(function*() {
      const token = yield* Effect.promise(() => mint({ sub: "auth0|abc def", aud: ["x", "other-audience"] }, ecKey))
      const query = new URLSearchParams({
        Action: "AssumeRoleWithWebIdentity",
        RoleArn: "arn:aws:iam::demo:role/_default",
        WebIdentityToken: token,
        DurationSeconds: "43200"
      })
      const { reply, body } = yield* call(s3Request("GET", `/.sts/assume-role-with-web-identity?${query}`))
      expect(reply.status).toBe(200)
      expect(tag(body, "AssumedRoleId")).toBe("_default:auth0_abc_def")
      expect(tag(body, "Audience")).toBe("other-audience")
      expect(tag(body, "Expiration")).toBe("1970-01-01T12:00:00.000Z")
    }).pipe(Effect.provide(layer))
  })

  it.effect("a custom role: OR across bindings, its own permissions and maximum", () => {
    const { layer } = stsLayer(config)
    return Effect.gen(function*() {
      const token = yield* Effect.promise(() => mint({ iss: GITHUB, aud: "sts.source.coop", sub: "repo:ops/deploy", repository: "ops/deploy" }))
      const { reply, body } = yield* call(form(exchangeParams(token, { RoleArn: "sc::demo::role/ci" })))
      expect(reply.status).toBe(200)
      const claims = decodeJwt(tag(body, "SessionToken")!)
      expect(claims["permissions"]).toStrictEqual([{ actions: ["read"], resources: ["sc::demo::product/sample/*"] }])
      expect(claims["role_name"]).toBe("ci")
    }).pipe(Effect.provide(layer))
  })

  it.effect("an API key of the account exchanges on _default, without any HTTP", () => {
    const { layer, calls } = stsLayer(config)
    return Effect.gen(function*() {
      const token = yield* Effect.promise(() => apiKey("demo", "key-1"))
      const { reply, body, events } = yield* call(form(exchangeParams(token)))
      expect(reply.status).toBe(200)
      expect(tag(body, "Provider")).toBe(PROXY_ISSUER)
      expect(events[0]).toMatchObject({ outcome: "success", idp: "api-key", subject: "demo" })
      expect(calls).toHaveLength(0)
    }).pipe(Effect.provide(layer))
  })
})

describe("session secrets", () => {
  it.effect("each access key id has its own secret, the same on every lookup; a foreign id has none", () => {
    const { layer } = stsLayer(config)
    return Effect.gen(function*() {
      const keys = yield* SessionKeys
      const sessions = []
      for (const sub of ["user-1", "user-2", "user-3"]) {
        const token = yield* Effect.promise(() => mint({ sub }))
        const { body } = yield* call(form(exchangeParams(token)))
        sessions.push({ id: tag(body, "AccessKeyId")!, secret: tag(body, "SecretAccessKey")! })
      }
      expect(new Set(sessions.map((s) => s.secret)).size).toBe(3)
      for (let round = 0; round < 2; round++) {
        for (const { id, secret } of [...sessions].reverse()) expect(yield* keys.secretFor(id)).toBe(secret)
      }
      const foreign = yield* Effect.flip(keys.secretFor(`SCSTS9${sessions[0]!.id.slice(6)}`))
      expect(foreign._tag).toBe("InvalidAccessKeyId")
    }).pipe(Effect.provide(layer))
  })
})

describe("AssumeRoleWithWebIdentity: every error row", () => {
  const cases: ReadonlyArray<{
    readonly name: string
    readonly params: (token: string) => Record<string, string>
    readonly token?: () => Promise<string>
    readonly status: number
    readonly code: string
    readonly message?: RegExp
    /** No IdP request may be made for this one. */
    readonly noFetch?: boolean
  }> = [
    { name: "no Action", params: (t) => ({ RoleArn: DEFAULT_ROLE, WebIdentityToken: t }), status: 400, code: "InvalidAction", noFetch: true },
    { name: "another Action", params: (t) => exchangeParams(t, { Action: "AssumeRole" }), status: 400, code: "InvalidAction" },
    { name: "another Version", params: (t) => exchangeParams(t, { Version: "2010-01-01" }), status: 400, code: "InvalidAction" },
    {
      name: "no RoleArn",
      params: (t) => ({ Action: "AssumeRoleWithWebIdentity", WebIdentityToken: t }),
      status: 400,
      code: "ValidationError",
      message: /RoleArn is required/
    },
    {
      name: "no WebIdentityToken",
      params: () => ({ Action: "AssumeRoleWithWebIdentity", RoleArn: DEFAULT_ROLE }),
      status: 400,
      code: "ValidationError",
      message: /WebIdentityToken is required/
    },
    { name: "a bare role name other than _default", params: (t) => exchangeParams(t, { RoleArn: "ci" }), status: 400, code: "ValidationError" },
    {
      name: "an ARN with a path",
      params: (t) => exchangeParams(t, { RoleArn: "arn:aws:iam::demo:role/team/_default" }),
      status: 400,
      code: "ValidationError"
    },
    { name: "a short RoleSessionName", params: (t) => exchangeParams(t, { RoleSessionName: "a" }), status: 400, code: "ValidationError" },
    { name: "DurationSeconds below 900", params: (t) => exchangeParams(t, { DurationSeconds: "899" }), status: 400, code: "ValidationError" },
    { name: "DurationSeconds not a number", params: (t) => exchangeParams(t, { DurationSeconds: "1e4" }), status: 400, code: "ValidationError" },
    {
      name: "DurationSeconds above the role's maximum",
      params: (t) => exchangeParams(t, { DurationSeconds: "43201" }),
      status: 400,
      code: "ValidationError",
      message: /maximum session duration/
    },
    { name: "an unknown role", params: (t) => exchangeParams(t, { RoleArn: "sc::demo::role/nope" }), status: 403, code: "AccessDenied", noFetch: true },
    { name: "not a JWT", params: () => exchangeParams("not-a-jwt"), status: 400, code: "InvalidIdentityToken", noFetch: true },
    {
      name: "an untrusted issuer",
      params: (t) => exchangeParams(t),
      token: () => mint({ iss: "https://evil.test" }),
      status: 400,
      code: "InvalidIdentityToken",
      message: /issuer is not trusted/,
      noFetch: true
    },
    {
      name: "a platform IdP the role does not bind",
      params: (t) => exchangeParams(t),
      token: () => mint({ iss: GITHUB }),
      status: 400,
      code: "InvalidIdentityToken",
      noFetch: true
    },
    {
      name: "a bad signature",
      params: (t) => exchangeParams(t),
      token: () => mint({}, otherRsaKey),
      status: 400,
      code: "InvalidIdentityToken",
      message: /signature/
    },
    {
      name: "alg none",
      params: (t) => exchangeParams(t),
      token: () => Promise.resolve(unsignedToken({})),
      status: 400,
      code: "InvalidIdentityToken",
      message: /algorithm/,
      noFetch: true
    },
    {
      name: "HS256 keyed with the public JWK",
      params: (t) => exchangeParams(t),
      token: () => hs256Token({}),
      status: 400,
      code: "InvalidIdentityToken",
      message: /algorithm/,
      noFetch: true
    },
    { name: "no exp", params: (t) => exchangeParams(t), token: () => mint({ exp: undefined }), status: 400, code: "InvalidIdentityToken", message: /exp/ },
    {
      name: "expired beyond the 60 s tolerance",
      params: (t) => exchangeParams(t),
      token: () => mint({ exp: -61 }),
      status: 400,
      code: "ExpiredTokenException"
    },
    { name: "nbf in the future", params: (t) => exchangeParams(t), token: () => mint({ nbf: 120 }), status: 400, code: "InvalidIdentityToken", message: /nbf/ },
    {
      name: "a wrong audience",
      params: (t) => exchangeParams(t),
      token: () => mint({ aud: "someone-else" }),
      status: 400,
      code: "InvalidIdentityToken",
      message: /audience/
    },
    {
      name: "a failed claim constraint",
      params: (t) => exchangeParams(t, { RoleArn: "sc::demo::role/ci" }),
      token: () => mint({ iss: GITHUB, aud: "sts.source.coop", repository: "demo/x", ref: "refs/heads/dev" }),
      status: 403,
      code: "IDPRejectedClaim"
    },
    {
      name: "a non-string claim",
      params: (t) => exchangeParams(t, { RoleArn: "sc::demo::role/ci" }),
      token: () => mint({ iss: GITHUB, aud: "sts.source.coop", repository: ["demo/x"], ref: "refs/heads/main" }),
      status: 403,
      code: "IDPRejectedClaim"
    },
    {
      name: "DurationSeconds above a custom role's maximum",
      params: (t) => exchangeParams(t, { RoleArn: "sc::demo::role/ci", DurationSeconds: "7201" }),
      token: () => mint({ iss: GITHUB, aud: "sts.source.coop", repository: "ops/deploy" }),
      status: 400,
      code: "ValidationError"
    },
    {
      name: "another account's API key",
      params: (t) => exchangeParams(t),
      token: () => apiKey("someone-else", "k"),
      status: 403,
      code: "IDPRejectedClaim"
    },
    {
      name: "a proxy token that is not an API key",
      params: (t) => exchangeParams(t),
      token: () => apiKey("demo", "k", { type: "session" }),
      status: 400,
      code: "InvalidIdentityToken",
      message: /not an API key/
    },
    {
      name: "an API key without a jti",
      params: (t) => exchangeParams(t),
      token: () => apiKey("demo", ""),
      status: 400,
      code: "InvalidIdentityToken"
    }
  ]

  for (const c of cases) {
    it.effect(`${c.name} → ${c.status} ${c.code}, audited`, () => {
      const { layer, calls } = stsLayer(config)
      return Effect.gen(function*() {
        const token = yield* Effect.promise(() => (c.token ?? (() => mint({})))())
        const result = yield* call(form(c.params(token)))
        expectError(result, c.status, c.code)
        if (c.message !== undefined) expect(tag(result.body, "Message")).toMatch(c.message)
        if (c.noFetch === true) expect(calls).toHaveLength(0)
        expect(result.events).toHaveLength(1)
        expect(result.events[0]).toMatchObject({ outcome: "failure", status: c.status, errorCode: c.code, requestId: "req-1" })
        expect(JSON.stringify(result.events)).not.toContain(token)
        // Never the expected values: the issuer, audiences and claim values the role trusts.
        expect(tag(result.body, "Message")).not.toMatch(/source\.coop|demo\/|refs\/heads|ops\/deploy/)
      }).pipe(Effect.provide(layer))
    })
  }

  it.effect("an expired token → ExpiredTokenException, on the test clock", () => {
    const { layer } = stsLayer(config)
    return Effect.gen(function*() {
      const token = yield* Effect.promise(() => mint({ exp: 3600 }))
      yield* TestClock.adjust("3659 seconds")
      expect((yield* call(form(exchangeParams(token)))).reply.status).toBe(200)
      yield* TestClock.adjust("2 seconds")
      expectError(yield* call(form(exchangeParams(token))), 400, "ExpiredTokenException")
    }).pipe(Effect.provide(layer))
  })

  it.effect("a revoked API key → InvalidIdentityToken", () => {
    const { layer } = stsLayer(config)
    return Effect.gen(function*() {
      const token = yield* Effect.promise(() => apiKey("demo", "key-revoked"))
      expect((yield* call(form(exchangeParams(token)))).reply.status).toBe(200)
      yield* Effect.flatMap(Revocations, (r) => r.revoke("key-revoked", 3600))
      const result = yield* call(form(exchangeParams(token)))
      expectError(result, 400, "InvalidIdentityToken")
      expect(tag(result.body, "Message")).toMatch(/revoked/)
    }).pipe(Effect.provide(layer))
  })

  it.effect("the IdP is down and nothing is cached → IDPCommunicationError", () => {
    const { layer } = stsLayer(config, () => new Response("down", { status: 503 }))
    return Effect.gen(function*() {
      const token = yield* Effect.promise(() => mint({}))
      expectError(yield* call(form(exchangeParams(token))), 400, "IDPCommunicationError")
    }).pipe(Effect.provide(layer))
  })

  it.effect("AUTH_AUDIENCE unset: the source-coop IdP accepts no token (fail closed), API keys still work", () =>
    Effect.gen(function*() {
      const { layer } = stsLayer(yield* Effect.promise(() => stsConfig({ AUTH_AUDIENCE: "" })))
      const token = yield* Effect.promise(() => mint({}))
      const key = yield* Effect.promise(() => apiKey("demo", "k2"))
      yield* Effect.gen(function*() {
        expectError(yield* call(form(exchangeParams(token))), 400, "InvalidIdentityToken")
        expect((yield* call(form(exchangeParams(key)))).reply.status).toBe(200)
      }).pipe(Effect.provide(layer))
    }))

  it.effect("an http issuer off loopback is refused, even when configured", () =>
    Effect.gen(function*() {
      const { layer, calls } = stsLayer(yield* Effect.promise(() => stsConfig({ AUTH_ISSUER: "http://idp.example.com" })))
      const token = yield* Effect.promise(() => mint({ iss: "http://idp.example.com" }))
      yield* Effect.gen(function*() {
        const result = yield* call(form(exchangeParams(token)))
        expectError(result, 400, "InvalidIdentityToken")
        expect(tag(result.body, "Message")).toMatch(/https/)
        expect(calls).toHaveLength(0)
      }).pipe(Effect.provide(layer))
    }))

  it.effect("a form body over 64 KiB → 413, and a non-form POST → ValidationError", () => {
    const { layer } = stsLayer(config)
    return Effect.gen(function*() {
      const big = form({ Action: "AssumeRoleWithWebIdentity", WebIdentityToken: "x".repeat(70_000) })
      expectError(yield* call(big), 413, "RequestEntityTooLarge")
      const chunked = s3Request("POST", "/.sts", {
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: `Action=AssumeRoleWithWebIdentity&WebIdentityToken=${"y".repeat(70_000)}`
      })
      expectError(yield* call(chunked), 413, "RequestEntityTooLarge") // no content-length: the read is bounded
      const json = s3Request("POST", "/.sts", { headers: { "content-type": "application/json" }, body: "{}" })
      expectError(yield* call(json), 400, "ValidationError")
    }).pipe(Effect.provide(layer))
  })

  it.effect("query parameters win over the body and are never merged with it", () => {
    const { layer } = stsLayer(config)
    return Effect.gen(function*() {
      const token = yield* Effect.promise(() => mint({}))
      const request = s3Request("POST", `/.sts?Action=AssumeRoleWithWebIdentity&RoleArn=${encodeURIComponent(DEFAULT_ROLE)}`, {
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ WebIdentityToken: token }).toString()
      })
      expectError(yield* call(request), 400, "ValidationError")
    }).pipe(Effect.provide(layer))
  })
})

describe("the JWKS is fetched from the issuer's discovery document", () => {
  it.effect("one discovery + one JWKS fetch, then cached across exchanges", () => {
    const { layer, calls } = stsLayer(config, idpServer())
    return Effect.gen(function*() {
      const token = yield* Effect.promise(() => mint({}))
      for (let i = 0; i < 3; i++) expect((yield* call(form(exchangeParams(token)))).reply.status).toBe(200)
      expect(calls.map((c) => c.url)).toStrictEqual([`${IDP}/.well-known/openid-configuration`, `${IDP}/keys`])
    }).pipe(Effect.provide(layer))
  })
})



