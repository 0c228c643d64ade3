import { generateKeyPairSync } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Layer, TestClock } from "effect"
import { createLocalJWKSet, decodeProtectedHeader, exportJWK, exportPKCS8, generateKeyPair, type JWK, jwtVerify, SignJWT } from "jose"
import { discoveryDocument, jwksDocument } from "../../src/core/operations/oidcDocuments.js"
import { OidcProvider } from "../../src/core/services/OidcProvider.js"
import { JoseOidcProvider } from "../../src/layers/JoseOidcProvider.js"

// Keys generated for this run (never checked in).
const activePair = await generateKeyPair("RS256", { extractable: true })
const previousPair = await generateKeyPair("RS256", { extractable: true })
const ACTIVE_PEM = await exportPKCS8(activePair.privateKey)
const PREVIOUS_PEM = await exportPKCS8(previousPair.privateKey)
const ACTIVE_PUBLIC = await exportJWK(activePair.publicKey)
const PREVIOUS_PUBLIC = await exportJWK(previousPair.publicKey)
/**
 * The same kind of key as PKCS#1 (`BEGIN RSA PRIVATE KEY`), which docs/sts.md#the-proxy-as-an-oidc-issuer says is
 * refused.
 */
const PKCS1_PEM = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString()

const ISSUER = "https://data.test.source.coop"
const NOW = Date.UTC(2026, 2, 1, 12, 0, 0)

const provider = (env: Record<string, string>) =>
  JoseOidcProvider.pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))))

const base = { OIDC_PROVIDER_ISSUER: ISSUER, OIDC_PROVIDER_KID: "kid-active", OIDC_PROVIDER_KEY: ACTIVE_PEM }
const rotated = { ...base, OIDC_PROVIDER_KID_PREVIOUS: "kid-previous", OIDC_PROVIDER_KEY_PREVIOUS: PREVIOUS_PEM }

const withProvider = <A, E>(env: Record<string, string>, body: (oidc: OidcProvider["Type"]) => Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(NOW)
    return yield* body(yield* Effect.provide(OidcProvider, provider(env)))
  })

const verify = (token: string, keys: ReadonlyArray<JWK>, audience: string) =>
  Effect.promise(() =>
    jwtVerify(token, createLocalJWKSet({ keys: [...keys] }), {
      issuer: ISSUER,
      audience,
      algorithms: ["RS256"],
      currentDate: new Date(NOW)
    })
  )

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]

describe("OIDC provider: signing", () => {
  it.effect("a signed JWT verifies against the published JWKS: iss, sub, aud, kid, typ, exp − iat = ttl, nbf, jti", () =>
    withProvider(base, (oidc) =>
      Effect.gen(function*() {
        const token = yield* oidc.sign({ sub: "scv1:conn:abc", aud: "sts.amazonaws.com", ttlSeconds: 300 })
        const keys = yield* oidc.publicKeys
        const { payload, protectedHeader } = yield* verify(token, keys, "sts.amazonaws.com")
        expect(protectedHeader).toStrictEqual({ alg: "RS256", kid: "kid-active", typ: "JWT" })
        expect(payload.iss).toBe(ISSUER)
        expect(payload.sub).toBe("scv1:conn:abc")
        expect(payload.aud).toBe("sts.amazonaws.com")
        expect(payload.iat).toBe(NOW / 1000)
        expect(payload.nbf).toBe(payload.iat)
        expect(payload.exp! - payload.iat!).toBe(300)
        expect(payload.jti).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
        expect(oidc.issuer).toBe(ISSUER)
      })))

  it.effect("each token has its own jti; extra claims are carried; the TTL is the caller's", () =>
    withProvider(base, (oidc) =>
      Effect.gen(function*() {
        const keys = yield* oidc.publicKeys
        const a = yield* oidc.sign({ sub: "acct", aud: "api", ttlSeconds: 60, extra: { role: "reader", assumed_by: "x" } })
        const b = yield* oidc.sign({ sub: "acct", aud: "api", ttlSeconds: 60 })
        const pa = (yield* verify(a, keys, "api")).payload
        const pb = (yield* verify(b, keys, "api")).payload
        expect(pa.jti).not.toBe(pb.jti)
        expect(pa).toMatchObject({ role: "reader", assumed_by: "x" })
        expect(pa.exp! - pa.iat!).toBe(60)
      })))

  it.effect("a token is refused for another audience, and verifies only with the issuer's key", () =>
    withProvider(base, (oidc) =>
      Effect.gen(function*() {
        const token = yield* oidc.sign({ sub: "s", aud: "sts.amazonaws.com", ttlSeconds: 60 })
        const keys = yield* oidc.publicKeys
        const wrongAudience = yield* Effect.exit(Effect.tryPromise(() =>
          jwtVerify(token, createLocalJWKSet({ keys: [...keys] }), { audience: "other", currentDate: new Date(NOW) })
        ))
        expect(Exit.isFailure(wrongAudience)).toBe(true)
        const wrongKey = yield* Effect.exit(Effect.tryPromise(() =>
          jwtVerify(token, createLocalJWKSet({ keys: [{ ...PREVIOUS_PUBLIC, kid: "kid-active", alg: "RS256" }] }), {
            currentDate: new Date(NOW)
          })
        ))
        expect(Exit.isFailure(wrongKey)).toBe(true)
      })))

  it.effect("the issuer is trimmed of trailing slashes and whitespace", () =>
    withProvider({ ...base, OIDC_PROVIDER_ISSUER: ` ${ISSUER}/ ` }, (oidc) =>
      Effect.gen(function*() {
        expect(oidc.issuer).toBe(ISSUER)
        const token = yield* oidc.sign({ sub: "s", aud: "a", ttlSeconds: 60 })
        expect((yield* verify(token, yield* oidc.publicKeys, "a")).payload.iss).toBe(ISSUER)
      })))

  it.effect("many concurrent first signs (cold key) all succeed and verify", () =>
    withProvider(base, (oidc) =>
      Effect.gen(function*() {
        const tokens = yield* Effect.all(
          Array.from({ length: 20 }, (_, i) => oidc.sign({ sub: `s${i}`, aud: "a", ttlSeconds: 60 })),
          { concurrency: "unbounded" }
        )
        const keys = yield* oidc.publicKeys
        for (const token of tokens) yield* verify(token, keys, "a")
      })))
})

