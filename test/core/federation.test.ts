import { WebCryptoHmac } from "../../src/layers/WebCryptoHmac.js"
import { describe, expect, it } from "@effect/vitest"
import { Clock, ConfigProvider, Deferred, Duration, Effect, Either, Exit, Fiber, Layer, Option, TestClock } from "effect"
import { createLocalJWKSet, decodeProtectedHeader, exportPKCS8, generateKeyPair, jwtVerify } from "jose"
import { Federation } from "../../src/core/backends/s3/Federation.js"
import { AwsS3, S3Provider } from "../../src/core/backends/s3/S3Store.js"
import { roleSessionName, STS_ANSWER_MAX_BYTES, StsFederation } from "../../src/layers/StsFederation.js"
import type { DataConnection } from "../../src/core/backends/connection.js"
import { type AssertionClaims, OidcProvider, SigningFailed } from "../../src/core/services/OidcProvider.js"
import { codeOf, statusOf } from "../../src/core/s3/renderError.js"
import { AppConfig, type AppSettings } from "../../src/core/services/AppConfig.js"
import { EdgeCache } from "../../src/core/services/EdgeCache.js"
import { UpstreamFailure, type UpstreamRequest } from "../../src/core/services/Upstream.js"
import { JoseOidcProvider } from "../../src/layers/JoseOidcProvider.js"
import { makeMemoryCache } from "../../src/layers/MemoryEdgeCache.js"
import { type Answer, endlessBody, settings, stubUpstream } from "../fixtures/stubUpstream.js"

// ---------------------------------------------------------------------------------------------------
// Fixtures: a scripted STS behind a stub Upstream, a stub OIDC signer, a spied EdgeCache.
// ---------------------------------------------------------------------------------------------------

const STS = "https://sts.test.example"
const ROLE = "arn:aws:iam::123456789012:role/source-reader"
const SUBJECT = "scv1:conn:aws-opendata-us-west-2"
const AUDIENCE = "sts.amazonaws.com"
const REQUEST = { roleArn: ROLE, subject: SUBJECT, audience: AUDIENCE }
const HOUR = 3_600_000

const config: AppSettings = { ...settings, awsStsEndpoint: STS, federationTimeout: Duration.seconds(10) }

const successXml = (n: number, expiresAt: number) =>
  `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>${SUBJECT}</SubjectFromWebIdentityToken>
    <Credentials>
      <AccessKeyId>ASIATESTKEY${n}</AccessKeyId>
      <SecretAccessKey>secret-${n}</SecretAccessKey>
      <SessionToken>session-token-${n}</SessionToken>
      <Expiration>${new Date(expiresAt).toISOString()}</Expiration>
    </Credentials>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>req-${n}</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`

const errorXml = (code: string) =>
  `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>${code}</Code><Message>refused by the test</Message></Error>
  <RequestId>req-error</RequestId>
</ErrorResponse>`

/** What the STS stub does for its n-th call (1-based). */
type StsScript = (n: number, request: UpstreamRequest) => Answer | "success"

/**
 * An STS that counts its calls; by default every call succeeds with credentials `ASIATESTKEY{n}` valid for
 * `lifetimeMs` from the (test) clock at the time of the call.
 */
const makeSts = (script: StsScript = () => "success", lifetimeMs = HOUR) => {
  let n = 0
  const stub = stubUpstream((request) => {
    const call = ++n
    const answer = script(call, request)
    if (answer !== "success") return answer
    return Effect.map(Clock.currentTimeMillis, (now) => new Response(successXml(call, now + lifetimeMs), { status: 200 }))
  })
  return stub
}

/** Delays an answer until `gate` opens; `entered` completes when the call has reached the stub. */
const held = (entered: Deferred.Deferred<void>, gate: Deferred.Deferred<void>, answer: Effect.Effect<Response>) =>
  Effect.zipRight(Deferred.succeed(entered, undefined), Effect.zipRight(Deferred.await(gate), answer))

const successNow = (n: number, lifetimeMs = HOUR) =>
  Effect.map(Clock.currentTimeMillis, (now) => new Response(successXml(n, now + lifetimeMs)))

