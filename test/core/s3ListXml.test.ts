import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, FastCheck as fc } from "effect"
import { parseListObjects } from "../../src/core/backends/s3/listXml.js"
import { escapeXml } from "../../src/core/s3/xml.js"

/*
 * The S3 listing reader matches an entry in the shape S3 or GCS writes it by one pattern and reads any other by
 * forward searches over the whole document (one scan per tag). These properties write pages the way S3, GCS and
 * S3-compatible services may: entries in S3's and GCS's shapes (checksums, owners, generations) among entries
 * with their children in any order, ETags missing for runs of entries, elements the reader does not read,
 * prefixes between entries, the continuation elements (V2's or V1's) before or after the entries or absent,
 * behind elements whose names begin like theirs, and check that every field reads back.
 */

interface Entry {
  readonly key: string
  readonly size: number
  readonly time: number
  readonly etag: string | undefined
  readonly order: ReadonlyArray<number>
  readonly owner: boolean
  /** Children in the order S3 or GCS writes them rather than `order`. */
  readonly shape: "shuffled" | "s3" | "gcs"
  readonly checksums: string
  readonly ownerLast: boolean
}

/** Keys as users name them, markup and non-ASCII included (text XML can carry). */
const keyText = fc.string({ unit: fc.constantFrom("a", "/", " ", "&", "<", ">", "\"", "'", "é", "😀", "0", "Key", "ETag"), minLength: 1, maxLength: 12 })

const entry: fc.Arbitrary<Entry> = fc.record({
  key: keyText,
  size: fc.nat(),
  time: fc.integer({ min: 0, max: 4_102_444_800_000 }),
  etag: fc.option(fc.constantFrom("\"e1\"", "\"9b2cf535f27731c974343645a3985328-3\"", "\"a&b\"", ""), { nil: undefined }),
  order: fc.shuffledSubarray([0, 1, 2, 3, 4], { minLength: 5, maxLength: 5 }),
  owner: fc.boolean(),
  shape: fc.constantFrom("shuffled", "s3", "gcs"),
  checksums: fc.constantFrom(
    "",
    "<ChecksumAlgorithm>CRC64NVME</ChecksumAlgorithm><ChecksumType>FULL_OBJECT</ChecksumType>",
    "<ChecksumAlgorithm>CRC32</ChecksumAlgorithm><ChecksumAlgorithm>SHA1</ChecksumAlgorithm>"
  ),
  ownerLast: fc.boolean()
})

const contents = (e: Entry): string => {
  const owner = e.owner ? "<Owner><ID>x</ID><DisplayName>o</DisplayName></Owner>" : ""
  const [key, time, etag, size] = [
    `<Key>${escapeXml(e.key)}</Key>`,
    `<LastModified>${new Date(e.time).toISOString()}</LastModified>`,
    e.etag === undefined ? "" : e.etag === "" ? "<ETag/>" : `<ETag>${escapeXml(e.etag)}</ETag>`,
    `<Size>${e.size}</Size>`
  ]
  const storage = e.ownerLast ? `<StorageClass>STANDARD</StorageClass>${owner}` : `${owner}<StorageClass>STANDARD</StorageClass>`
  switch (e.shape) {
    case "s3":
      return `<Contents>${key}${time}${etag}${e.checksums}${size}${storage}</Contents>`
    case "gcs":
      return `<Contents>${key}<Generation>1712345678901234</Generation><MetaGeneration>1</MetaGeneration>${time}${etag}${size}</Contents>`
    case "shuffled": {
      const children = [key, time, etag, size, storage]
      return `<Contents>${e.order.map((i) => children[i]).join("")}</Contents>`
    }
  }
}

const page = fc.record({
  entries: fc.array(entry, { maxLength: 30 }),
  prefixes: fc.array(fc.tuple(keyText, fc.nat({ max: 30 })), { maxLength: 5 }),
  token: fc.option(fc.constantFrom("tok/1+=", "a&b", ""), { nil: undefined }),
  tokenLast: fc.boolean(),
  /** V1's `NextMarker` (GCS) rather than V2's `NextContinuationToken`. */
  marker: fc.boolean(),
  /** Elements whose names only begin like the continuation's, ahead of it: not read as it. */
  decoys: fc.boolean(),
  truncated: fc.boolean(),
  whitespace: fc.constantFrom("", "\n  ")
})

