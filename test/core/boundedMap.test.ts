import { describe, expect, it } from "@effect/vitest"
import { AwsV4Signer } from "aws4fetch"
import { FastCheck as fc } from "effect"
import { BoundedMap } from "../../src/core/shared/boundedMap.js"

type Op = { readonly set: number } | { readonly get: number }

describe("BoundedMap", () => {
  const ops = fc.array(
    fc.oneof(fc.integer({ min: 0, max: 40 }).map((set): Op => ({ set })), fc.integer({ min: 0, max: 40 }).map((get): Op => ({ get }))),
    { maxLength: 200 }
  )

  it.prop("never holds more than its bound, and keeps what was used last (a least-recently-used model)", [fc.integer({ min: 1, max: 12 }), ops], ([bound, script]) => {
    const map = new BoundedMap<number, string>(bound)
    let model: Array<number> = [] // least recently used first
    const touch = (key: number) => (model = [...model.filter((k) => k !== key), key])
    for (const op of script) {
      if ("set" in op) {
        map.set(op.set, `v${op.set}`)
        touch(op.set)
        model = model.slice(Math.max(0, model.length - bound))
      } else {
        const expected = model.includes(op.get) ? `v${op.get}` : undefined
        expect(map.get(op.get)).toBe(expected)
        if (expected !== undefined) touch(op.get)
      }
      expect(map.size).toBeLessThanOrEqual(bound)
      expect([...map.keys()]).toStrictEqual(model)
    }
  })

  it("bounds aws4fetch's signing-key cache, one key per secret", async () => {
    const cache = new BoundedMap<string, ArrayBuffer>(8)
    for (let i = 0; i < 50; i++) {
      const signer = new AwsV4Signer({
        url: "https://s3.eu-west-1.amazonaws.com/bucket/key",
        accessKeyId: "ASIA",
        secretAccessKey: `federated-secret-${i}`,
        service: "s3",
        region: "eu-west-1",
        cache,
        datetime: "20240102T030405Z"
      })
      await signer.sign()
      expect(cache.size).toBeLessThanOrEqual(8)
    }
    expect(cache.size).toBe(8)
  })
})
