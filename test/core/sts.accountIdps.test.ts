import { describe, expect, it } from "@effect/vitest"
import { Effect, Logger } from "effect"
import type { Reply } from "../../src/core/http/Reply.js"
import type { UpstreamRequest } from "../../src/core/services/Upstream.js"
import { AUDIT_EVENT, handleSts } from "../../src/core/sts/handleSts.js"
import { SessionKeys } from "../../src/core/session/SessionKeys.js"
import type { CatalogDocument } from "../../src/layers/LocalCatalog.js"
import { s3Request } from "../fixtures/requests.js"
import { apiKey, ecKey, GITHUB, IDP, idpServer, mint, otherRsaKey, rsaKey, stsConfig, stsDocument, stsLayer } from "../fixtures/sts.js"
import { type Answer, json } from "../fixtures/stubUpstream.js"

/**
 * Account-registered IdPs (the second tier of docs/sts.md#identity-providers) through the whole `/.sts` stack,
 * with the embedded catalog's `idps`: an account trusts its own issuer (a CI system, a university's IdP) in its
 * own Roles.
 */

const config = await stsConfig()

/** demo's CI issuer (discovery), an IdP with a registered jwks_uri, other's issuer, one that is down. */
const DEMO_CI = "https://ci.demo.test"
const PINNED = "https://pinned.test"
const PINNED_KEYS = "https://keys.pinned.test/jwks.json"
const THEIRS = "https://theirs.test"
const DOWN = "https://down.test"
const FAKE_GITHUB = "https://fake-gh.test"
const EVIL_KEYS = "https://evil.test/jwks"
const AUD = "sts.source.coop"
const CI_SUB = "repo:demo/site:ref:refs/heads/main"

const binding = (idp: string, claims: ReadonlyArray<{ claim: string; operator: "equals" | "starts_with"; value: string }> = []) => ({
  idp,
  audience: AUD,
  claim_constraints: claims
})

const role = (account_id: string, name: string, idp: string) => ({
  account_id,
  name,
  max_session_duration: 3600,
  identity_constraints: [binding(idp)],
  permissions: [{ actions: ["read" as const], resources: [`sc::${account_id}::product/sample/*`] }]
})

const document: CatalogDocument = {
  ...stsDocument,
  accounts: [...stsDocument.accounts, "other"],
  idps: [
    { account_id: "demo", name: "ci", issuer: `${DEMO_CI}/` },
    { account_id: "demo", name: "pinned", issuer: PINNED, jwks_uri: PINNED_KEYS },
    { account_id: "demo", name: "github", issuer: FAKE_GITHUB },
    { account_id: "demo", name: "impostor", issuer: IDP, jwks_uri: EVIL_KEYS },
    { account_id: "demo", name: "plain-http", issuer: "http://idp.example.com" },
    { account_id: "demo", name: "http-keys", issuer: "https://httpkeys.test", jwks_uri: "http://keys.example.com/jwks" },
    { account_id: "demo", name: "down", issuer: DOWN },
    { account_id: "other", name: "theirs", issuer: THEIRS },
    { account_id: "other", name: "evil-ci", issuer: DEMO_CI, jwks_uri: EVIL_KEYS }
  ],
  roles: [
    ...stsDocument.roles ?? [],
    {
      account_id: "demo",
      name: "publish",
      max_session_duration: 3600,
      identity_constraints: [binding("ci", [
        { claim: "repository", operator: "equals", value: "demo/site" },
        { claim: "ref", operator: "equals", value: "refs/heads/main" }
      ])],
      permissions: [{ actions: ["read", "write"], resources: ["sc::demo::product/sample/site/*"] }]
    },
    role("demo", "pinned", "pinned"),
    role("demo", "unknown", "nope"),
    role("demo", "theirs", "theirs"),
    role("demo", "shadow", "github"),
    role("demo", "impostor", "impostor"),
    role("demo", "plain-http", "plain-http"),
    role("demo", "http-keys", "http-keys"),
    role("demo", "down", "down"),
    role("other", "_default", "theirs"),
    role("other", "ci-evil", "evil-ci")
  ]
}

