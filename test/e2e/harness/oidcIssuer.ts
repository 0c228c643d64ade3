import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from "jose"

/** A signing key of a test OIDC issuer, with its public JWK (kid, alg, use). */
export interface TestKey {
  readonly alg: string
  readonly kid: string
  readonly privateKey: CryptoKey
  readonly jwk: JWK
}

export const makeKey = async (alg: string, kid: string): Promise<TestKey> => {
  const pair = await generateKeyPair(alg, { extractable: true, ...(alg === "RS256" ? { modulusLength: 2048 } : {}) })
  return { alg, kid, privateKey: pair.privateKey, jwk: { ...(await exportJWK(pair.publicKey)), kid, alg, use: "sig" } }
}

export interface TestIssuer {
  readonly url: string
  /** "up", or answering 503 to everything. */
  mode: "up" | "down"
  hits: number
  stop(): Promise<void>
}

/** A test OIDC issuer on 127.0.0.1: discovery (`issuer`, `jwks_uri`) and a JWKS of `keys`. */
export const startIssuer = async (keys: ReadonlyArray<TestKey>): Promise<TestIssuer> => {
  const issuer = { mode: "up" as "up" | "down", hits: 0 }
  let url = ""
  const server: Server = createServer((req, res) => {
    issuer.hits++
    const path = new URL(req.url ?? "/", "http://x").pathname
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" })
      res.end(JSON.stringify(body))
    }
    if (issuer.mode === "down") return send(503, { error: "down" })
    if (path === "/.well-known/openid-configuration") return send(200, { issuer: url, jwks_uri: `${url}/jwks` })
    if (path === "/jwks") return send(200, { keys: keys.map((k) => k.jwk) })
    send(404, {})
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return Object.assign(issuer, {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  })
}

export const nowSeconds = () => Math.floor(Date.now() / 1000)

/** A JWT signed with `key`: `iat` now and `exp` in 10 minutes unless `claims` say otherwise. */
export const signToken = (key: TestKey, claims: JWTPayload, header: Record<string, string> = {}) =>
  new SignJWT({ iat: nowSeconds(), exp: nowSeconds() + 600, ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT", ...header })
    .sign(key.privateKey)
