import type { SessionClaims } from "../session/SessionClaims.js"

/**
 * Who is asking. A session carries its verified token claims: the account, the Role (ceiling), who
 * assumed it and the session name, which the authorizer and the Source API calls use.
 */
export type Identity =
  | { readonly _tag: "Anonymous" }
  | { readonly _tag: "Session"; readonly claims: SessionClaims }

export const anonymous: Identity = { _tag: "Anonymous" }