/** A fast OIDC stand-in that records what it was asked to sign. */
const stubOidc = (fail = false) => {
  const signed: Array<AssertionClaims> = []
  const layer = Layer.succeed(
    OidcProvider,
    OidcProvider.of({
      issuer: "https://proxy.test",
      sign: (claims) =>
        fail
          ? Effect.fail(new SigningFailed({ reason: "no key" }))
          : Effect.sync(() => {
            signed.push(claims)
            return `jwt.for.${claims.sub}.${claims.aud}`
          }),
      publicKeys: Effect.succeed([])
    })
  )
  return { signed, layer }
}

interface CacheWrite {
  readonly key: string
  readonly value: string
  readonly ttlMs: number
}

/** A MemoryEdgeCache that also records every write; share `cache` between two layers to model two isolates. */
const spiedCache = (cache = makeMemoryCache(100)) => {
  const writes: Array<CacheWrite> = []
  const layer = Layer.succeed(
    EdgeCache,
    EdgeCache.of({
      ...cache,
      set: (key, value, ttl) => {
        writes.push({ key, value, ttlMs: Duration.toMillis(ttl) })
        return cache.set(key, value, ttl)
      }
    })
  )
  return { writes, layer, cache }
}

/** A Federation over the given stubs: one "isolate". */
const federationLayer = (
  sts: ReturnType<typeof makeSts>,
  options: { readonly oidc?: Layer.Layer<OidcProvider>; readonly cache?: Layer.Layer<EdgeCache> } = {}
) =>
  StsFederation.pipe(
    Layer.provide(Layer.mergeAll(
      sts.layer,
      options.oidc ?? stubOidc().layer,
      options.cache ?? spiedCache().layer,
      Layer.succeed(AppConfig, config)
    ))
  )

const federation = (sts: ReturnType<typeof makeSts>, options: Parameters<typeof federationLayer>[1] = {}) =>
  Effect.provide(Federation, federationLayer(sts, options))

const form = (request: UpstreamRequest | undefined) => new URLSearchParams(String(request?.body ?? ""))

// ---------------------------------------------------------------------------------------------------

describe("federation: RoleSessionName", () => {
  const cases: ReadonlyArray<readonly [string, string]> = [
    ["scv1:conn:aws-opendata-us-west-2", "scv1_conn_aws-opendata-us-west-2"],
    ["scv1:conn:a b/c?d#e", "scv1_conn_a_b_c_d_e"],
    ["keeps+=,.@_-allowed", "keeps+=,.@_-allowed"],
    ["scv1:conn:ünï", "scv1_conn__n_"],
    ["x".repeat(100), "x".repeat(64)],
    [`scv1:conn:${"y".repeat(80)}`, `scv1_conn_${"y".repeat(54)}`],
    ["ab", "ab"],
    ["a", "s3-proxy"],
    ["", "s3-proxy"],
    [":", "s3-proxy"]
  ]
  for (const [subject, name] of cases) {
    it(`${JSON.stringify(subject.length > 30 ? `${subject.slice(0, 27)}…` : subject)} → ${name.length > 30 ? `${name.slice(0, 27)}…` : name}`, () => {
      expect(roleSessionName(subject)).toBe(name)
      expect(name).toMatch(/^[A-Za-z0-9+=,.@_-]{2,64}$/)
    })
  }
})

