/** Inbound SigV4 verification (header and presigned auth, aws-chunked bodies). See verify.ts. */
export { authenticationOf, type SecretLookup, type SecretLookupContext, type VerifiedRequest, verifyRequest,
  type VerifyOptions } from "./verify.js"
export { defaultSigningKeyCache, SigningKeyCache } from "./signingKey.js"
export { isSigV4BodyError } from "./errors.js"
export type { SigV4BodyError, SigV4Error } from "./errors.js"
export type { PayloadMode } from "./payload.js"
