import type { PublicJwk } from "../services/OidcProvider.js"

/** `/.well-known/openid-configuration`, keys in the order the Rust proxy writes them. */
export const discoveryDocument = (issuer: string): string =>
  JSON.stringify({
    id_token_signing_alg_values_supported: ["RS256"],
    issuer,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    response_types_supported: ["id_token"],
    subject_types_supported: ["public"]
  })

export const jwksDocument = (keys: ReadonlyArray<PublicJwk>): string => JSON.stringify({ keys })
