/**
 * `bun run api-key <account> [--days N]`: mints an API key (docs/decisions.md#adr-008-api-keys) for an account: a
 * JWT from the proxy's own issuer (`type: api_key`, a `jti` for revocation) that `/.sts` exchanges for session
 * credentials like any OIDC token. Uses the same keys and issuer as `bun run dev` (OIDC_PROVIDER_* or the dev key
 * file).
 */
import { importPKCS8, SignJWT } from "jose"
import { DEV_KEYS_FILE, devOrigin, ensureDevKeys } from "../devKeys.js"

const [account, ...rest] = process.argv.slice(2)
const daysAt = rest.indexOf("--days")
const days = daysAt >= 0 ? Number(rest[daysAt + 1]) : 365
if (account === undefined || account.startsWith("-") || !Number.isFinite(days) || days <= 0) {
  console.error("usage: bun run api-key <account> [--days N]")
  process.exit(2)
}

const env = process.env
await ensureDevKeys(env, devOrigin(env), env.DEV_KEYS ?? DEV_KEYS_FILE)
const issuer = (env.OIDC_PROVIDER_ISSUER ?? "").replace(/\/+$/, "")
const key = await importPKCS8(env.OIDC_PROVIDER_KEY ?? "", "RS256")
const jti = crypto.randomUUID()
const now = Math.floor(Date.now() / 1000)
const token = await new SignJWT({ type: "api_key", account_id: account })
  .setProtectedHeader({ alg: "RS256", kid: env.OIDC_PROVIDER_KID ?? "", typ: "JWT" })
  .setIssuer(issuer)
  .setSubject(account)
  .setAudience(`${issuer}/.sts`)
  .setIssuedAt(now)
  .setExpirationTime(now + Math.round(days * 86_400))
  .setJti(jti)
  .sign(key)

console.error(`API key for ${account} (jti ${jti}), valid ${days} days; revoke with: bun run revoke ${jti}`)
console.log(token)