describe("federation: the AssumeRoleWithWebIdentity call", () => {
  it.effect("one form POST to AWS_STS_ENDPOINT: Action, Version, RoleArn, RoleSessionName, WebIdentityToken, no DurationSeconds", () => {
    const sts = makeSts()
    const oidc = stubOidc()
    return Effect.gen(function*() {
      const fed = yield* federation(sts, { oidc: oidc.layer })
      const creds = yield* fed.credentials(REQUEST)
      expect(creds).toMatchObject({ accessKeyId: "ASIATESTKEY1", secretAccessKey: "secret-1", sessionToken: "session-token-1" })
      expect(sts.calls).toHaveLength(1)
      const call = sts.calls[0]!
      expect(call.method).toBe("POST")
      expect(call.url).toBe(STS)
      expect(call.headers.get("content-type")).toMatch(/^application\/x-www-form-urlencoded/)
      expect(Duration.toMillis(call.timeout)).toBe(10_000)
      const body = form(call)
      expect([...body.keys()].sort()).toStrictEqual(["Action", "RoleArn", "RoleSessionName", "Version", "WebIdentityToken"])
      expect(body.get("Action")).toBe("AssumeRoleWithWebIdentity")
      expect(body.get("Version")).toBe("2011-06-15")
      expect(body.get("RoleArn")).toBe(ROLE)
      expect(body.get("RoleSessionName")).toBe("scv1_conn_aws-opendata-us-west-2")
      expect(body.get("WebIdentityToken")).toBe(`jwt.for.${SUBJECT}.${AUDIENCE}`)
      expect(body.has("DurationSeconds")).toBe(false)
      expect(oidc.signed).toStrictEqual([{ sub: SUBJECT, aud: AUDIENCE, ttlSeconds: 60 }])
    })
  })

  it.effect("with the real JoseOidcProvider, the WebIdentityToken is an RS256 JWT that verifies: iss, sub, aud, kid", () =>
    Effect.gen(function*() {
      const { privateKey } = yield* Effect.promise(() => generateKeyPair("RS256", { extractable: true }))
      const pem = yield* Effect.promise(() => exportPKCS8(privateKey))
      const oidcLayer = JoseOidcProvider.pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(
        new Map([["OIDC_PROVIDER_ISSUER", "https://data.test.source.coop"], ["OIDC_PROVIDER_KID", "fed-kid-1"], [
          "OIDC_PROVIDER_KEY",
          pem
        ]])
      ))))
      yield* TestClock.setTime(Date.UTC(2026, 0, 1))
      const sts = makeSts()
      const oidc = yield* Effect.provide(OidcProvider, oidcLayer)
      const fed = yield* federation(sts, { oidc: Layer.succeed(OidcProvider, oidc) })
      yield* fed.credentials({ ...REQUEST, audience: "custom-audience" })
      const token = form(sts.calls[0]).get("WebIdentityToken")!
      const keys = yield* oidc.publicKeys
      const { payload, protectedHeader } = yield* Effect.promise(() =>
        jwtVerify(token, createLocalJWKSet({ keys: [...keys] }), {
          issuer: "https://data.test.source.coop",
          audience: "custom-audience",
          algorithms: ["RS256"],
          currentDate: new Date(Date.UTC(2026, 0, 1))
        })
      )
      expect(protectedHeader).toMatchObject({ alg: "RS256", kid: "fed-kid-1" })
      expect(decodeProtectedHeader(token).kid).toBe("fed-kid-1")
      expect(payload.sub).toBe(SUBJECT)
      expect(payload.iat).toBe(Date.UTC(2026, 0, 1) / 1000)
    }))

  it.effect("a connection's plan: subject scv1:conn:{id}, audience the connection's or sts.amazonaws.com", () =>
    Effect.sync(() => {
      const conn = (authentication: DataConnection["authentication"]): DataConnection => ({
        data_connection_id: "aws-opendata-us-west-2",
        read_only: true,
        details: { provider: "s3", bucket: "b" },
        authentication
      })
      expect(AwsS3.credentials({ type: "s3_web_identity_role", role_arn: ROLE }, conn({ type: "s3_web_identity_role", role_arn: ROLE })))
        .toStrictEqual({ _tag: "Federated", roleArn: ROLE, subject: SUBJECT, audience: "sts.amazonaws.com" })
      const custom = { type: "s3_web_identity_role", role_arn: ROLE, audience: "my-aud" } as const
      expect(AwsS3.credentials(custom, conn(custom))).toStrictEqual({
        _tag: "Federated",
        roleArn: ROLE,
        subject: SUBJECT,
        audience: "my-aud"
      })
    }))

  it.effect("an S3 read through a federated connection is signed with the temporary key and x-amz-security-token", () =>
    Effect.gen(function*() {
      const stub = stubUpstream((request) =>
        request.url === STS ? successNow(7) : new Response("object bytes", { status: 200 })
      )
      const layers = Layer.mergeAll(stub.layer, Layer.succeed(AppConfig, config), WebCryptoHmac)
      const fed = StsFederation.pipe(Layer.provide(Layer.mergeAll(layers, stubOidc().layer, spiedCache().layer)))
      const make = yield* S3Provider.pipe(Effect.provide(Layer.merge(layers, fed)))
      const store = yield* make({
        data_connection_id: "aws-opendata-us-west-2",
        read_only: true,
        details: { provider: "s3", bucket: "private-bucket", region: "us-west-2" },
        authentication: { type: "s3_web_identity_role", role_arn: ROLE }
      })
      for (let i = 0; i < 3; i++) yield* store.read({ key: `k${i}.txt`, method: "GET", headers: new Headers() })
      expect(stub.calls.map((c) => c.url)).toStrictEqual([
        STS,
        "https://s3.us-west-2.amazonaws.com/private-bucket/k0.txt",
        "https://s3.us-west-2.amazonaws.com/private-bucket/k1.txt",
        "https://s3.us-west-2.amazonaws.com/private-bucket/k2.txt"
      ])
      for (const read of stub.calls.slice(1)) {
        expect(read.headers.get("authorization")).toMatch(/^AWS4-HMAC-SHA256 Credential=ASIATESTKEY7\/\d{8}\/us-west-2\/s3\/aws4_request,/)
        expect(read.headers.get("authorization")).toContain("x-amz-security-token")
        expect(read.headers.get("x-amz-security-token")).toBe("session-token-7")
      }
    }))
})

