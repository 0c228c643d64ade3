import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { AccessDenied, BackendAuthenticationFailed, BackendUnavailable } from "../../s3/errors.js"

export interface AwsCredentials {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken?: string | undefined
}

export type FederationError = BackendAuthenticationFailed | AccessDenied | BackendUnavailable

/**
 * Outbound federation (docs/backends.md#outbound-federation): temporary AWS credentials for a data connection's
 * role, obtained with the proxy's own OIDC assertion (`sub` = `scv1:conn:{id}`), never with a stored secret.
 */
export class Federation extends Context.Tag("sdp/Federation")<Federation, {
  readonly credentials: (request: {
    readonly roleArn: string
    readonly subject: string
    readonly audience: string
  }) => Effect.Effect<AwsCredentials, FederationError>
}>() {}
