import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Runtime from "effect/Runtime"
import * as Schema from "effect/Schema"
import type { Reply } from "../http/Reply.js"
import { evaluatePreconditions } from "../s3/preconditions.js"
import { InvalidRange, PreconditionFailed } from "../s3/errors.js"
import { parseContentRange, resolveRange } from "../s3/range.js"
import { EdgeCache } from "../services/EdgeCache.js"
import { BoundedMap } from "../shared/boundedMap.js"
import { WaitUntil } from "../services/WaitUntil.js"
import { assemble, type ChunkSource } from "./assemble.js"
import { DEFAULT_CHUNK_SIZE, missingRuns, planChunks, type ChunkRun } from "./chunks.js"
import { joinBytes } from "../shared/bytes.js"

export const DEFAULT_META_TTL: Duration.DurationInput = "60 seconds"
/** Bounds the cached bytes a body holds before it is read and the backend requests it opens (≤ half of it). */
export const DEFAULT_MAX_CHUNKS = 4

/** What the cache knows of an object: enough to answer conditionals and to build a GET's headers. */
export interface ObjectMeta {
  /** As the backend sent it (quoted). */
  readonly etag: string
  readonly size: number
  /** The backend's HTTP date. */
  readonly lastModified: string
  /** The representation headers to answer with (content-type, cache-control, x-amz-meta-*, …). */
  readonly headers: ReadonlyArray<readonly [string, string]>
}

const ObjectMetaJson = Schema.parseJson(Schema.Struct({
  etag: Schema.String,
  size: Schema.NonNegativeInt,
  lastModified: Schema.String,
  headers: Schema.Array(Schema.Tuple(Schema.String, Schema.String))
}))
const decodeJson = Schema.decodeUnknownOption(ObjectMetaJson)

/** The last text decoded per object: a HIT whose metadata text is unchanged skips the JSON and Schema work. */
const decodedMeta = new BoundedMap<string, { readonly text: string; readonly meta: ObjectMeta }>(1_000)

const decodeMeta = (key: string, text: string): Option.Option<ObjectMeta> => {
  const last = decodedMeta.get(key)
  if (last !== undefined && last.text === text) return Option.some(last.meta)
  const decoded = decodeJson(text)
  if (Option.isSome(decoded)) decodedMeta.set(key, { text, meta: decoded.value })
  return decoded
}

export interface ReadThroughRequest<EH, RH, EF, RF> {
  /** Identifies the object (account, product, key): the cache keys are built from it. */
  readonly key: string
  /** The client's GET headers: `range` and the four preconditions are read from them. */
  readonly headers: Headers
  /** Chunks are aligned on multiples of it; part of every chunk key. Default 4 MiB. */
  readonly chunkSize?: number
  /** How long a chunk is kept. */
  readonly ttl: Duration.DurationInput
  /** How long the metadata is trusted without asking the backend again. Default 60 s. */
  readonly metaTtl?: Duration.DurationInput
  /** A range covering more chunks than this is not served from the cache. Default 4. */
  readonly maxChunks?: number
  /** An unconditional HEAD of the object (status 200 with etag, content-length and last-modified). */
  readonly head: () => Effect.Effect<Reply, EH, RH>
  /**
   * A GET of bytes start..end (inclusive) sent with `If-Match: etag`: a 206 with its body. A 412 (status or
   * PreconditionFailed), 416 or 404 means the object changed.
   */
  readonly fetchRange: (start: number, end: number, etag: string) => Effect.Effect<Reply, EF, RF>
}

/** HIT: every chunk came from the cache; MISS: none did; PARTIAL: some. Without a body: whether the metadata did. */
export type CacheStatus = "HIT" | "MISS" | "PARTIAL"

/**
 * Why the cache does not answer; the caller then does its normal read. `Changed`: the object changed under the
 * cached metadata, which has been dropped, so the read must be fresh.
 */
export type BypassReason = "Uncacheable" | "TooLarge" | "Changed"

