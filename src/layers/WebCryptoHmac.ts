import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { type Bytes, Hmac } from "../core/services/Hmac.js"

const encoder = new TextEncoder()
const bytesOf = (data: string | Bytes): Bytes => (typeof data === "string" ? encoder.encode(data) : data)
const hex = (buffer: ArrayBuffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("")

/** Hmac over WebCrypto (workerd, browsers); a crypto failure here can only be a bug, so it is a defect. */
export const WebCryptoHmac = Layer.succeed(
  Hmac,
  Hmac.of({
    sha256: (key, data) =>
      Effect.promise(async () => {
        const imported = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"])
        return new Uint8Array(await crypto.subtle.sign("HMAC", imported, bytesOf(data)))
      }),
    sha256Hex: (data) => Effect.promise(async () => hex(await crypto.subtle.digest("SHA-256", bytesOf(data))))
  })
)
