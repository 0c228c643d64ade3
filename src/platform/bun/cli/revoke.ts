/**
 * `bun run revoke <jti | token> [--until <epoch seconds>]`: puts a session token or API key on the jti
 * deny-list of the local proxy (the SQLite file `bun run dev` reads, REVOCATIONS_DB). Given a whole token,
 * its own `jti` and `exp` are used. In production the list is Workers KV: see README "Revocation".
 */
import { decodeJwt } from "jose"
import { openRevocationsDb } from "../SqliteRevocations.js"
import { DEFAULT_REVOCATIONS_DB } from "../live.js"

const [subject, ...rest] = process.argv.slice(2)
if (subject === undefined || subject.startsWith("-")) {
  console.error("usage: bun run revoke <jti | token> [--until <epoch seconds>]")
  process.exit(2)
}

const untilAt = rest.indexOf("--until")
let jti = subject
let until = untilAt >= 0 ? Number(rest[untilAt + 1]) : Math.floor(Date.now() / 1000) + 400 * 86_400
if (subject.split(".").length === 3) {
  const claims = decodeJwt(subject)
  if (typeof claims.jti !== "string") {
    console.error("that token has no jti")
    process.exit(2)
  }
  jti = claims.jti
  if (untilAt < 0 && typeof claims.exp === "number") until = claims.exp
}
if (!Number.isFinite(until)) {
  console.error("--until takes epoch seconds")
  process.exit(2)
}

const path = process.env.REVOCATIONS_DB ?? DEFAULT_REVOCATIONS_DB
openRevocationsDb(path).query("INSERT OR REPLACE INTO revoked (jti, until) VALUES (?, ?)").run(jti, until)
console.error(`revoked ${jti} until ${new Date(until * 1000).toISOString()} (${path})`)
