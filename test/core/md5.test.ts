import { createHash } from "node:crypto"
import { describe, expect, it } from "vitest"
import { contentMd5, md5 } from "../../src/core/backends/s3/md5.js"

describe("md5", () => {
  it("matches node:crypto for lengths around the block boundaries", () => {
    for (const length of [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 70_000]) {
      const data = Uint8Array.from({ length }, (_, i) => (i * 131 + 7) & 255)
      expect(Buffer.from(md5(data)).toString("hex"), String(length)).toBe(createHash("md5").update(data).digest("hex"))
      expect(contentMd5(data)).toBe(createHash("md5").update(data).digest("base64"))
    }
  })
})