describe("OIDC provider: the published keys", () => {
  it.effect("the JWKS holds the active public key only: members alg, e, kid, kty, n, use (that order), no private part", () =>
    withProvider(base, (oidc) =>
      Effect.gen(function*() {
        const keys = yield* oidc.publicKeys
        expect(keys).toHaveLength(1)
        const key = keys[0]!
        expect(Object.keys(key)).toStrictEqual(["alg", "e", "kid", "kty", "n", "use"])
        expect(key).toStrictEqual({ alg: "RS256", e: "AQAB", kid: "kid-active", kty: "RSA", n: ACTIVE_PUBLIC.n, use: "sig" })
        expect(key.n).toMatch(/^[A-Za-z0-9_-]+$/) // base64url, no padding
        for (const member of PRIVATE_MEMBERS) expect(key).not.toHaveProperty(member)
        expect(jwksDocument(keys)).toBe(
          `{"keys":[{"alg":"RS256","e":"AQAB","kid":"kid-active","kty":"RSA","n":"${ACTIVE_PUBLIC.n}","use":"sig"}]}`
        )
      })))

  it.effect("rotation: the active key first, then the previous one; tokens of either key verify", () =>
    withProvider(rotated, (oidc) =>
      Effect.gen(function*() {
        const keys = yield* oidc.publicKeys
        expect(keys.map((k) => k.kid)).toStrictEqual(["kid-active", "kid-previous"])
        expect(keys[0]!.n).toBe(ACTIVE_PUBLIC.n)
        expect(keys[1]).toStrictEqual({ alg: "RS256", e: "AQAB", kid: "kid-previous", kty: "RSA", n: PREVIOUS_PUBLIC.n, use: "sig" })
        for (const key of keys) for (const member of PRIVATE_MEMBERS) expect(key).not.toHaveProperty(member)
        // new tokens are signed with the active key
        const token = yield* oidc.sign({ sub: "s", aud: "a", ttlSeconds: 60 })
        expect(decodeProtectedHeader(token).kid).toBe("kid-active")
        yield* verify(token, keys, "a")
        // a token the previous key signed before the rotation still verifies
        const old = yield* Effect.promise(() =>
          new SignJWT({}).setProtectedHeader({ alg: "RS256", kid: "kid-previous" }).setIssuer(ISSUER).setAudience("a")
            .setIssuedAt(NOW / 1000).setExpirationTime(NOW / 1000 + 60).sign(previousPair.privateKey)
        )
        yield* verify(old, keys, "a")
      })))

  it.effect("a previous key without its KID is left out; the active key still signs and verifies", () =>
    withProvider({ ...base, OIDC_PROVIDER_KEY_PREVIOUS: PREVIOUS_PEM }, (oidc) =>
      Effect.gen(function*() {
        const keys = yield* oidc.publicKeys
        expect(keys.map((k) => k.kid)).toStrictEqual(["kid-active"])
        yield* verify(yield* oidc.sign({ sub: "s", aud: "a", ttlSeconds: 60 }), keys, "a")
      })))

  it.effect("a previous KID without its key publishes nothing extra", () =>
    withProvider({ ...base, OIDC_PROVIDER_KID_PREVIOUS: "kid-previous" }, (oidc) =>
      Effect.map(oidc.publicKeys, (keys) => expect(keys.map((k) => k.kid)).toStrictEqual(["kid-active"]))))

  const unparseable: ReadonlyArray<readonly [string, string]> = [
    ["garbage", "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n"],
    ["PKCS#1", PKCS1_PEM]
  ]
  for (const [name, pem] of unparseable) {
    it.effect(`a previous PEM that does not parse (${name}) is left out; the active key still works`, () =>
      withProvider({ ...rotated, OIDC_PROVIDER_KEY_PREVIOUS: pem }, (oidc) =>
        Effect.gen(function*() {
          const keys = yield* oidc.publicKeys
          expect(keys.map((k) => k.kid)).toStrictEqual(["kid-active"])
          yield* verify(yield* oidc.sign({ sub: "s", aud: "a", ttlSeconds: 60 }), keys, "a")
        })))
  }

  it.effect("publicKeys is stable across calls (same document twice)", () =>
    withProvider(rotated, (oidc) =>
      Effect.gen(function*() {
        const first = jwksDocument(yield* oidc.publicKeys)
        expect(jwksDocument(yield* oidc.publicKeys)).toBe(first)
      })))
})

