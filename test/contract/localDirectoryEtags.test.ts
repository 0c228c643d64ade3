import { createHash } from "node:crypto"
import { mkdir, mkdtemp, rm, utimes, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { ObjectStore } from "../../src/core/backends/ObjectStore.js"
import { LocalDirectoryProvider } from "../../src/platform/bun/LocalDirectoryStore.js"
import { listRequest } from "../fixtures/listing.js"
import { installBunFileStandIn, localConnection } from "./bunFileStandIn.js"
import { writeRequest } from "./objectStoreWrites.contract.js"

/**
 * Local-store ETags (docs/s3-compatibility.md#uploads): an object written through the store has the MD5 of its bytes (a multipart
 * one S3's `"{md5 of the part MD5s}-{n}"`), the same in the put's answer, reads, listings and preconditions.
 * A file placed in the directory by hand has no MD5 on record: its ETag is the documented fallback, equally
 * the same everywhere.
 */

installBunFileStandIn()

const connection = localConnection

const md5 = (bytes: Uint8Array) => createHash("md5").update(bytes).digest()
const quotedMd5 = (bytes: Uint8Array) => `"${md5(bytes).toString("hex")}"`
const utf8 = (text: string) => new TextEncoder().encode(text)
const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

let base: string
let store: ObjectStore

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), "sdp-local-etags-"))
  store = await run(LocalDirectoryProvider(base)(connection))
})
afterAll(async () => {
  await rm(base, { recursive: true, force: true })
})

/** The ETag a GET, a HEAD and a listing of `key` show; they must agree. */
const etagsOf = async (key: string) => {
  const get = await run(store.read({ key, method: "GET", headers: new Headers() }))
  if (get.body instanceof ReadableStream) await get.body.cancel()
  const head = await run(store.read({ key, method: "HEAD", headers: new Headers() }))
  const listed = (await run(store.list(listRequest({ prefix: key })))).objects.find((o) => o.key === key)?.etag
  return [get.headers.get("etag"), head.headers.get("etag"), listed]
}

/** GET statuses with If-None-Match and If-Match set to `etag`. */
const conditional = async (key: string, etag: string) => {
  const status = async (headers: Record<string, string>) =>
    (await run(Effect.either(store.read({ key, method: "HEAD", headers: new Headers(headers) })))).pipe((r) =>
      r._tag === "Right" ? r.right.status : r.left._tag)
  return [await status({ "if-none-match": etag }), await status({ "if-match": etag })]
}

describe("local directory store: ETags", () => {
  it("a put's ETag is the MD5 of its bytes, everywhere, and preconditions compare against it", async () => {
    const body = utf8("hello, md5\n")
    const written = await run(store.writer!.put(writeRequest("e/put.txt", body, { "content-type": "text/plain" })))
    expect(written.etag).toBe(quotedMd5(body))
    expect(await etagsOf("e/put.txt")).toStrictEqual([written.etag, written.etag, written.etag])
    expect(await conditional("e/put.txt", written.etag)).toStrictEqual([304, 200])
    const overwrite = await run(Effect.either(store.writer!.put(writeRequest("e/put.txt", utf8("x"), { "if-match": written.etag }))))
    expect(overwrite._tag).toBe("Right")
  })

  it("an empty object's ETag is the MD5 of nothing", async () => {
    const written = await run(store.writer!.put(writeRequest("e/empty.txt", new Uint8Array(0))))
    expect(written.etag).toBe("\"d41d8cd98f00b204e9800998ecf8427e\"")
    expect(await etagsOf("e/empty.txt")).toStrictEqual([written.etag, written.etag, written.etag])
  })

  it("a copy's ETag is the MD5 of the bytes copied", async () => {
    const body = utf8("copy me\n")
    await run(store.writer!.put(writeRequest("e/src.txt", body)))
    const copied = await run(store.writer!.copy({ sourceKey: "e/src.txt", key: "e/dst.txt", headers: new Headers() }))
    expect(copied.etag).toBe(quotedMd5(body))
    expect(await etagsOf("e/dst.txt")).toStrictEqual([copied.etag, copied.etag, copied.etag])
  })

  it("a multipart object's ETag is the MD5 of its parts' MD5s, then -{parts}", async () => {
    const writer = store.writer!
    const parts = [new Uint8Array(5 * 1024 * 1024).fill(1), utf8("the last part")]
    const uploadId = await run(writer.createMultipart({ key: "e/multi.bin", headers: new Headers() }))
    const etags: Array<string> = []
    for (const [i, part] of parts.entries()) {
      etags.push((await run(writer.uploadPart({ ...writeRequest("e/multi.bin", part), uploadId, partNumber: i + 1 }))).etag)
    }
    expect(etags).toStrictEqual(parts.map(quotedMd5))
    const completed = await run(writer.completeMultipart({
      key: "e/multi.bin",
      uploadId,
      parts: etags.map((etag, i) => ({ partNumber: i + 1, etag })),
      headers: new Headers()
    }))
    const expected = `"${md5(Buffer.concat(parts.map(md5))).toString("hex")}-2"`
    expect(completed.etag).toBe(expected)
    expect(await etagsOf("e/multi.bin")).toStrictEqual([expected, expected, expected])
    expect(await conditional("e/multi.bin", expected)).toStrictEqual([304, 200])
  })

  it("a file placed by hand has the fallback ETag everywhere, and preconditions compare against it", async () => {
    await mkdir(join(base, "data/hand"), { recursive: true })
    await writeFile(join(base, "data/hand/placed.txt"), "placed by hand\n")
    const [get, head, listed] = await etagsOf("hand/placed.txt")
    expect(get).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/) // holds a `-`: clients read it as not an MD5, as for multipart
    expect([head, listed]).toStrictEqual([get, get])
    expect(await conditional("hand/placed.txt", get!)).toStrictEqual([304, 200])
  })

  it("a written file replaced by hand no longer claims its old MD5 (nor its stored headers)", async () => {
    const written = await run(store.writer!.put(writeRequest("e/replaced.txt", utf8("original"), { "content-type": "text/x-original" })))
    await writeFile(join(base, "data/e/replaced.txt"), "replaced by hand, longer")
    const later = new Date(Date.now() + 5_000)
    await utimes(join(base, "data/e/replaced.txt"), later, later)
    const [get, head, listed] = await etagsOf("e/replaced.txt")
    expect(get).not.toBe(written.etag)
    expect([head, listed]).toStrictEqual([get, get])
    const reply = await run(store.read({ key: "e/replaced.txt", method: "HEAD", headers: new Headers() }))
    expect(reply.headers.get("content-type")).not.toBe("text/x-original")
  })
})
