import { Duration, Effect, Layer } from "effect"
import { Federation } from "../../src/core/backends/s3/Federation.js"
import { BackendAuthenticationFailed } from "../../src/core/s3/errors.js"
import { AppConfig } from "../../src/core/services/AppConfig.js"
import { FetchUpstream } from "../../src/layers/FetchUpstream.js"
import { NodeCryptoHmac } from "../../src/platform/bun/NodeCryptoHmac.js"
import { settings } from "../fixtures/stubUpstream.js"

/**
 * What a store under the conformance suites runs on: real HTTP (Node's fetch), node:crypto HMAC, a 10 s
 * backend timeout; federation is never reached (no role auth in these suites).
 */
export const liveStoreLayer = Layer.mergeAll(
  FetchUpstream({ supportsCacheOption: false, keepEncodedBodies: false }),
  NodeCryptoHmac,
  Layer.succeed(AppConfig, { ...settings, backendTimeout: Duration.seconds(10) }),
  Layer.succeed(Federation, Federation.of({ credentials: () => Effect.fail(new BackendAuthenticationFailed({ code: "NoFederationInTests" })) }))
)
