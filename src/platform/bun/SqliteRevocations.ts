import { Database } from "bun:sqlite"
import { mkdirSync } from "node:fs"
import { dirname } from "node:path"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Revocations, RevocationsUnavailable } from "../../core/services/Revocations.js"

/** Opens (creating if needed) the deny-list file shared by the dev server and `bun run revoke`. */
export const openRevocationsDb = (path: string) => {
  mkdirSync(dirname(path), { recursive: true })
  const db = new Database(path, { create: true })
  db.run("PRAGMA journal_mode = WAL")
  db.run("CREATE TABLE IF NOT EXISTS revoked (jti TEXT PRIMARY KEY, until INTEGER NOT NULL)")
  return db
}

const unavailable = (cause: unknown) => new RevocationsUnavailable({ reason: String(cause) })

/** The jti deny-list under Bun: a SQLite file, so a revocation outlives restarts and reaches every process. */
export const SqliteRevocations = (path: string) =>
  Layer.sync(Revocations, () => {
    const db = openRevocationsDb(path)
    const lookup = db.query<{ until: number }, [string]>("SELECT until FROM revoked WHERE jti = ?")
    const insert = db.query("INSERT OR REPLACE INTO revoked (jti, until) VALUES (?, ?)")
    return Revocations.of({
      isRevoked: (jti) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.try({ try: () => lookup.get(jti), catch: unavailable }).pipe(
            Effect.map((row) => row !== null && row.until * 1000 > now)
          )),
      revoke: (jti, until) => Effect.try({ try: () => void insert.run(jti, until), catch: unavailable })
    })
  })
