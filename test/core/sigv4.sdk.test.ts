import { createServer, type IncomingMessage, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { Readable } from "node:stream"
import { crc32 } from "node:zlib"
import { PutObjectCommand, S3Client, type S3ClientConfig } from "@aws-sdk/client-s3"
import { afterAll, beforeAll, expect, layer } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import type { S3Request } from "../../src/core/http/S3Request.js"
import { verifyRequest } from "../../src/core/sigv4/verify.js"
import { NodeCryptoHmac } from "../../src/platform/bun/NodeCryptoHmac.js"
import { readAll, streamOf } from "../fixtures/sigv4.js"

/** @aws-sdk/client-s3's real wire requests, captured by a local HTTP server, must verify. */

interface Captured {
  readonly method: string
  readonly url: string
  readonly rawHeaders: ReadonlyArray<string>
  readonly body: Buffer
}

let server: Server
let endpoint = ""
const captured: Array<Captured> = []

const collect = (req: IncomingMessage) =>
  new Promise<Buffer>((resolve, reject) => {
    const parts: Array<Buffer> = []
    req.on("data", (c: Buffer) => parts.push(c))
    req.on("end", () => resolve(Buffer.concat(parts)))
    req.on("error", reject)
  })

beforeAll(async () => {
  server = createServer((req, res) => {
    void collect(req).then((body) => {
      captured.push({ method: req.method!, url: req.url!, rawHeaders: req.rawHeaders, body })
      res.writeHead(200, { etag: "\"0\"", "content-length": "0" })
      res.end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

const ACCESS_KEY = "SCSTS1SDKTESTKEY0000"
const SECRET = "sdk/secret+key"
const TOKEN = "session.token.value"

const put = (config: Partial<S3ClientConfig>, key: string, body: Buffer | (() => Readable)) =>
  Effect.promise(async () => {
    const client = new S3Client({
      endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET, sessionToken: TOKEN },
      ...config
    })
    captured.length = 0
    await client.send(
      new PutObjectCommand({
        Bucket: "acct",
        Key: key,
        Body: typeof body === "function" ? body() : body,
        ContentLength: typeof body === "function" ? DATA.length : body.length
      })
    )
    client.destroy()
    const c = captured[0]!
    const headers = new Headers()
    for (let i = 0; i < c.rawHeaders.length; i += 2) headers.append(c.rawHeaders[i]!, c.rawHeaders[i + 1]!)
    const request: S3Request = {
      method: c.method,
      url: new URL(`http://${headers.get("host")}${c.url}`),
      headers,
      body: c.body.length === 0 ? null : streamOf(new Uint8Array(c.body), [1000, 17]),
      requestId: "sdk"
    }
    return request
  })

const DATA = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7) % 256))
const KEY = "prod/dir with space/hive=1/a+b ü€ ~*'()!.bin"

const verify = (request: S3Request) =>
  Effect.gen(function*() {
    const date = request.headers.get("x-amz-date")!
    const ms = Date.UTC(+date.slice(0, 4), +date.slice(4, 6) - 1, +date.slice(6, 8), +date.slice(9, 11), +date.slice(11, 13), +date.slice(13, 15))
    yield* TestClock.setTime(ms)
    return yield* verifyRequest(request, (id) => Effect.succeed(id === ACCESS_KEY ? SECRET : "x"))
  })

layer(NodeCryptoHmac)("@aws-sdk/client-s3 PutObject on the wire", (it) => {
  it.effect("default config, streamed body: aws-chunked STREAMING-UNSIGNED-PAYLOAD-TRAILER with a crc32 trailer", () =>
    Effect.gen(function*() {
      const request = yield* put({}, KEY, () => Readable.from([DATA.subarray(0, 70_000), DATA.subarray(70_000)]))
      expect(request.headers.get("x-amz-content-sha256")).toBe("STREAMING-UNSIGNED-PAYLOAD-TRAILER")
      expect(request.headers.get("content-encoding")).toContain("aws-chunked")
      expect(request.url.search).toContain("x-id=PutObject")
      const verified = yield* verify(request)
      expect(verified.sessionToken).toBe(TOKEN)
      expect(verified.decodedContentLength).toBe(DATA.length)
      const body = yield* Effect.promise(() => readAll(verified.body!))
      expect(Buffer.from(body).equals(DATA)).toBe(true)
      const crc = Buffer.alloc(4)
      crc.writeUInt32BE(crc32(DATA))
      expect(verified.trailers().get("x-amz-checksum-crc32")).toBe(crc.toString("base64"))
    }))

  it.effect("default config, Buffer body over http: a hex x-amz-content-sha256 plus an x-amz-checksum-crc32 header", () =>
    Effect.gen(function*() {
      const request = yield* put({}, KEY, DATA)
      expect(request.headers.get("x-amz-content-sha256")).toMatch(/^[0-9a-f]{64}$/)
      const verified = yield* verify(request)
      const body = yield* Effect.promise(() => readAll(verified.body!))
      expect(Buffer.from(body).equals(DATA)).toBe(true)
    }))

  it.effect("checksums only when required: a plain hex x-amz-content-sha256, body hash checked while streaming", () =>
    Effect.gen(function*() {
      const request = yield* put({ requestChecksumCalculation: "WHEN_REQUIRED" }, KEY, DATA)
      expect(request.headers.get("x-amz-content-sha256")).toMatch(/^[0-9a-f]{64}$/)
      const verified = yield* verify(request)
      expect(verified.payload._tag).toBe("Sha256")
      const body = yield* Effect.promise(() => readAll(verified.body!))
      expect(Buffer.from(body).equals(DATA)).toBe(true)
    }))
})