describe("parseListObjects", () => {
  it("reads back every entry, prefix and continuation, whatever the order and the optional elements", () => {
    fc.assert(fc.property(page, (p) => {
      // Prefixes go in, in their order, between the entries (interleaved, as a merged V1 listing may be).
      const positions = p.prefixes.map(([, at]) => Math.min(at, p.entries.length)).sort((a, b) => a - b)
      const body: Array<string> = []
      let next = 0
      for (let i = 0; i <= p.entries.length; i++) {
        for (; next < positions.length && positions[next] === i; next++) {
          body.push(`<CommonPrefixes><Prefix>${escapeXml(p.prefixes[next]![0])}</Prefix></CommonPrefixes>`)
        }
        const e = p.entries[i]
        if (e !== undefined) body.push(contents(e))
      }
      const name = p.marker ? "NextMarker" : "NextContinuationToken"
      const continuation = p.token === undefined ? "" : p.token === "" ? `<${name}/>` : `<${name}>${escapeXml(p.token)}</${name}>`
      const decoys = p.decoys ? "<NextMarkerHint>z</NextMarkerHint><NextContinuationTokenExpiry>z</NextContinuationTokenExpiry>" : ""
      const head = `<Name>b</Name><Prefix>x/</Prefix><IsTruncated>${p.truncated}</IsTruncated>${decoys}` + (p.tokenLast ? "" : continuation)
      const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${head}`
        + body.join(p.whitespace) + (p.tokenLast ? continuation : "") + "</ListBucketResult>"
      const parsed = Effect.runSync(Effect.either(parseListObjects(xml)))
      if (Either.isLeft(parsed)) throw new Error(parsed.left)
      expect(parsed.right.objects).toStrictEqual(p.entries.map((e) => ({
        key: e.key,
        size: e.size,
        lastModified: new Date(e.time),
        etag: e.etag ?? "\"\""
      })))
      expect(parsed.right.commonPrefixes).toStrictEqual(p.prefixes.map(([name]) => name))
      const last = [p.entries.at(-1)?.key, p.prefixes.at(-1)?.[0]].filter((k) => k !== undefined).sort().at(-1)
      expect(parsed.right.nextContinuationToken).toBe(p.truncated ? p.token ?? last : undefined)
    }), { numRuns: 400 })
  })

  it("refuses an entry whose field is missing even when the next entry has it (no read across entries)", () => {
    const good = "<Contents><Key>a</Key><LastModified>2024-01-02T03:04:05.000Z</LastModified><Size>1</Size></Contents>"
    for (const [missing, message] of [["Key", "without a Key"], ["LastModified", "no LastModified"], ["Size", "unexpected Size"]] as const) {
      const bad = good.replace(new RegExp(`<${missing}>[^<]*</${missing}>`), "")
      const parsed = Effect.runSync(Effect.either(parseListObjects(`<ListBucketResult>${bad}${good}</ListBucketResult>`)))
      expect(Either.isLeft(parsed) && parsed.left).toContain(message)
    }
    // A Key not closed within its entry is not read on into the next one.
    const open = good.replace("a</Key>", "a")
    const unclosed = Effect.runSync(Effect.either(parseListObjects(`<ListBucketResult>${open}${good}</ListBucketResult>`)))
    expect(Either.isLeft(unclosed) && unclosed.left).toContain("without a Key")
    // An unclosed entry is a body cut short, not a shorter listing.
    const cut = Effect.runSync(Effect.either(parseListObjects(`<ListBucketResult>${good}<Contents><Key>b</Key></ListBucketResult>`)))
    expect(Either.isLeft(cut) && cut.left).toContain("unclosed Contents")
  })
})
