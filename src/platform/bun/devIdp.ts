import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { exportJWK, exportPKCS8, generateKeyPair, importPKCS8, type JWK, SignJWT } from "jose"

/**
 * `bun run dev`'s stand-in for the Source Cooperative login: an OIDC issuer served by the dev server itself,
 * so the embedded catalog's users can sign in (`bun run login <user>`) and exchange the token at `/.sts` as
 * production users do with `AUTH_ISSUER`. Only under the embedded default and only when `AUTH_ISSUER` is
 * unset; its key lives in the git-ignored `.dev/`, like the other development keys.
 */

export const DEV_IDP_FILE = resolve(import.meta.dir, "../../../.dev/idp.json")
export const DEV_IDP_PATH = "/.dev-idp"
export const DEV_IDP_AUDIENCE = "source-data-proxy-dev"
const KID = "dev-idp-1"

export interface DevIdp {
  readonly issuer: string
  readonly audience: string
  /** Discovery and JWKS of the issuer; undefined for any other path. */
  readonly answer: (request: Request) => Response | undefined
  /** An identity token for `user`, as the real login would hand out. */
  readonly login: (user: string, hours: number) => Promise<string>
}

const keyOf = async (file: string): Promise<string> => {
  try {
    const stored = JSON.parse(readFileSync(file, "utf8")) as { key?: unknown }
    if (typeof stored.key === "string") return stored.key
  } catch {
    // no file yet, or unreadable: a new key is written
  }
  const pair = await generateKeyPair("RS256", { modulusLength: 2048, extractable: true })
  const key = await exportPKCS8(pair.privateKey)
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, JSON.stringify({ key }, null, 2), { mode: 0o600 })
  return key
}

/** The dev IdP of the dev server at `origin`, its key read from (or first written to) `file`. */
export const devIdp = async (origin: string, file: string): Promise<DevIdp> => {
  const issuer = `${origin}${DEV_IDP_PATH}`
  const privateKey = await importPKCS8(await keyOf(file), "RS256", { extractable: true })
  const publicJwk: JWK = { ...(await exportJWK(privateKey)), kid: KID, alg: "RS256", use: "sig" }
  for (const member of ["d", "p", "q", "dp", "dq", "qi"]) delete publicJwk[member as keyof JWK]
  const discovery = JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks.json`, id_token_signing_alg_values_supported: ["RS256"] })
  const jwks = JSON.stringify({ keys: [publicJwk] })
  const documents = new Map([
    [`${DEV_IDP_PATH}/.well-known/openid-configuration`, discovery],
    [`${DEV_IDP_PATH}/jwks.json`, jwks]
  ])
  return {
    issuer,
    audience: DEV_IDP_AUDIENCE,
    answer: (request) => {
      const document = request.method === "GET" ? documents.get(new URL(request.url).pathname) : undefined
      return document === undefined ? undefined : new Response(document, { headers: { "content-type": "application/json" } })
    },
    login: (user, hours) => {
      const now = Math.floor(Date.now() / 1000)
      return new SignJWT({ email: `${user}@example.com` })
        .setProtectedHeader({ alg: "RS256", kid: KID, typ: "JWT" })
        .setIssuer(issuer)
        .setSubject(user)
        .setAudience(DEV_IDP_AUDIENCE)
        .setIssuedAt(now)
        .setExpirationTime(now + Math.round(hours * 3600))
        .sign(privateKey)
    }
  }
}
