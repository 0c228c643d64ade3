import { createHash, createHmac } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Hmac } from "../../core/services/Hmac.js"

/**
 * Hmac over node:crypto: synchronous, ~15× cheaper than WebCrypto under Bun
 * (docs/runtimes.md#where-the-shells-differ).
 */
export const NodeCryptoHmac = Layer.succeed(
  Hmac,
  Hmac.of({
    sha256: (key, data) => Effect.sync(() => new Uint8Array(createHmac("sha256", key).update(data).digest())),
    sha256Hex: (data) => Effect.sync(() => createHash("sha256").update(data).digest("hex"))
  })
)
