import { exportPKCS8, generateKeyPair } from "jose"

/**
 * `bun run dev` must work from a fresh clone: when no OIDC provider key is configured, one is generated for
 * this process (and the issuer defaults to the local origin). Production never does this (TARGET §1).
 */
export const ensureDevOidcKey = async (env: Record<string, string | undefined>, origin: string) => {
  if ((env.OIDC_PROVIDER_KEY ?? "").trim() !== "") return
  const { privateKey } = await generateKeyPair("RS256", { modulusLength: 2048, extractable: true })
  env.OIDC_PROVIDER_KEY = await exportPKCS8(privateKey)
  env.OIDC_PROVIDER_KID ||= "dev-1"
  env.OIDC_PROVIDER_ISSUER ||= origin
  console.warn(
    `OIDC_PROVIDER_KEY is not set: generated a throwaway RSA key (kid ${env.OIDC_PROVIDER_KID}) for this process only`
  )
}