/** Discovery and JWKS of every issuer here; the registered jwks_uris; `down` answers 503. */
const idps = (() => {
  const discovery = idpServer({ [IDP]: [rsaKey.jwk, ecKey.jwk], [GITHUB]: [rsaKey.jwk], [DEMO_CI]: [rsaKey.jwk], [THEIRS]: [rsaKey.jwk] })
  return (request: UpstreamRequest): Answer => {
    if (request.url === PINNED_KEYS) return json({ keys: [ecKey.jwk] })
    if (request.url === EVIL_KEYS) return json({ keys: [otherRsaKey.jwk] })
    if (new URL(request.url).origin === DOWN) return new Response("down", { status: 503 })
    return discovery(request)
  }
})()

const layerOf = () => stsLayer(config, idps, document)

type Audit = Record<string, unknown>

const call = (params: Record<string, string>) =>
  Effect.gen(function*() {
    const events: Array<Audit> = []
    const logger = Logger.make(({ message }) => {
      const value = Array.isArray(message) ? message[0] : message
      if (typeof value === "object" && value !== null && (value as Audit)["event"] === AUDIT_EVENT) events.push(value as Audit)
    })
    const request = s3Request("POST", "/.sts", {
      headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8" },
      body: new URLSearchParams({ Action: "AssumeRoleWithWebIdentity", Version: "2011-06-15", RoleSessionName: "s1", ...params }).toString(),
      requestId: "req-1"
    })
    const reply: Reply = yield* handleSts(request).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
    const body = typeof reply.body === "string" ? reply.body : ""
    const tag = (name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(body)?.[1]
    return { status: reply.status, code: tag("Code"), message: tag("Message"), tag, events }
  })

const ciToken = (claims: Record<string, unknown> = {}, key = rsaKey) =>
  mint({ iss: DEMO_CI, aud: AUD, sub: CI_SUB, repository: "demo/site", ref: "refs/heads/main", ...claims }, key)

describe("a Role trusts an IdP its account registered", () => {
  it.effect("discovery at the registered issuer, claim constraints, the Role's ceiling; the session is the account's", () => {
    const { layer, calls } = layerOf()
    return Effect.gen(function*() {
      const ok = yield* call({ RoleArn: "sc::demo::role/publish", WebIdentityToken: yield* Effect.promise(() => ciToken()) })
      expect(ok.status).toBe(200)
      const claims = yield* Effect.flatMap(SessionKeys, (keys) => keys.verify(ok.tag("SessionToken")!))
      expect(claims).toMatchObject({
        account_id: "demo",
        role_name: "publish",
        assumed_by: CI_SUB,
        assumed_by_issuer: DEMO_CI,
        permissions: [{ actions: ["read", "write"], resources: ["sc::demo::product/sample/site/*"] }]
      })
      expect(ok.tag("Provider")).toBe(DEMO_CI)
      expect(ok.events[0]).toMatchObject({ outcome: "success", idp: "ci", issuer: DEMO_CI, subject: CI_SUB })
      expect(calls.map((c) => c.url)).toStrictEqual([`${DEMO_CI}/.well-known/openid-configuration`, `${DEMO_CI}/keys`])

      const otherBranch = yield* call({
        RoleArn: "sc::demo::role/publish",
        WebIdentityToken: yield* Effect.promise(() => ciToken({ ref: "refs/heads/dev", sub: "repo:demo/site:ref:refs/heads/dev" }))
      })
      expect([otherBranch.status, otherBranch.code]).toStrictEqual([403, "IDPRejectedClaim"])
      const otherRepo = yield* call({ RoleArn: "sc::demo::role/publish", WebIdentityToken: yield* Effect.promise(() => ciToken({ repository: "demo/site2" })) })
      expect([otherRepo.status, otherRepo.code]).toStrictEqual([403, "IDPRejectedClaim"])
    }).pipe(Effect.provide(layer))
  })

  it.effect("an IdP registered with a jwks_uri: its keys come from there, without discovery", () => {
    const { layer, calls } = layerOf()
    return Effect.gen(function*() {
      const token = yield* Effect.promise(() => mint({ iss: PINNED, aud: AUD, sub: "svc" }, ecKey))
      expect((yield* call({ RoleArn: "sc::demo::role/pinned", WebIdentityToken: token })).status).toBe(200)
      expect((yield* call({ RoleArn: "sc::demo::role/pinned", WebIdentityToken: token })).status).toBe(200)
      expect(calls.map((c) => c.url)).toStrictEqual([PINNED_KEYS])
    }).pipe(Effect.provide(layer))
  })

  it.effect("a platform IdP's name means the platform IdP, even where the account registered that name", () => {
    const { layer } = layerOf()
    return Effect.gen(function*() {
      const platform = yield* Effect.promise(() => mint({ iss: GITHUB, aud: AUD, sub: "repo:x" }))
      expect((yield* call({ RoleArn: "sc::demo::role/shadow", WebIdentityToken: platform })).status).toBe(200)
    }).pipe(Effect.provide(layer))
  })

  it.effect("keys one account registered for an issuer never verify tokens for another account's binding of it", () => {
    const { layer } = layerOf()
    return Effect.gen(function*() {
      // other's own Role takes tokens of demo's CI issuer signed with other's keys: other's choice, other's rights.
      const forged = yield* Effect.promise(() => ciToken({}, otherRsaKey))
      expect((yield* call({ RoleArn: "sc::other::role/ci-evil", WebIdentityToken: forged })).status).toBe(200)
      // demo's Role keeps the issuer's own keys: the same token does not verify there.
      const refused = yield* call({ RoleArn: "sc::demo::role/publish", WebIdentityToken: forged })
      expect([refused.status, refused.code]).toStrictEqual([400, "InvalidIdentityToken"])
      expect(refused.message).toMatch(/signature/)
      expect((yield* call({ RoleArn: "sc::demo::role/publish", WebIdentityToken: yield* Effect.promise(() => ciToken()) })).status).toBe(200)
    }).pipe(Effect.provide(layer))
  })
})

describe("every STS error a misconfigured account IdP produces", () => {
  const cases: ReadonlyArray<{
    readonly name: string
    readonly role: string
    readonly token: () => Promise<string>
    readonly status: number
    readonly code: string
    readonly message: RegExp
    /** No IdP request may be made for this one. */
    readonly noFetch?: boolean
  }> = [
    {
      name: "a binding names an IdP nobody registered",
      role: "sc::demo::role/unknown",
      token: () => ciToken(),
      status: 400,
      code: "InvalidIdentityToken",
      message: /issuer is not trusted/,
      noFetch: true
    },
    {
      name: "a binding names another account's IdP",
      role: "sc::demo::role/theirs",
      token: () => mint({ iss: THEIRS, aud: AUD }),
      status: 400,
      code: "InvalidIdentityToken",
      message: /issuer is not trusted/,
      noFetch: true
    },
    {
      name: "an account IdP under a platform IdP's name (the platform one is meant)",
      role: "sc::demo::role/shadow",
      token: () => mint({ iss: FAKE_GITHUB, aud: AUD }),
      status: 400,
      code: "InvalidIdentityToken",
      message: /issuer is not trusted/,
      noFetch: true
    },
    {
      name: "an account IdP claiming a platform IdP's issuer",
      role: "sc::demo::role/impostor",
      token: () => mint({ aud: AUD }, otherRsaKey),
      status: 400,
      code: "InvalidIdentityToken",
      message: /issuer is not trusted/,
      noFetch: true
    },
    {
      name: "an account IdP in a _default Role (its principal is a user: platform IdPs only)",
      role: "sc::other::role/_default",
      token: () => mint({ iss: THEIRS, aud: AUD, sub: "alice" }),
      status: 400,
      code: "InvalidIdentityToken",
      message: /issuer is not trusted/,
      noFetch: true
    },
    {
      name: "an http issuer off loopback",
      role: "sc::demo::role/plain-http",
      token: () => mint({ iss: "http://idp.example.com", aud: AUD }),
      status: 400,
      code: "InvalidIdentityToken",
      message: /issuer must be an https URL/,
      noFetch: true
    },
    {
      name: "an http jwks_uri off loopback",
      role: "sc::demo::role/http-keys",
      token: () => mint({ iss: "https://httpkeys.test", aud: AUD }),
      status: 400,
      code: "InvalidIdentityToken",
      message: /jwks_uri must be an https URL/,
      noFetch: true
    },
    {
      name: "the IdP's discovery is down",
      role: "sc::demo::role/down",
      token: () => mint({ iss: DOWN, aud: AUD }),
      status: 400,
      code: "IDPCommunicationError",
      message: /signing keys/
    },
    {
      name: "no key of the IdP matches the token's kid",
      role: "sc::demo::role/publish",
      token: () => mint({ iss: DEMO_CI, aud: AUD, repository: "demo/site", ref: "refs/heads/main" }, ecKey, { kid: "rotated-away" }),
      status: 400,
      code: "InvalidIdentityToken",
      message: /kid/
    },
    {
      name: "a wrong audience",
      role: "sc::demo::role/publish",
      token: () => ciToken({ aud: "https://github.com/demo" }),
      status: 400,
      code: "InvalidIdentityToken",
      message: /audience/
    },
    {
      name: "a signature by a key the IdP does not have",
      role: "sc::demo::role/publish",
      token: () => ciToken({}, otherRsaKey),
      status: 400,
      code: "InvalidIdentityToken",
      message: /signature/
    },
    {
      name: "an expired token",
      role: "sc::demo::role/publish",
      token: () => ciToken({ exp: -61 }),
      status: 400,
      code: "ExpiredTokenException",
      message: /expired/
    }
  ]

  for (const c of cases) {
    it.effect(`${c.name} → ${c.status} ${c.code}, audited`, () => {
      const { layer, calls } = layerOf()
      return Effect.gen(function*() {
        const token = yield* Effect.promise(c.token)
        const result = yield* call({ RoleArn: c.role, WebIdentityToken: token })
        expect([result.status, result.code]).toStrictEqual([c.status, c.code])
        expect(result.message).toMatch(c.message)
        if (c.noFetch === true) expect(calls).toHaveLength(0)
        expect(result.events).toHaveLength(1)
        expect(result.events[0]).toMatchObject({ outcome: "failure", status: c.status, errorCode: c.code })
        // Never the registered values the caller could learn from.
        expect(result.message).not.toMatch(/\.test|example\.com/)
      }).pipe(Effect.provide(layer))
    })
  }
})

describe("the bare RoleArn=_default (the Rust proxy's form)", () => {
  it.effect("a _default session of the signed-in user with no account: empty account_id, the user as principal", () => {
    const { layer } = stsLayer(config)
    return Effect.gen(function*() {
      const ok = yield* call({ RoleArn: "_default", WebIdentityToken: yield* Effect.promise(() => mint({ sub: "alice" })) })
      expect(ok.status).toBe(200)
      expect(ok.tag("Arn")).toBe("arn:aws:sts:::assumed-role/_default/s1")
      expect(ok.tag("AssumedRoleId")).toBe("_default:s1")
      const claims = yield* Effect.flatMap(SessionKeys, (keys) => keys.verify(ok.tag("SessionToken")!))
      expect(claims).toMatchObject({
        sub: "sc::::role/_default",
        account_id: "",
        role_name: "_default",
        assumed_by: "alice",
        assumed_by_issuer: IDP,
        permissions: [{ actions: ["read", "write"], resources: ["*"] }]
      })
      expect(ok.events[0]).toMatchObject({ outcome: "success", roleArn: "_default", role: "_default", idp: "source-coop" })
      expect(ok.events[0]!["account"]).toBeUndefined()
    }).pipe(Effect.provide(layer))
  })

  it.effect("an API key names its account: the bare _default does not take one", () => {
    const { layer } = stsLayer(config)
    return Effect.gen(function*() {
      const refused = yield* call({ RoleArn: "_default", WebIdentityToken: yield* Effect.promise(() => apiKey("demo", "k-bare")) })
      expect([refused.status, refused.code]).toStrictEqual([400, "InvalidIdentityToken"])
    }).pipe(Effect.provide(layer))
  })
})
