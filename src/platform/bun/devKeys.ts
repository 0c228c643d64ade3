import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { exportPKCS8, generateKeyPair } from "jose"


/**
 * The origin `bun run dev` serves and names as its issuer with the same `HOST`/`PORT`, so the dev CLIs
 * (`bun run api-key`, `bun run login`) mint tokens for the server they will be used with.
 */
export const devOrigin = (env: Record<string, string | undefined>, port?: number): string => {
  const host = env.HOST ?? "127.0.0.1"
  return `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port ?? Number(env.PORT ?? 8787)}`
}

/** Where `bun run dev` keeps its generated keys (git-ignored). */
export const DEV_KEYS_FILE = resolve(import.meta.dir, "../../../.dev/keys.json")

/** The settings that must hold keys; under Bun, any that are unset are filled from the dev key file. */
const KEYED = ["OIDC_PROVIDER_KEY", "SESSION_SIGNING_KEY", "SESSION_TOKEN_KEY"] as const

interface DevKeys {
  readonly OIDC_PROVIDER_KEY: string
  readonly SESSION_SIGNING_KEY: string
  readonly SESSION_TOKEN_KEY: string
}

const generate = async (): Promise<DevKeys> => {
  const rsa = await generateKeyPair("RS256", { modulusLength: 2048, extractable: true })
  const ec = await generateKeyPair("ES256", { extractable: true })
  return {
    OIDC_PROVIDER_KEY: await exportPKCS8(rsa.privateKey),
    SESSION_SIGNING_KEY: await exportPKCS8(ec.privateKey),
    SESSION_TOKEN_KEY: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")
  }
}

const read = (path: string): DevKeys | undefined => {
  try {
    const parsed = JSON.parse(readFileSync(path, "utf8")) as Partial<DevKeys>
    return KEYED.every((name) => typeof parsed[name] === "string") ? (parsed as DevKeys) : undefined
  } catch {
    return undefined // no file yet, or unreadable: a new one is written
  }
}

/**
 * `bun run dev` must work from a fresh clone: keys that are not configured come from a local, git-ignored key
 * file, generated on first use and reused after (so API keys minted by `bun run api-key` stay valid across
 * restarts). Production never does this (docs/runtimes.md#configuration): Workers refuses to serve without its
 * keys.
 */
export const ensureDevKeys = async (env: Record<string, string | undefined>, origin: string, file: string) => {
  const missing = KEYED.filter((name) => (env[name] ?? "").trim() === "")
  if (missing.length === 0) return
  let keys = read(file)
  if (keys === undefined) {
    keys = await generate()
    mkdirSync(dirname(file), { recursive: true })
    writeFileSync(file, JSON.stringify(keys, null, 2), { mode: 0o600 })
  }
  for (const name of missing) env[name] = keys[name]
  env.OIDC_PROVIDER_KID ||= "dev-1"
  env.SESSION_SIGNING_KID ||= "dev-session-1"
  env.OIDC_PROVIDER_ISSUER ||= origin
  console.warn(`${missing.join(", ")} not set: using development keys from ${file} (never use these in production)`)
}