describe("federation: the in-isolate cache", () => {
  it.effect("many requests in a row → one STS call, the same credentials", () => {
    const sts = makeSts()
    return Effect.gen(function*() {
      const fed = yield* federation(sts)
      const all = yield* Effect.forEach(Array.from({ length: 50 }), () => fed.credentials(REQUEST))
      expect(sts.calls).toHaveLength(1)
      expect(new Set(all.map((c) => c.accessKeyId))).toStrictEqual(new Set(["ASIATESTKEY1"]))
    })
  })

  it.effect("a cold key has no single flight (docs/backends.md#outbound-federation): concurrent first callers each mint, then all reuse", () => {
    const sts = makeSts()
    return Effect.gen(function*() {
      const fed = yield* federation(sts)
      yield* Effect.all(Array.from({ length: 4 }, () => fed.credentials(REQUEST)), { concurrency: "unbounded" })
      const minted = sts.calls.length
      expect(minted).toBeGreaterThanOrEqual(1)
      expect(minted).toBeLessThanOrEqual(4)
      yield* Effect.all(Array.from({ length: 20 }, () => fed.credentials(REQUEST)), { concurrency: "unbounded" })
      expect(sts.calls).toHaveLength(minted)
    })
  })

  it.effect("credentials are reused until 60 s before expiry, renewed at exactly 60 s left", () => {
    const sts = makeSts()
    return Effect.gen(function*() {
      const fed = yield* federation(sts)
      expect((yield* fed.credentials(REQUEST)).accessKeyId).toBe("ASIATESTKEY1")
      yield* TestClock.adjust(Duration.millis(HOUR - 60_000 - 1)) // 60.001 s left
      expect((yield* fed.credentials(REQUEST)).accessKeyId).toBe("ASIATESTKEY1")
      expect(sts.calls).toHaveLength(1)
      yield* TestClock.adjust(Duration.millis(1)) // 60 s left: inside the lead
      expect((yield* fed.credentials(REQUEST)).accessKeyId).toBe("ASIATESTKEY2")
      expect(sts.calls).toHaveLength(2)
      // the renewed credentials now serve for their own hour
      yield* TestClock.adjust(Duration.minutes(30))
      expect((yield* fed.credentials(REQUEST)).accessKeyId).toBe("ASIATESTKEY2")
      expect(sts.calls).toHaveLength(2)
    })
  })

  it.effect("inside the lead exactly one request renews; the others complete meanwhile with the old credentials", () =>
    Effect.gen(function*() {
      const entered = yield* Deferred.make<void>()
      const gate = yield* Deferred.make<void>()
      const sts = makeSts((n) => (n === 2 ? held(entered, gate, successNow(2)) : "success"))
      const fed = yield* federation(sts)
      yield* fed.credentials(REQUEST)
      yield* TestClock.adjust(Duration.millis(HOUR - 30_000)) // 30 s left: inside the lead

      const finished: Array<string> = []
      const all = yield* Effect.fork(
        Effect.all(
          Array.from({ length: 10 }, () => Effect.tap(fed.credentials(REQUEST), (c) => Effect.sync(() => finished.push(c.accessKeyId)))),
          { concurrency: "unbounded" }
        )
      )
      yield* Deferred.await(entered) // the renewer's STS call is open and held
      for (let i = 0; i < 50 && finished.length < 9; i++) yield* Effect.yieldNow()
      // nobody waits on the renewer: nine requests are done, all with the old credentials
      expect(finished).toStrictEqual(Array.from({ length: 9 }, () => "ASIATESTKEY1"))
      expect(sts.calls).toHaveLength(2)
      // more requests while the renewal is still open: still served at once, still no STS call
      const more = yield* Effect.all(Array.from({ length: 5 }, () => fed.credentials(REQUEST)), { concurrency: "unbounded" })
      expect(more.map((c) => c.accessKeyId)).toStrictEqual(Array.from({ length: 5 }, () => "ASIATESTKEY1"))
      expect(sts.calls).toHaveLength(2)

      yield* Deferred.succeed(gate, undefined)
      const results = yield* Fiber.join(all)
      expect(results.filter((c) => c.accessKeyId === "ASIATESTKEY2")).toHaveLength(1)
      expect(results.filter((c) => c.accessKeyId === "ASIATESTKEY1")).toHaveLength(9)
      expect((yield* fed.credentials(REQUEST)).accessKeyId).toBe("ASIATESTKEY2")
      expect(sts.calls).toHaveLength(2)
    }))

  it.effect("with 5 s or less left, every caller mints (even while a renewal is claimed)", () =>
    Effect.gen(function*() {
      const entered = yield* Deferred.make<void>()
      const gate = yield* Deferred.make<void>()
      const sts = makeSts((n) => (n === 1 ? "success" : held(entered, gate, successNow(n))))
      const fed = yield* federation(sts)
      yield* fed.credentials(REQUEST)
      yield* TestClock.adjust(Duration.millis(HOUR - 6_000)) // 6 s left: one request claims and renews
      const claimant = yield* Effect.fork(fed.credentials(REQUEST))
      yield* Deferred.await(entered)
      expect((yield* fed.credentials(REQUEST)).accessKeyId).toBe("ASIATESTKEY1") // 6 s left, claim live: served
      expect(sts.calls).toHaveLength(2)

      yield* TestClock.adjust(Duration.seconds(1)) // exactly 5 s left
      const fibers = yield* Effect.forEach(Array.from({ length: 4 }), () => Effect.fork(fed.credentials(REQUEST)))
      for (let i = 0; i < 50 && sts.calls.length < 6; i++) yield* Effect.yieldNow()
      expect(sts.calls).toHaveLength(6) // the claimant's call plus one per caller
      yield* Deferred.succeed(gate, undefined)
      const results = yield* Fiber.join(Fiber.all([claimant, ...fibers]))
      expect(results.every((c) => c.accessKeyId !== "ASIATESTKEY1")).toBe(true)
    }))

  it.effect("a claim 30 s old is stale and taken over; under 30 s it is respected", () =>
    Effect.gen(function*() {
      const entered = yield* Deferred.make<void>()
      const never = yield* Deferred.make<void>()
      const sts = makeSts((n) => (n === 2 ? held(entered, never, successNow(2)) : "success"))
      const fed = yield* federation(sts)
      yield* fed.credentials(REQUEST)
      yield* TestClock.adjust(Duration.millis(HOUR - 59_000)) // 59 s left
      const stuck = yield* Effect.fork(fed.credentials(REQUEST)) // claims, its STS call never answers
      yield* Deferred.await(entered)

      yield* TestClock.adjust(Duration.millis(30_000 - 1)) // claim 29.999 s old, 29 s left
      expect((yield* fed.credentials(REQUEST)).accessKeyId).toBe("ASIATESTKEY1")
      expect(sts.calls).toHaveLength(2)

      yield* TestClock.adjust(Duration.millis(1)) // claim 30 s old: stale, this caller takes over
      expect((yield* fed.credentials(REQUEST)).accessKeyId).toBe("ASIATESTKEY3")
      expect(sts.calls).toHaveLength(3)
      expect((yield* fed.credentials(REQUEST)).accessKeyId).toBe("ASIATESTKEY3")
      expect(sts.calls).toHaveLength(3)
      yield* Fiber.interrupt(stuck)
    }))

  it.effect("a failed renewal releases the claim: the next request renews at once", () =>
    Effect.gen(function*() {
      const sts = makeSts((n) => (n === 2 ? new Response(errorXml("InvalidIdentityToken"), { status: 400 }) : "success"))
      const fed = yield* federation(sts)
      yield* fed.credentials(REQUEST)
      yield* TestClock.adjust(Duration.millis(HOUR - 40_000)) // 40 s left: inside the lead
      const failed = yield* Effect.either(fed.credentials(REQUEST))
      expect(Either.isLeft(failed) && failed.left._tag).toBe("BackendAuthenticationFailed")
      expect(sts.calls).toHaveLength(2)
      // same instant: the claim is gone, so this request claims and renews (it does not keep serving the old one)
      expect((yield* fed.credentials(REQUEST)).accessKeyId).toBe("ASIATESTKEY3")
      expect(sts.calls).toHaveLength(3)
    }))

  it.effect("a failed first mint is not cached: the next request calls STS again", () =>
    Effect.gen(function*() {
      const cache = spiedCache()
      const sts = makeSts((n) => (n === 1 ? new Response(errorXml("AccessDenied"), { status: 403 }) : "success"))
      const fed = yield* federation(sts, { cache: cache.layer })
      expect(Exit.isFailure(yield* Effect.exit(fed.credentials(REQUEST)))).toBe(true)
      expect(cache.writes).toHaveLength(0)
      expect((yield* fed.credentials(REQUEST)).accessKeyId).toBe("ASIATESTKEY2")
      expect(sts.calls).toHaveLength(2)
    }))

  it.effect("two connections sharing one role_arn never share credentials (their subjects differ)", () => {
    const sts = makeSts()
    const oidc = stubOidc()
    return Effect.gen(function*() {
      const fed = yield* federation(sts, { oidc: oidc.layer })
      const a = yield* fed.credentials({ ...REQUEST, subject: "scv1:conn:conn-a" })
      const b = yield* fed.credentials({ ...REQUEST, subject: "scv1:conn:conn-b" })
      yield* fed.credentials({ ...REQUEST, subject: "scv1:conn:conn-a" })
      yield* fed.credentials({ ...REQUEST, subject: "scv1:conn:conn-b" })
      expect(a.accessKeyId).not.toBe(b.accessKeyId)
      expect(sts.calls).toHaveLength(2)
      expect(sts.calls.map((c) => form(c).get("RoleSessionName"))).toStrictEqual(["scv1_conn_conn-a", "scv1_conn_conn-b"])
      expect(sts.calls.map((c) => form(c).get("RoleArn"))).toStrictEqual([ROLE, ROLE])
      expect(oidc.signed.map((c) => c.sub)).toStrictEqual(["scv1:conn:conn-a", "scv1:conn:conn-b"])
    })
  })

  it.effect("the audience is part of the key: another audience is another STS call", () => {
    const sts = makeSts()
    return Effect.gen(function*() {
      const fed = yield* federation(sts)
      const a = yield* fed.credentials(REQUEST)
      const b = yield* fed.credentials({ ...REQUEST, audience: "other-audience" })
      expect(a.accessKeyId).not.toBe(b.accessKeyId)
      expect(sts.calls).toHaveLength(2)
    })
  })
})

