import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"

export type Bytes = Uint8Array<ArrayBuffer>

/**
 * HMAC-SHA256 and SHA-256, provided per platform: `node:crypto` under Bun is an order of magnitude faster
 * than WebCrypto (docs/runtimes.md#where-the-shells-differ); workerd has WebCrypto only.
 */
export class Hmac extends Context.Tag("sdp/Hmac")<Hmac, {
  readonly sha256: (key: Bytes, data: string | Bytes) => Effect.Effect<Bytes>
  readonly sha256Hex: (data: string | Bytes) => Effect.Effect<string>
}>() {}
