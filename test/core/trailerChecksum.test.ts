import { createHash } from "node:crypto"
import { describe, expect, it } from "vitest"
import { type ChecksumOutcome, verifyTrailingChecksum } from "../../src/core/operations/trailerChecksum.js"

const encoder = new TextEncoder()
const hexToBase64 = (hex: string) => Buffer.from(hex, "hex").toString("base64")

/** A body delivered in the given pieces. */
const bodyOf = (...pieces: ReadonlyArray<string>) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      for (const piece of pieces) controller.enqueue(encoder.encode(piece))
      controller.close()
    }
  })

/** Reads the verified stream, recording each chunk handed on before the end or the failure. */
const drain = async (stream: ReadableStream<Uint8Array>) => {
  const seen: Array<string> = []
  const reader = stream.getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return { seen, failed: false }
      seen.push(new TextDecoder().decode(value))
    }
  } catch {
    return { seen, failed: true }
  }
}

const check = (pieces: ReadonlyArray<string>, trailer: string | null, trailerValue: string | undefined) => {
  const outcome: ChecksumOutcome = { mismatch: undefined }
  const trailers = () => new Map(trailer !== null && trailerValue !== undefined ? [[trailer, trailerValue]] : [])
  return { outcome, stream: verifyTrailingChecksum(bodyOf(...pieces), trailer, trailers, outcome) }
}

describe("trailing checksums (aws-chunked x-amz-trailer), checked by the proxy", () => {
  it.each([
    ["x-amz-checksum-crc32", hexToBase64("cbf43926")],
    ["x-amz-checksum-crc32c", hexToBase64("e3069283")],
    ["x-amz-checksum-sha256", createHash("sha256").update("123456789").digest("base64")]
  ])("%s of the standard check input verifies, and every byte is handed on", async (name, value) => {
    const { outcome, stream } = check(["1234", "56789"], name, value)
    expect(await drain(stream)).toEqual({ seen: ["1234", "56789"], failed: false })
    expect(outcome.mismatch).toBeUndefined()
  })

  it("a mismatch fails the stream before its last chunk is handed on, and names the algorithm", async () => {
    const { outcome, stream } = check(["1234", "56789"], "X-Amz-Checksum-CRC32", hexToBase64("00000000"))
    expect(await drain(stream)).toEqual({ seen: ["1234"], failed: true })
    expect(outcome.mismatch).toBe("x-amz-checksum-crc32")
  })

  it("without a trailer, or with an algorithm the proxy cannot compute, the body passes unchanged", async () => {
    for (const trailer of [null, "x-amz-checksum-sha1", "x-amz-checksum-crc64nvme"]) {
      const { outcome, stream } = check(["ab", "c"], trailer, "whatever")
      expect(await drain(stream)).toEqual({ seen: ["ab", "c"], failed: false })
      expect(outcome.mismatch).toBeUndefined()
    }
  })
})