export type ReadThroughResult =
  | { readonly _tag: "Served"; readonly cache: CacheStatus; readonly reply: Reply }
  | { readonly _tag: "Bypass"; readonly reason: BypassReason }

const bypass = (reason: BypassReason): ReadThroughResult => ({ _tag: "Bypass", reason })

export const metaKey = (key: string) => `meta:${key}`
export const chunkKey = (key: string, etag: string, chunkSize: number, index: number) =>
  `chunk:${key}:${opaque(etag)}:${chunkSize}:${index}`

const opaque = (tag: string) => tag.trim().replace(/^W\//, "").replace(/^"|"$/g, "")

/**
 * Headers of one message, not of the representation: each answer sets its own. The backend's request ids and
 * server name would name an exchange this answer did not make.
 */
const PER_MESSAGE = new Set([
  "content-length", "content-range", "date", "age", "x-cache", "accept-ranges", "etag", "last-modified",
  "connection", "keep-alive", "transfer-encoding", "server-timing", "server", "x-amz-request-id", "x-amz-id-2",
  "x-ms-request-id", "x-ms-version", "x-guploader-uploadid"
])
/** A whole-object checksum describes no range of it (S3 leaves them out of a 206). */
const isChecksum = (name: string) => name.startsWith("x-amz-checksum-")
/** What a 304 repeats of the 200 (RFC 9110 §15.4.5), besides ETag and Last-Modified. */
const NOT_MODIFIED = ["cache-control", "expires", "vary", "content-location"]

const discard = (body: Reply["body"]) =>
  body instanceof ReadableStream && !body.locked ? body.cancel().catch(() => undefined) : Promise.resolve()

/**
 * The metadata of an unconditional HEAD; undefined when the reply cannot describe a cacheable object. An encoded
 * object (Content-Encoding other than identity) is not cached: what its bytes become depends on the client's
 * Accept-Encoding and the runtime's fetch (docs/runtimes.md#where-the-shells-differ).
 */
export const metaOfHead = (reply: Reply): ObjectMeta | undefined => {
  const etag = reply.headers.get("etag")
  const length = reply.headers.get("content-length")
  const lastModified = reply.headers.get("last-modified")
  const size = length === null || !/^\d+$/.test(length.trim()) ? Number.NaN : Number(length)
  if (reply.status !== 200 || etag === null || lastModified === null || Number.isNaN(Date.parse(lastModified))) {
    return undefined
  }
  const encoding = reply.headers.get("content-encoding")?.trim().toLowerCase() ?? ""
  if (!Number.isSafeInteger(size) || (encoding !== "" && encoding !== "identity")) return undefined
  const headers: Array<readonly [string, string]> = []
  reply.headers.forEach((value, name) => {
    if (!PER_MESSAGE.has(name)) headers.push([name, value])
  })
  return { etag, size, lastModified, headers }
}

/** The cached parts in order, as one array (the part itself when there is one: it is already the client's copy). */
const concat = (sources: ReadonlyArray<ChunkSource>): Uint8Array<ArrayBuffer> => {
  const parts = sources.flatMap((source) => source._tag === "Cached" ? [source.bytes] : [])
  return parts.length === 1 && parts[0] !== undefined ? parts[0] : joinBytes(parts)
}

const isChange = (error: unknown) =>
  Predicate.isTagged(error, "PreconditionFailed") || Predicate.isTagged(error, "InvalidRange")
  || Predicate.isTagged(error, "NoSuchKey")

type Fetched = { readonly _tag: "Body"; readonly body: ReadableStream<Uint8Array> } | { readonly _tag: "Bypass"; readonly reason: BypassReason }

/**
 * A run's reply checked against the metadata: its exact bytes of the same ETag, or why it cannot be used. A
 * backend may answer a run covering the whole object with a 200.
 */
const checkRun = (reply: Reply, run: ChunkRun, meta: ObjectMeta): Fetched => {
  if (reply.status === 412 || reply.status === 416 || reply.status === 404) return { _tag: "Bypass", reason: "Changed" }
  const etag = reply.headers.get("etag")
  const range = parseContentRange(reply.headers.get("content-range"))
  const length = Number(reply.headers.get("content-length") ?? Number.NaN)
  const size = reply.status === 206 ? range?.size : reply.status === 200 ? length : undefined
  if ((etag !== null && opaque(etag) !== opaque(meta.etag)) || (size !== undefined && size !== meta.size)) {
    return { _tag: "Bypass", reason: "Changed" }
  }
  const exact = etag !== null && (reply.status === 206
    ? range?.start === run.start && range.end === run.end
    : reply.status === 200 && run.start === 0 && run.end === meta.size - 1)
  return exact && reply.body instanceof ReadableStream ? { _tag: "Body", body: reply.body } : { _tag: "Bypass", reason: "Uncacheable" }
}

/** The cached metadata, or a HEAD's (then cached); none when the HEAD cannot describe the object. */
const loadMeta = <EH, RH>(cache: EdgeCache["Type"], key: string, metaTtl: Duration.DurationInput, head: () => Effect.Effect<Reply, EH, RH>) =>
  Effect.flatMap(cache.get(metaKey(key)), (cached) => {
    const decoded = Option.flatMap(cached, (text) => decodeMeta(key, text))
    if (Option.isSome(decoded)) return Effect.succeed(Option.some({ meta: decoded.value, cached: true }))
    return Effect.gen(function*() {
      const reply = yield* head()
      yield* Effect.promise(() => discard(reply.body))
      const meta = metaOfHead(reply)
      if (meta === undefined) return Option.none()
      yield* cache.set(metaKey(key), JSON.stringify(meta), metaTtl)
      return Option.some({ meta, cached: false })
    })
  })

/**
 * A GET answered from the chunk cache (ADR-009), or Bypass when the cache cannot answer it exactly as the
 * backend would. Preconditions are evaluated on the metadata (S3's order: 412 before 304, both before the
 * range); an unsatisfiable range fails with InvalidRange. The missing chunks are fetched, one request per run of
 * consecutive chunks, and each is stored as it passes through to the client. Concurrent misses each fetch for
 * themselves: nothing here waits on another request.
 */
export const readThrough: <EH, RH, EF, RF>(
  request: ReadThroughRequest<EH, RH, EF, RF>
) => Effect.Effect<ReadThroughResult, EH | EF | InvalidRange | PreconditionFailed, EdgeCache | RH | RF> = Effect.fnUntraced(
  function*<EH, RH, EF, RF>(request: ReadThroughRequest<EH, RH, EF, RF>) {
    const cache = yield* EdgeCache
    const chunkSize = request.chunkSize ?? DEFAULT_CHUNK_SIZE
    const loaded = yield* loadMeta(cache, request.key, request.metaTtl ?? DEFAULT_META_TTL, request.head)
    if (Option.isNone(loaded)) return bypass("Uncacheable")
    const { meta, cached: metaCached } = loaded.value

    switch (evaluatePreconditions(request.headers, { etag: meta.etag, lastModified: new Date(meta.lastModified) })) {
      case "PreconditionFailed":
        return yield* new PreconditionFailed()
      case "NotModified": {
        const headers = new Headers({ etag: meta.etag, "last-modified": meta.lastModified })
        for (const [name, value] of meta.headers) if (NOT_MODIFIED.includes(name)) headers.set(name, value)
        headers.set("x-cache", metaCached ? "HIT" : "MISS")
        return { _tag: "Served", cache: metaCached ? "HIT" : "MISS", reply: { status: 304, headers, body: null } }
      }
      case "Proceed":
        break
    }

    const range = resolveRange(request.headers.get("range"), meta.size)
    if (range._tag === "Unsatisfiable") return yield* new InvalidRange({ size: meta.size })
    if (range._tag === "Full" && meta.size > chunkSize) return bypass("TooLarge")
    const plan = planChunks(meta.size, range, chunkSize)
    if (plan.slices.length > (request.maxChunks ?? DEFAULT_MAX_CHUNKS)) return bypass("TooLarge")

    const keyOf = (index: number) => chunkKey(request.key, meta.etag, chunkSize, index)
    const found = new Map<number, Uint8Array<ArrayBuffer>>()
    // Only the client's part of each chunk is read: the chunk itself stays in the cache.
    yield* Effect.forEach(plan.slices, (slice) =>
      Effect.map(cache.getBytes(keyOf(slice.index), { from: slice.from, to: slice.to, size: slice.length }), (bytes) => {
        if (Option.isSome(bytes)) found.set(slice.index, bytes.value)
      }), { concurrency: "unbounded", discard: true })
    const runs = missingRuns(plan.slices, (index) => found.has(index), chunkSize)

    const opened = yield* Effect.forEach(runs, (run) =>
      request.fetchRange(run.start, run.end, meta.etag).pipe(
        Effect.map((reply): Fetched => {
          const checked = checkRun(reply, run, meta)
          if (checked._tag === "Bypass") void discard(reply.body)
          return checked
        }),
        Effect.catchIf(isChange, (): Effect.Effect<Fetched> => Effect.succeed({ _tag: "Bypass", reason: "Changed" })),
        Effect.either
      ), { concurrency: "unbounded" })
    const bodies = opened.flatMap((outcome) => Either.isRight(outcome) && outcome.right._tag === "Body" ? [outcome.right.body] : [])
    if (bodies.length < runs.length) {
      yield* Effect.promise(() => Promise.all(bodies.map(discard)))
      const reasons = opened.flatMap((outcome) => Either.isRight(outcome) && outcome.right._tag === "Bypass" ? [outcome.right.reason] : [])
      if (reasons.includes("Changed")) {
        yield* cache.set(metaKey(request.key), "", Duration.zero)
        return bypass("Changed")
      }
      const failure = opened.find(Either.isLeft)
      if (failure !== undefined) return yield* Effect.fail(failure.left)
      return bypass("Uncacheable")
    }

    // Runs are in chunk order: a missing chunk either starts the next run or lies inside the current one.
    const sources: Array<ChunkSource> = []
    let nextRun = 0
    for (const slice of plan.slices) {
      const bytes = found.get(slice.index)
      const run = runs[nextRun]
      const body = bodies[nextRun]
      if (bytes !== undefined) sources.push({ _tag: "Cached", bytes })
      else if (run !== undefined && body !== undefined && run.slices[0] === slice) {
        sources.push({ _tag: "Backend", body, slices: run.slices })
        nextRun++
      }
    }

    // Every byte at hand: the answer is those bytes, without a stream to pull them through (nor a store to run).
    const body = runs.length === 0 ? concat(sources) : yield* Effect.gen(function*() {
      const runFork = Runtime.runFork(yield* Effect.runtime<never>())
      const ttl = request.ttl
      return assemble(sources, (index, bytes) => {
        runFork(cache.setBytes(keyOf(index), bytes, ttl))
      }, yield* WaitUntil)
    })

    const partial = range._tag === "Partial"
    const headers = new Headers()
    for (const [name, value] of meta.headers) if (!(partial && isChecksum(name))) headers.set(name, value)
    headers.set("etag", meta.etag)
    headers.set("last-modified", meta.lastModified)
    headers.set("accept-ranges", "bytes")
    const length = plan.end - plan.start + 1
    headers.set("content-length", String(length))
    if (partial) headers.set("content-range", `bytes ${plan.start}-${plan.end}/${meta.size}`)
    const status: CacheStatus = plan.slices.length === 0
      ? (metaCached ? "HIT" : "MISS")
      : found.size === plan.slices.length ? "HIT" : found.size === 0 ? "MISS" : "PARTIAL"
    headers.set("x-cache", status)
    // An empty answer has no chunk to read; a stream the proxy assembled declares its length to the runtime.
    const reply: Reply = length === 0
      ? { status: 200, headers, body: "" }
      : body instanceof ReadableStream
      ? { status: partial ? 206 : 200, headers, body, length }
      : { status: partial ? 206 : 200, headers, body }
    return { _tag: "Served", cache: status, reply }
  }
)
