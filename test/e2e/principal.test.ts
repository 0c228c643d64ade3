import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client, type S3ServiceException } from "@aws-sdk/client-s3"
import { decodeJwt } from "jose"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startMoto, type RunningMoto } from "./harness/moto.js"
import { motoClient, readFromMoto, seedBucket } from "./harness/s3.js"
import { type ApiRoute, type RecordedRequest, type RunningSourceApi, startSourceApi } from "./harness/sourceApi.js"
import { type SessionCredentials, startStsProxy, type StsProxy } from "./harness/sts.js"

/**
 * Whose rights a session carries (docs/catalog.md#whose-rights-a-lookup-carries): the proxy→API JWT's `sub` is the
 * session's principal. A `_default` session is the user who signed in, whatever account its RoleArn names (anyone
 * can name any account); a session of an account's own Role is that account. Two users, two accounts, and a Source
 * API stand-in that answers as the real one does: by the bearer's `sub`.
 */

const AUDIENCE = "e2e-principal.source.coop"
const BUCKET = "e2e-principal-data"
const CONNECTION = "conn-principal"
const ACCOUNTS = ["acme", "globex"] as const
/** Who may do what: each account on its own products, alice as a member of acme, bob of globex. */
const MEMBERS: Record<string, string> = { alice: "acme", bob: "globex" }

const ORIGINALS: Record<string, string> = {
  "acme/open/keep.txt": "acme keeps this",
  "acme/vault/secret.txt": "acme's secret",
  "globex/open/keep.txt": "globex keeps this",
  "globex/vault/secret.txt": "globex's secret"
}

const product = (account: string, productId: "open" | "vault") => ({
  product_id: productId,
  account_id: account,
  title: `${account} ${productId}`,
  visibility: productId === "open" ? "public" : "restricted",
  disabled: false,
  data_mode: "open",
  metadata: { primary_mirror: "main", mirrors: { main: { connection_id: CONNECTION, prefix: `${account}/${productId}/` } } }
})

/** The bearer's `sub`, or undefined for an anonymous call (the stand-in trusts the proxy's signature here). */
const subjectOf = (request: RecordedRequest): string | undefined => {
  const header = request.headers.authorization
  if (header === undefined || !header.startsWith("Bearer ")) return undefined
  const sub = decodeJwt(header.slice("Bearer ".length)).sub
  return typeof sub === "string" ? sub : undefined
}

const mayAct = (subject: string | undefined, account: string) =>
  subject !== undefined && (subject === account || MEMBERS[subject] === account)

let moto: RunningMoto
let api: RunningSourceApi
let sts: StsProxy

const clientOf = (creds: SessionCredentials) =>
  new S3Client({ endpoint: sts.proxy.url, region: "us-east-1", forcePathStyle: true, credentials: creds, maxAttempts: 1 })

const statusOf = async (promise: Promise<unknown>): Promise<number> => {
  try {
    await promise
    return 200
  } catch (e) {
    return (e as S3ServiceException).$metadata?.httpStatusCode ?? 0
  }
}

const inMoto = async (key: string): Promise<string | undefined> => {
  const s3 = motoClient(moto.endpoint)
  try {
    return Buffer.from(await readFromMoto(s3, BUCKET, key)).toString()
  } catch (e) {
    if ((e as S3ServiceException).$metadata?.httpStatusCode === 404) return undefined
    throw e
  } finally {
    s3.destroy()
  }
}

/** The claims of the bearers the Source API received since `from` for `path`. */
const bearersSince = (from: number, path: string) =>
  api.requests.slice(from).filter((r) => r.path === path && r.headers.authorization !== undefined)
    .map((r) => decodeJwt(r.headers.authorization!.slice("Bearer ".length)))

beforeAll(async () => {
  moto = await startMoto()
  const s3 = motoClient(moto.endpoint)
  await seedBucket(s3, BUCKET, ORIGINALS, false)
  s3.destroy()
  const routes: Record<string, ApiRoute> = {
    [`/api/v1/data-connections/${CONNECTION}`]: {
      body: {
        data_connection_id: CONNECTION,
        read_only: false,
        name: CONNECTION,
        details: { provider: "s3", region: "us-east-1", base_prefix: "", bucket: BUCKET, endpoint: moto.endpoint },
        authentication: { type: "s3_access_key", access_key_id: "testing", secret_access_key: "testing" }
      }
    },
    "/api/v1/accounts/acme/roles/publisher": {
      body: {
        name: "publisher",
        max_session_duration: 3600,
        identity_constraints: [{
          idp: "source-coop",
          audience: AUDIENCE,
          claim_constraints: [{ claim: "sub", operator: "equals", value: "ci-bot" }]
        }],
        permissions: [{ actions: ["read", "write"], resources: ["sc::acme::product/open/*"] }]
      }
    }
  }
  for (const account of ACCOUNTS) {
    const open = product(account, "open")
    const vault = product(account, "vault")
    routes[`/api/v1/products/${account}`] = { body: { products: [open] } }
    routes[`/api/v1/products/${account}/open`] = { body: open }
    // As the Source API: a restricted product is hidden from anonymous callers, refused to principals without rights.
    routes[`/api/v1/products/${account}/vault`] = (_call, request) => {
      const subject = subjectOf(request)
      if (subject === undefined) return { status: 404, body: {} }
      return mayAct(subject, account) ? { body: vault } : { status: 403, body: {} }
    }
    for (const id of ["open", "vault"]) {
      routes[`/api/v1/products/${account}/${id}/permissions`] = (_call, request) => {
        const subject = subjectOf(request)
        if (subject === undefined) return { status: 401, body: {} }
        return { body: mayAct(subject, account) ? ["read", "write"] : [] }
      }
    }
  }
  api = await startSourceApi(routes)
  sts = await startStsProxy({ sourceApiUrl: api.url, audience: AUDIENCE, name: "principal" })
})

