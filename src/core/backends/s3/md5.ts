/*
 * MD5 (RFC 1321) of a small buffer, for the `Content-MD5` S3 requires on DeleteObjects. WebCrypto has no
 * MD5 outside workerd, and src/core runs on both runtimes; only proxy-built XML bodies go through here.
 */

const S = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21]
const K = Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) >>> 0)

/** The 16-byte MD5 digest of `data`. */
export const md5 = (data: Uint8Array): Uint8Array => {
  const length = data.length
  const padded = new Uint8Array(((length + 8) >> 6) * 64 + 64)
  padded.set(data)
  padded[length] = 0x80
  const view = new DataView(padded.buffer)
  view.setUint32(padded.length - 8, (length * 8) >>> 0, true)
  view.setUint32(padded.length - 4, Math.floor(length / 0x20000000), true)
  let a0 = 0x67452301, b0 = 0xefcdab89, c0 = 0x98badcfe, d0 = 0x10325476
  const m = new Uint32Array(16)
  for (let block = 0; block < padded.length; block += 64) {
    for (let j = 0; j < 16; j++) m[j] = view.getUint32(block + j * 4, true)
    let a = a0, b = b0, c = c0, d = d0
    for (let i = 0; i < 64; i++) {
      let f: number, g: number
      if (i < 16) {
        f = (b & c) | (~b & d)
        g = i
      } else if (i < 32) {
        f = (d & b) | (~d & c)
        g = (5 * i + 1) % 16
      } else if (i < 48) {
        f = b ^ c ^ d
        g = (3 * i + 5) % 16
      } else {
        f = c ^ (b | ~d)
        g = (7 * i) % 16
      }
      const next = d
      d = c
      c = b
      const sum = (a + f + K[i]! + m[g]!) >>> 0
      const shift = S[(i >> 4) * 4 + (i % 4)]!
      b = (b + ((sum << shift) | (sum >>> (32 - shift)))) >>> 0
      a = next
    }
    a0 = (a0 + a) >>> 0
    b0 = (b0 + b) >>> 0
    c0 = (c0 + c) >>> 0
    d0 = (d0 + d) >>> 0
  }
  const out = new Uint8Array(16)
  const outView = new DataView(out.buffer)
  ;[a0, b0, c0, d0].forEach((word, i) => outView.setUint32(i * 4, word, true))
  return out
}

/** Base64 of the MD5 of `data`, as `Content-MD5` carries it. */
export const contentMd5 = (data: Uint8Array): string => btoa(String.fromCharCode(...md5(data)))