describe("federation: the shared (L2) cache", () => {
  it.effect("a cold isolate finds the credentials in the shared cache: no STS call", () =>
    Effect.gen(function*() {
      const shared = makeMemoryCache(100)
      const sts = makeSts()
      const first = yield* federation(sts, { cache: spiedCache(shared).layer })
      const minted = yield* first.credentials(REQUEST)
      yield* TestClock.adjust(Duration.minutes(10))
      const second = yield* federation(sts, { cache: spiedCache(shared).layer }) // another isolate, same cache
      expect(yield* second.credentials(REQUEST)).toStrictEqual(minted)
      expect(yield* second.credentials(REQUEST)).toStrictEqual(minted)
      expect(sts.calls).toHaveLength(1)
    }))

  it.effect("L2 TTL = expiry − 300 s; the value holds the credentials and their expiry", () =>
    Effect.gen(function*() {
      const cache = spiedCache()
      const sts = makeSts()
      const fed = yield* federation(sts, { cache: cache.layer })
      yield* fed.credentials(REQUEST) // at t = 0 on the test clock: expires at t = 1 h
      expect(cache.writes).toHaveLength(1)
      const write = cache.writes[0]!
      expect(write.ttlMs).toBe(HOUR - 300_000)
      expect(write.key).toBe(`sts-creds:${ROLE}\u001f${SUBJECT}\u001f${AUDIENCE}`)
      expect(JSON.parse(write.value)).toStrictEqual({
        accessKeyId: "ASIATESTKEY1",
        secretAccessKey: "secret-1",
        sessionToken: "session-token-1",
        expiresAt: HOUR
      })
      // past the TTL, another isolate no longer finds it and mints
      yield* TestClock.adjust(Duration.millis(HOUR - 300_000))
      const other = yield* federation(sts, { cache: spiedCache(cache.cache).layer })
      expect((yield* other.credentials(REQUEST)).accessKeyId).toBe("ASIATESTKEY2")
      expect(sts.calls).toHaveLength(2)
    }))

  for (const [lifetimeSeconds, ttlMs] of [[300, undefined], [120, undefined], [301, 1_000]] as const) {
    it.effect(`credentials valid ${lifetimeSeconds} s → ${ttlMs === undefined ? "nothing stored in L2" : `L2 TTL ${ttlMs} ms`}`, () =>
      Effect.gen(function*() {
        const cache = spiedCache()
        const sts = makeSts(() => "success", lifetimeSeconds * 1000)
        const fed = yield* federation(sts, { cache: cache.layer })
        yield* fed.credentials(REQUEST)
        expect(cache.writes.map((w) => w.ttlMs)).toStrictEqual(ttlMs === undefined ? [] : [ttlMs])
      }))
  }

  it.effect("an unreadable L2 entry is a miss", () =>
    Effect.gen(function*() {
      const shared = makeMemoryCache(100)
      yield* shared.set(`sts-creds:${ROLE}\u001f${SUBJECT}\u001f${AUDIENCE}`, "{not json", "1 hour")
      const sts = makeSts()
      const fed = yield* federation(sts, { cache: spiedCache(shared).layer })
      expect((yield* fed.credentials(REQUEST)).accessKeyId).toBe("ASIATESTKEY1")
      expect(sts.calls).toHaveLength(1)
    }))

  it.effect("L2 is keyed by subject too: another connection on the same role does not pick it up", () =>
    Effect.gen(function*() {
      const shared = makeMemoryCache(100)
      const sts = makeSts()
      yield* (yield* federation(sts, { cache: spiedCache(shared).layer })).credentials(REQUEST)
      const other = yield* federation(sts, { cache: spiedCache(shared).layer })
      expect((yield* other.credentials({ ...REQUEST, subject: "scv1:conn:another" })).accessKeyId).toBe("ASIATESTKEY2")
      expect(sts.calls).toHaveLength(2)
    }))
})