afterAll(async () => {
  await sts?.stop()
  await api?.stop()
  await moto?.stop()
})

describe("the principal of a session decides its rights", () => {
  it("alice (a member of acme) on acme's _default: reads the restricted product, writes; the API saw sub = alice", async () => {
    const from = api.requests.length
    const client = clientOf(await sts.assume("arn:aws:iam::acme:role/_default", "alice", "alice"))
    const got = await client.send(new GetObjectCommand({ Bucket: "acme", Key: "vault/secret.txt" }))
    expect(await got.Body!.transformToString()).toBe("acme's secret")
    await client.send(new PutObjectCommand({ Bucket: "acme", Key: "open/from-alice.txt", Body: "alice was here" }))
    expect(await inMoto("acme/open/from-alice.txt")).toBe("alice was here")
    const claims = bearersSince(from, "/api/v1/products/acme/open/permissions")
    expect(claims.length).toBeGreaterThan(0)
    for (const c of claims) {
      expect(c).toMatchObject({ sub: "alice", account_id: "acme", role: "_default", assumed_by: "alice" })
      expect(c["assumed_by_issuer"]).toBe(sts.issuer.url)
    }
    client.destroy()
  })

  it("bob (not a member) naming acme's _default gets a session, but as bob: no restricted read, no write, nothing changed", async () => {
    const from = api.requests.length
    const client = clientOf(await sts.assume("arn:aws:iam::acme:role/_default", "bob", "bob"))
    // Asked right after alice's allowed calls: a cache keyed by account would hand bob alice's answers.
    expect(await statusOf(client.send(new GetObjectCommand({ Bucket: "acme", Key: "vault/secret.txt" })))).toBe(403)
    expect(await statusOf(client.send(new PutObjectCommand({ Bucket: "acme", Key: "open/from-bob.txt", Body: "bob" })))).toBe(403)
    expect(await statusOf(client.send(new PutObjectCommand({ Bucket: "acme", Key: "open/keep.txt", Body: "overwritten" })))).toBe(403)
    expect(await statusOf(client.send(new DeleteObjectCommand({ Bucket: "acme", Key: "open/keep.txt" })))).toBe(403)
    expect(await inMoto("acme/open/from-bob.txt")).toBeUndefined()
    expect(await inMoto("acme/open/keep.txt")).toBe("acme keeps this")
    // The public product stays readable, as for anyone.
    const open = await client.send(new GetObjectCommand({ Bucket: "acme", Key: "open/keep.txt" }))
    expect(await open.Body!.transformToString()).toBe("acme keeps this")
    const claims = bearersSince(from, "/api/v1/products/acme/open/permissions")
    expect(claims.length).toBeGreaterThan(0)
    for (const c of claims) expect(c).toMatchObject({ sub: "bob", account_id: "acme", role: "_default", assumed_by: "bob" })
    client.destroy()
  })

  it("bob on globex's _default (his own account's members) reads and writes there; alice cannot", async () => {
    const bob = clientOf(await sts.assume("arn:aws:iam::globex:role/_default", "bob", "bob"))
    const got = await bob.send(new GetObjectCommand({ Bucket: "globex", Key: "vault/secret.txt" }))
    expect(await got.Body!.transformToString()).toBe("globex's secret")
    await bob.send(new PutObjectCommand({ Bucket: "globex", Key: "open/from-bob.txt", Body: "bob at globex" }))
    expect(await inMoto("globex/open/from-bob.txt")).toBe("bob at globex")
    const alice = clientOf(await sts.assume("arn:aws:iam::globex:role/_default", "alice", "alice"))
    expect(await statusOf(alice.send(new GetObjectCommand({ Bucket: "globex", Key: "vault/secret.txt" })))).toBe(403)
    expect(await statusOf(alice.send(new PutObjectCommand({ Bucket: "globex", Key: "open/keep.txt", Body: "x" })))).toBe(403)
    expect(await inMoto("globex/open/keep.txt")).toBe("globex keeps this")
    bob.destroy()
    alice.destroy()
  })

  it("a session of acme's own Role carries acme's rights (sub = acme), within the Role's ceiling", async () => {
    const from = api.requests.length
    const client = clientOf(await sts.assume("sc::acme::role/publisher", "ci", "ci-bot"))
    await client.send(new PutObjectCommand({ Bucket: "acme", Key: "open/from-ci.txt", Body: "published" }))
    expect(await inMoto("acme/open/from-ci.txt")).toBe("published")
    // The ceiling still binds: the restricted product is outside it.
    expect(await statusOf(client.send(new GetObjectCommand({ Bucket: "acme", Key: "vault/secret.txt" })))).toBe(403)
    const claims = bearersSince(from, "/api/v1/products/acme/open/permissions")
    expect(claims.length).toBeGreaterThan(0)
    for (const c of claims) expect(c).toMatchObject({ sub: "acme", account_id: "acme", role: "publisher", assumed_by: "ci-bot" })
    client.destroy()
  })
})
