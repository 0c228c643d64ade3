import { it } from "@effect/vitest"
import { createHash, createHmac } from "node:crypto"
import * as Effect from "effect/Effect"
import * as fc from "effect/FastCheck"
import { expect } from "vitest"
import { type Bytes, Hmac } from "../../src/core/services/Hmac.js"
import { WebCryptoHmac } from "../../src/layers/WebCryptoHmac.js"
import { NodeCryptoHmac } from "../../src/platform/bun/NodeCryptoHmac.js"

/** A few key arrays used again and again, as the server key and the cached signing keys are: imported keys are hit. */
const KEYS: ReadonlyArray<Bytes> = Array.from({ length: 4 }, (_, k) => Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + k * 101) & 255))
const text = fc.string({ maxLength: 200 })
const data = fc.oneof(text, fc.uint8Array({ maxLength: 200 }).map((bytes) => new Uint8Array(bytes)))

for (const [name, live] of [["WebCrypto", WebCryptoHmac], ["node:crypto", NodeCryptoHmac]] as const) {
  it.effect.prop(
    `${name}: HMAC-SHA256 and SHA-256 agree with node:crypto, whichever key array comes back`,
    { picks: fc.array(fc.tuple(fc.nat(KEYS.length - 1), data), { minLength: 1, maxLength: 8 }) },
    ({ picks }) =>
      Effect.gen(function*() {
        const hmac = yield* Hmac
        for (const [k, message] of picks) {
          const key = KEYS[k]!
          expect(Buffer.from(yield* hmac.sha256(key, message)).toString("hex")).toBe(createHmac("sha256", key).update(message).digest("hex"))
          // The same bytes in a new array: a key is known by its bytes' array, and a copy gives the same MAC.
          expect(yield* hmac.sha256(Uint8Array.from(key), message)).toEqual(yield* hmac.sha256(key, message))
          expect(yield* hmac.sha256Hex(message)).toBe(createHash("sha256").update(message).digest("hex"))
        }
      }).pipe(Effect.provide(live))
  )
}