describe("federation: failures", () => {
  /** The failure for an STS answer (a success fails the test with what was issued). */
  const failing = (answer: Answer) => {
    const sts = makeSts(() => answer)
    return Effect.flatMap(federation(sts), (fed) =>
      Effect.flatMap(Effect.either(fed.credentials(REQUEST)), (result) =>
        Either.isLeft(result)
          ? Effect.succeed(result.left)
          : Effect.dieMessage(`expected a failure, got credentials ${JSON.stringify(result.right)}`)))
  }

  it.effect("STS AccessDenied → AccessDenied (403)", () =>
    Effect.gen(function*() {
      const error = yield* failing(new Response(errorXml("AccessDenied"), { status: 403 }))
      expect(error._tag).toBe("AccessDenied")
      expect([statusOf(error), codeOf(error)]).toStrictEqual([403, "AccessDenied"])
    }))

  it.effect("STS InvalidIdentityToken → BackendAuthenticationFailed with that code (502)", () =>
    Effect.gen(function*() {
      const error = yield* failing(new Response(errorXml("InvalidIdentityToken"), { status: 400 }))
      expect(error).toMatchObject({ _tag: "BackendAuthenticationFailed", code: "InvalidIdentityToken" })
      expect([statusOf(error), codeOf(error)]).toStrictEqual([502, "BackendAuthenticationFailed"])
    }))

  it.effect("the HTTP status is ignored: an ErrorResponse under 200 is still a refusal", () =>
    Effect.gen(function*() {
      const error = yield* failing(new Response(errorXml("ExpiredTokenException"), { status: 200 }))
      expect(error).toMatchObject({ _tag: "BackendAuthenticationFailed", code: "ExpiredTokenException" })
    }))

  const unreadable: ReadonlyArray<readonly [string, Response]> = [
    ["an HTML error page", new Response("<html><body>502 Bad Gateway</body></html>", { status: 502 })],
    ["plain text", new Response("not xml at all", { status: 200 })],
    ["an empty body", new Response("", { status: 200 })],
    ["success without a SessionToken", new Response(successXml(1, 0).replace(/<SessionToken>.*<\/SessionToken>/, ""))],
    ["an ErrorResponse without a Code", new Response("<ErrorResponse><Error><Message>x</Message></Error></ErrorResponse>")],
    ["an Expiration that is not a date", new Response(successXml(1, 0).replace(/<Expiration>.*<\/Expiration>/, "<Expiration>soon</Expiration>"))]
  ]
  for (const [name, response] of unreadable) {
    it.effect(`${name} → BackendUnavailable (503)`, () =>
      Effect.gen(function*() {
        const error = yield* failing(response.clone())
        expect(error._tag).toBe("BackendUnavailable")
        expect([statusOf(error), codeOf(error)]).toStrictEqual([503, "ServiceUnavailable"])
      }))
  }

  for (const reason of ["Timeout", "Transport"] as const) {
    it.effect(`an upstream ${reason} → BackendUnavailable (503)`, () =>
      Effect.gen(function*() {
        const error = yield* failing(Effect.fail(new UpstreamFailure({ reason, url: STS, detail: "test" })))
        expect(error._tag).toBe("BackendUnavailable")
        expect(statusOf(error)).toBe(503)
      }))
  }

  it.effect("a body that never finishes → BackendUnavailable after FEDERATION_TIMEOUT_MS", () =>
    Effect.gen(function*() {
      const body = new ReadableStream<Uint8Array>({ start: () => {} }) // headers arrived, the body never does
      const sts = makeSts(() => new Response(body, { status: 200 }))
      const fed = yield* federation(sts)
      const fiber = yield* Effect.fork(Effect.flip(fed.credentials(REQUEST)))
      yield* TestClock.adjust(Duration.seconds(10))
      const error = yield* Fiber.join(fiber)
      expect(error._tag).toBe("BackendUnavailable")
    }))

  it.effect("an answer larger than the bound → BackendAuthenticationFailed StsAnswerTooLarge (502); reading stops there", () =>
    Effect.gen(function*() {
      const endless = endlessBody("<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult>")
      const error = yield* failing(new Response(endless.body, { status: 200 }))
      expect(error).toMatchObject({ _tag: "BackendAuthenticationFailed", code: "StsAnswerTooLarge" })
      expect([statusOf(error), codeOf(error)]).toStrictEqual([502, "BackendAuthenticationFailed"])
      expect(endless.state.cancelled).toBe(true)
      expect(endless.state.pulled).toBeLessThanOrEqual(STS_ANSWER_MAX_BYTES + 128 * 1024)
    }))

  for (const status of [301, 302, 307, 308]) {
    it.effect(`a ${status} is a failed call (503), even with credentials in its body, and nothing is cached`, () =>
      Effect.gen(function*() {
        const cache = spiedCache()
        const sts = makeSts(() =>
          new Response(successXml(1, HOUR), { status, headers: { location: "https://sts.elsewhere.example/" } }))
        const fed = yield* federation(sts, { cache: cache.layer })
        const error = yield* Effect.flip(fed.credentials(REQUEST))
        expect([error._tag, statusOf(error)]).toStrictEqual(["BackendUnavailable", 503])
        expect(sts.calls).toHaveLength(1)
        expect(cache.writes).toHaveLength(0)
      }))
  }

  it.effect("a signing failure → BackendAuthenticationFailed ProviderKeyError, and STS is not called", () =>
    Effect.gen(function*() {
      const sts = makeSts()
      const fed = yield* federation(sts, { oidc: stubOidc(true).layer })
      const error = yield* Effect.flip(fed.credentials(REQUEST))
      expect(error).toMatchObject({ _tag: "BackendAuthenticationFailed", code: "ProviderKeyError" })
      expect(sts.calls).toHaveLength(0)
    }))

  it.effect("errors are never stored in the shared cache", () =>
    Effect.gen(function*() {
      const cache = spiedCache()
      const sts = makeSts(() => new Response(errorXml("AccessDenied"), { status: 403 }))
      const fed = yield* federation(sts, { cache: cache.layer })
      yield* Effect.flip(fed.credentials(REQUEST))
      yield* Effect.flip(fed.credentials(REQUEST))
      expect(cache.writes).toHaveLength(0)
      expect(sts.calls).toHaveLength(2)
      expect(Option.isNone(yield* cache.cache.get(`sts-creds:${ROLE}\u001f${SUBJECT}\u001f${AUDIENCE}`))).toBe(true)
    }))
})