describe("OIDC provider: a broken active key", () => {
  const broken: ReadonlyArray<readonly [string, string]> = [
    ["garbage", "not a pem"],
    ["PKCS#1 (BEGIN RSA PRIVATE KEY)", PKCS1_PEM]
  ]
  for (const [name, pem] of broken) {
    it.effect(`${name} → SigningFailed on sign and on publicKeys (the layer itself builds)`, () =>
      withProvider({ ...base, OIDC_PROVIDER_KEY: pem }, (oidc) =>
        Effect.gen(function*() {
          const signed = yield* Effect.flip(oidc.sign({ sub: "s", aud: "a", ttlSeconds: 60 }))
          expect(signed._tag).toBe("SigningFailed")
          const published = yield* Effect.flip(oidc.publicKeys)
          expect(published._tag).toBe("SigningFailed")
        })))
  }

  it.effect("a missing or blank OIDC_PROVIDER_KEY fails the layer (a configuration error, not a request error)", () =>
    Effect.gen(function*() {
      const { OIDC_PROVIDER_KEY: _, ...withoutKey } = base
      for (const env of [withoutKey, { ...base, OIDC_PROVIDER_KEY: "" }, { ...base, OIDC_PROVIDER_KEY: "  \n" }]) {
        const exit = yield* Effect.exit(Effect.provide(OidcProvider, provider(env)))
        expect(Exit.isFailure(exit)).toBe(true)
      }
    }))
})

describe("OIDC provider: discovery", () => {
  it("the discovery document is byte-exact as docs/sts.md#the-proxy-as-an-oidc-issuer (alphabetical keys)", () => {
    expect(discoveryDocument(ISSUER)).toBe(
      `{"id_token_signing_alg_values_supported":["RS256"],"issuer":"${ISSUER}","jwks_uri":"${ISSUER}/.well-known/jwks.json",`
        + `"response_types_supported":["id_token"],"subject_types_supported":["public"]}`
    )
    const keys = Object.keys(JSON.parse(discoveryDocument(ISSUER)) as object)
    expect(keys).toStrictEqual([...keys].sort())
  })

  it.effect("the provider's issuer gives the document its issuer and jwks_uri", () =>
    withProvider({ ...base, OIDC_PROVIDER_ISSUER: `${ISSUER}/` }, (oidc) =>
      Effect.sync(() => {
        const doc = JSON.parse(discoveryDocument(oidc.issuer)) as { issuer: string; jwks_uri: string }
        expect(doc.issuer).toBe(ISSUER)
        expect(doc.jwks_uri).toBe(`${ISSUER}/.well-known/jwks.json`)
      })))
})
