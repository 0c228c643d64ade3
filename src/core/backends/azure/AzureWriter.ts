import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import {
  AccessDenied,
  type BackendInvalidResponse,
  BackendUnavailable,
  EntityTooSmall,
  InvalidPart,
  InvalidRequest,
  NoSuchKey,
  NoSuchUpload,
  PreconditionFailed
} from "../../s3/errors.js"
import { compareUtf8 } from "../../routing/keys.js"
import type { UpstreamRequest } from "../../services/Upstream.js"
import { discard, documentText } from "../answer.js"
import { encodeKey } from "../keys.js"
import type {
  CompletedPart,
  DeleteOutcome,
  ListedPart,
  ListedUpload,
  ObjectWrite,
  ObjectWriter,
  WriteError,
  Written
} from "../ObjectStore.js"
import { blocks, decodeText } from "../xmlScan.js"
import { BATCH_MAX, batchBody, boundaryOf, parseBatchResponse, type Subrequest } from "./blobBatch.js"
import { parseEnumerationResults } from "./listXml.js"
import { azureMetadataName } from "./metadata.js"

/**
 * S3 writes on Azure Blob Storage (block blobs), for connections that sign (SharedKey or SAS).
 *
 * - PutObject → Put Blob, the body streamed with its Content-Length (Azure refuses chunked uploads, so a
 *   body of unknown length is refused: InvalidRequest "Content-Length required"; S3 requires the length as
 *   well). Content headers become `x-ms-blob-content-*`, `x-amz-meta-*` becomes `x-ms-meta-*` (names
 *   escaped, `metadata.ts`); `expires` has no Azure counterpart and is not stored. `if-match` /
 *   `if-none-match` are forwarded. `content-md5` (when the core passes it) is forwarded as Content-MD5,
 *   which Azure verifies; `x-amz-checksum-*` (CRC32, CRC32C, CRC64NVME, SHA-1, SHA-256) are NOT forwarded
 *   nor verified nor echoed: Azure checks none of them (its CRC64 is another polynomial).
 * - Any Put Blob or Put Block List on a key discards Azure's uncommitted blocks for that blob, so a plain
 *   put, or the completion of another multipart upload of the same key, ends an upload in flight (its
 *   complete then answers InvalidPart or NoSuchUpload). S3 keeps concurrent uploads of one key apart.
 * - DeleteObject → Delete Blob (snapshots included, or Azure refuses); 404 is success. DeleteObjects → Blob
 *   Batch (`blobBatch.ts`), one request per 256 keys, each key a Delete Blob subrequest signed on its own;
 *   outcomes in key order, a batch Azure refuses as a whole answers an error for each of its keys.
 * - CopyObject → Copy Blob from the same container (a SAS connection puts its SAS on the source URL); a copy
 *   Azure runs asynchronously is polled for up to 10 s. `x-amz-metadata-directive: REPLACE` then sets the
 *   new metadata and content headers (Set Blob Metadata, Set Blob Properties).
 * - Multipart: see `createMultipart` below (upload ids, block ids, part ETags, abort). ListParts,
 *   ListMultipartUploads and UploadPartCopy read the blob's uncommitted block list (`listParts`,
 *   `listUploads`, `uploadPartCopy` below: their limits are documented there).
 */

/** Sends one signed request; `headers` carry content-length (and content-type) when there is a body. */
export type AzureSend = (
  method: string,
  url: string,
  headers: Headers,
  body?: UpstreamRequest["body"]
) => Effect.Effect<Response, BackendUnavailable | BackendInvalidResponse>

export interface AzureWriterOptions {
  /** The container URL (no trailing slash). */
  readonly base: string
  /** A SAS connection's query, put on copy-source URLs; undefined with SharedKey (same account, same key). */
  readonly sourceQuery: string | undefined
  readonly send: AzureSend
  /** Signs a Blob Batch subrequest in place (no x-ms-version: the batch's applies); the URL to put in it. */
  readonly authorize: (method: string, url: string, headers: Headers) => Effect.Effect<string>
  /**
   * A source URL Put Block From URL can read, for connections whose source needs its own authorization
   * (SharedKey: a short-lived service SAS); undefined to use the blob URL with `sourceQuery`.
   */
  readonly sourceUrl?: ((key: string) => Effect.Effect<string>) | undefined
}

const MiB = 1024 * 1024
/** Put Blob's largest body (API 2019-12-12 and later). */
const MAX_PUT_BLOB = 5000 * MiB
/** Put Block's largest block (API 2019-12-12 and later). */
const MAX_BLOCK = 4000 * MiB
/** S3's smallest part but the last; Azure takes blocks of any size, so the proxy holds to S3's rule. */
const MIN_PART = 5 * MiB
/** Requests of one operation in flight at once (Workers allows six outgoing connections per request). */
const PARALLEL_REQUESTS = 6
/** How often, and how long apart, a pending Copy Blob is looked at. */
const COPY_POLLS = 20
const COPY_POLL_INTERVAL = Duration.millis(500)
/** Blobs per List Blobs page of ListMultipartUploads. */
const LIST_PAGE = 1000

/** The S3 entity headers Azure stores, and the Put Blob / Put Block List / Set Blob Properties names for them. */
const CONTENT_HEADERS = [
  ["content-type", "x-ms-blob-content-type"],
  ["cache-control", "x-ms-blob-cache-control"],
  ["content-disposition", "x-ms-blob-content-disposition"],
  ["content-encoding", "x-ms-blob-content-encoding"],
  ["content-language", "x-ms-blob-content-language"]
] as const

/** The Azure headers that store `client`'s content headers and user metadata. */
export const storedHeaders = (client: Headers): Array<readonly [string, string]> => {
  const stored: Array<readonly [string, string]> = []
  for (const [s3, azure] of CONTENT_HEADERS) {
    const value = client.get(s3)
    if (value !== null) stored.push([azure, value])
  }
  client.forEach((value, name) => {
    if (name.startsWith("x-amz-meta-") && name.length > 11) stored.push([`x-ms-meta-${azureMetadataName(name.slice(11))}`, value])
  })
  return stored
}

/** Destination preconditions, forwarded as they are (Azure evaluates them as HTTP does). */
const forwardPreconditions = (client: Headers, headers: Headers) => {
  for (const name of ["if-match", "if-none-match"] as const) {
    const value = client.get(name)
    if (value !== null) headers.set(name, value)
  }
}

const headersOf = (pairs: ReadonlyArray<readonly [string, string]>) => {
  const headers = new Headers()
  for (const [name, value] of pairs) headers.set(name, value)
  return headers
}

const quoted = (etag: string | null) =>
  etag === null || etag === "" ? "\"\"" : etag.startsWith("\"") ? etag : `"${etag}"`

/** When Azure answered: its Last-Modified, else its Date, else now. */
const answeredAt = (response: Response) =>
  Effect.gen(function*() {
    for (const name of ["last-modified", "date"]) {
      const value = response.headers.get(name)
      const at = value === null ? Number.NaN : new Date(value).getTime()
      if (!Number.isNaN(at)) return new Date(at)
    }
    return new Date(yield* Clock.currentTimeMillis)
  })

/** A refused write, as S3 names it: 401/403 AccessDenied, 412 (and 409 BlobAlreadyExists) PreconditionFailed. */
const refusal = (response: Response, what: string) =>
  Effect.gen(function*() {
    yield* discard(response)
    const code = response.headers.get("x-ms-error-code") ?? ""
    switch (response.status) {
      case 401:
      case 403:
        return yield* new AccessDenied({ reason: `backend answered ${response.status} ${code} to ${what}` })
      case 412:
        return yield* new PreconditionFailed()
      case 409:
        if (code === "BlobAlreadyExists") return yield* new PreconditionFailed()
        break
      case 400:
        if (code === "Md5Mismatch") return yield* new InvalidRequest({ message: "BadDigest: the Content-MD5 you specified did not match what was received" })
        break
      case 413:
        return yield* new InvalidRequest({ message: "EntityTooLarge: your proposed upload exceeds the maximum allowed size" })
    }
    return yield* new BackendUnavailable({ reason: `backend answered ${response.status} ${code} to ${what}` })
  })

// -------------------------------------------------------------------------------------------------
// Multipart: upload ids, block ids, part ETags
// -------------------------------------------------------------------------------------------------

/**
 * An upload id is base64url of `{v, k, n, h}`: the key, a random 48-bit nonce (12 hex digits) and the
 * Azure headers to set at completion (content headers and metadata sent with CreateMultipartUpload). It
 * is not secret and needs no server state; a forged one names a key the client was already allowed to write.
 */
const UploadId = Schema.Struct({
  v: Schema.Literal(1),
  k: Schema.String,
  n: Schema.String.pipe(Schema.pattern(/^[0-9a-f]{12}$/)),
  h: Schema.Array(Schema.Tuple(Schema.String, Schema.String))
})
type UploadId = typeof UploadId.Type
const UploadIdJson = Schema.parseJson(UploadId)

export const encodeUploadId = (upload: UploadId): string => Encoding.encodeBase64Url(JSON.stringify(upload))
export const decodeUploadId = (id: string): UploadId | undefined =>
  /^[A-Za-z0-9_-]+$/.test(id)
    ? Either.getOrUndefined(
      Either.flatMap(
        Either.mapLeft(Encoding.decodeBase64UrlString(id), () => undefined),
        (json) => Either.mapLeft(Schema.decodeUnknownEither(UploadIdJson)(json), () => undefined)
      )
    )
    : undefined

const hex = (value: number, width: number) => value.toString(16).padStart(width, "0")
/** 48 random bits as 12 hex digits, never all zeros (`ZERO_ATTEMPT`). */
const random48 = Effect.zipWith(Random.nextIntBetween(1, 0x1000000), Random.nextIntBetween(0, 0x1000000), (a, b) => hex(a, 6) + hex(b, 6))
/**
 * The attempt of a part with no bytes: Azure refuses an empty Put Block (400), so an empty part stages
 * nothing, answers this ETag, and is left out of the block list at completion (it adds no bytes).
 */
const ZERO_ATTEMPT = "000000000000"

/**
 * A staged part is named by 32 hex digits: the upload's nonce, the part number (8 hex digits) and a random
 * 48-bit attempt, so every UploadPart (a retry of a part number too) stages its own block. Those 32 digits
 * are the part's ETag: the client sends it back at completion, which picks exactly the block it names, and
 * an ETag this upload never answered is InvalidPart, as on S3. It is not the part's MD5.
 */
export const partTag = (nonce: string, partNumber: number, attempt: string) => `${nonce}${hex(partNumber, 8)}${attempt}`
/**
 * Azure's block id: base64 of `sdp1` + the 32 digits, 36 bytes: every block id this proxy stages has the
 * same length (48 base64 characters), as Azure requires of all uncommitted blocks of a blob.
 */
export const blockId = (tag: string) => Encoding.encodeBase64(`sdp1${tag}`)
/** Part number 0 with a zero attempt: the tombstone an abort stages (S3 part numbers start at 1). */
export const tombstoneTag = (nonce: string) => partTag(nonce, 0, ZERO_ATTEMPT)

/** The tag of a part ETag as the client echoes it (quoted or not), or undefined when it is not one of ours. */
const tagOfEtag = (etag: string): string | undefined => {
  const bare = etag.trim().replace(/^"|"$/g, "").toLowerCase()
  return /^[0-9a-f]{32}$/.test(bare) ? bare : undefined
}

/** One uncommitted block as Get Block List names it: its base64 id and its size. */
export interface StagedBlock {
  readonly name: string
  readonly size: number
}

/** A blob's uncommitted blocks in Azure's order, from Get Block List (`blocklisttype=uncommitted`). */
export const parseUncommittedBlocks = (xml: string): ReadonlyArray<StagedBlock> | undefined => {
  if (!xml.includes("<BlockList")) return undefined
  const section = blocks(xml, "UncommittedBlocks")
  if (section === undefined) return undefined
  const staged: Array<StagedBlock> = []
  for (const inner of section) {
    const found = blocks(inner, "Block")
    if (found === undefined) return undefined
    for (const block of found) {
      const name = blocks(block, "Name")?.[0]
      const size = Number(decodeText(blocks(block, "Size")?.[0] ?? "").trim())
      if (name !== undefined) staged.push({ name: decodeText(name).trim(), size: Number.isSafeInteger(size) && size >= 0 ? size : 0 })
    }
  }
  return staged
}

/** The names of a blob's uncommitted blocks, from Get Block List (`blocklisttype=uncommitted`). */
export const parseUncommitted = (xml: string): Set<string> | undefined => {
  const staged = parseUncommittedBlocks(xml)
  return staged === undefined ? undefined : new Set(staged.map((block) => block.name))
}

/**
 * The upload's record blocks, staged by CreateMultipartUpload (one byte each): block id = base64 of the 36
 * bytes `sdph` + nonce (12 hex digits) + sequence (4 hex digits) + 16 bytes of the upload's headers as
 * JSON (UTF-8, the last piece padded with NUL bytes, which JSON text never holds). At least one is staged
 * (`[]` when there are no headers): it tells an upload that exists from an id never issued, and lets
 * ListMultipartUploads rebuild the upload id exactly (key from the blob, nonce and headers from here).
 */
const RECORD_PIECE = 16
const RECORD_MAX_PIECES = 0x10000
const ascii = (text: string) => new TextEncoder().encode(text)

export const recordBlockIds = (nonce: string, headers: ReadonlyArray<readonly [string, string]>): Array<string> => {
  const json = ascii(JSON.stringify(headers))
  const ids: Array<string> = []
  for (let seq = 0; seq * RECORD_PIECE < json.length; seq++) {
    const raw = new Uint8Array(36)
    raw.set(ascii(`sdph${nonce}${hex(seq, 4)}`), 0)
    raw.set(json.subarray(seq * RECORD_PIECE, (seq + 1) * RECORD_PIECE), 20)
    ids.push(Encoding.encodeBase64(raw))
  }
  return ids
}

/** What one of this proxy's block ids says: a part (or tombstone) tag, or a piece of an upload record. */
type BlockName =
  | { readonly _tag: "Part"; readonly nonce: string; readonly partNumber: number; readonly tag: string }
  | { readonly _tag: "Record"; readonly nonce: string; readonly seq: number; readonly piece: Uint8Array }

export const readBlockId = (name: string): BlockName | undefined => {
  const decoded = Encoding.decodeBase64(name)
  if (Either.isLeft(decoded) || decoded.right.length !== 36) return undefined
  const raw = decoded.right
  const head = String.fromCharCode(...raw.subarray(0, 20))
  if (head.startsWith("sdp1")) {
    const tag = String.fromCharCode(...raw.subarray(4))
    return /^[0-9a-f]{32}$/.test(tag)
      ? { _tag: "Part", nonce: tag.slice(0, 12), partNumber: Number.parseInt(tag.slice(12, 20), 16), tag }
      : undefined
  }
  const match = /^sdph([0-9a-f]{12})([0-9a-f]{4})$/.exec(head)
  return match === null ? undefined : { _tag: "Record", nonce: match[1]!, seq: Number.parseInt(match[2]!, 16), piece: raw.subarray(20) }
}

const HeaderPairs = Schema.parseJson(Schema.Array(Schema.Tuple(Schema.String, Schema.String)))

/**
 * The uploads a blob's uncommitted blocks record: nonce → headers, for every complete record whose upload
 * has no tombstone. Record pieces are 1 byte each and sorted by their sequence number here.
 */
export const recordedUploads = (staged: ReadonlyArray<StagedBlock>): Map<string, ReadonlyArray<readonly [string, string]>> => {
  const pieces = new Map<string, Map<number, Uint8Array>>()
  const aborted = new Set<string>()
  for (const block of staged) {
    const read = readBlockId(block.name)
    if (read === undefined) continue
    if (read._tag === "Part") {
      if (read.tag === tombstoneTag(read.nonce)) aborted.add(read.nonce)
      continue
    }
    const known = pieces.get(read.nonce) ?? new Map<number, Uint8Array>()
    known.set(read.seq, read.piece)
    pieces.set(read.nonce, known)
  }
  const uploads = new Map<string, ReadonlyArray<readonly [string, string]>>()
  for (const [nonce, known] of pieces) {
    if (aborted.has(nonce)) continue
    const bytes: Array<number> = []
    for (let seq = 0; seq < known.size; seq++) {
      const piece = known.get(seq)
      if (piece === undefined) break
      bytes.push(...piece)
    }
    const end = bytes.indexOf(0)
    const text = new TextDecoder("utf-8", { fatal: false }).decode(Uint8Array.from(end < 0 ? bytes : bytes.slice(0, end)))
    const headers = Either.getOrUndefined(Schema.decodeUnknownEither(HeaderPairs)(text))
    if (headers !== undefined) uploads.set(nonce, headers)
  }
  return uploads
}

const blockListXml = (ids: ReadonlyArray<string>) =>
  `<?xml version="1.0" encoding="utf-8"?><BlockList>${ids.map((id) => `<Uncommitted>${id}</Uncommitted>`).join("")}</BlockList>`

/** What a key's Delete Blob answered, as DeleteObjects reports it (404: already gone, which S3 counts as deleted). */
const deleteOutcome = (key: string, status: number | undefined): DeleteOutcome =>
  status === 202 || status === 200 || status === 404
    ? { key, error: undefined }
    : {
      key,
      error: status === 401 || status === 403
        ? { code: "AccessDenied", message: "Access Denied" }
        : status === 412
        ? { code: "PreconditionFailed", message: "At least one of the pre-conditions you specified did not hold" }
        : { code: "InternalError", message: "We encountered an internal error. Please try again." }
    }

export const azureWriter = ({ base, send, authorize, sourceQuery, sourceUrl }: AzureWriterOptions): ObjectWriter => {
  const blobUrl = (key: string) => `${base}/${encodeKey(key)}`

  /** The length Azure needs; a stream without one is refused rather than buffered. */
  const lengthOf = (request: ObjectWrite, max: number) =>
    Effect.gen(function*() {
      const length = request.contentLength ?? (request.body === null ? 0 : undefined)
      if (length === undefined) {
        return yield* new InvalidRequest({ message: "Content-Length required: Azure Blob Storage takes bodies of known length" })
      }
      if (length > max) {
        return yield* new InvalidRequest({ message: "EntityTooLarge: your proposed upload exceeds the maximum allowed size" })
      }
      return length
    })

  /** A body Azure gets: none for an empty one (an empty client stream is released). */
  const bodyFor = (request: ObjectWrite, length: number) =>
    length > 0
      ? Effect.succeed(request.body)
      : Effect.as(Effect.promise(() => request.body?.cancel() ?? Promise.resolve()).pipe(Effect.ignore), null)

  const put = (request: ObjectWrite): Effect.Effect<Written, WriteError> =>
    Effect.gen(function*() {
      const length = yield* lengthOf(request, MAX_PUT_BLOB)
      const headers = headersOf(storedHeaders(request.headers))
      headers.set("x-ms-blob-type", "BlockBlob")
      forwardPreconditions(request.headers, headers)
      const md5 = request.headers.get("content-md5")
      if (md5 !== null) headers.set("content-md5", md5)
      headers.set("content-length", String(length))
      const response = yield* send("PUT", blobUrl(request.key), headers, yield* bodyFor(request, length))
      if (response.status !== 201) {
        // If-Match on a blob that does not exist: Azure answers 404, S3 412.
        if (response.status === 404 && headers.has("if-match")) {
          yield* discard(response)
          return yield* new PreconditionFailed()
        }
        return yield* refusal(response, "Put Blob")
      }
      yield* discard(response)
      return { etag: quoted(response.headers.get("etag")), headers: new Headers() }
    })

  const remove = (key: string): Effect.Effect<void, WriteError> =>
    Effect.gen(function*() {
      const response = yield* send("DELETE", blobUrl(key), new Headers({ "x-ms-delete-snapshots": "include" }))
      if (response.status === 202 || response.status === 200 || response.status === 404) return yield* discard(response)
      return yield* refusal(response, "Delete Blob")
    })

  /** One Blob Batch of at most BATCH_MAX Delete Blob subrequests. */
  const deleteBatch = (keys: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<DeleteOutcome>, WriteError> =>
    Effect.gen(function*() {
      const subrequests: Array<Subrequest> = []
      for (const key of keys) {
        const headers = new Headers({ "x-ms-delete-snapshots": "include", "content-length": "0" })
        subrequests.push({ method: "DELETE", url: yield* authorize("DELETE", blobUrl(key), headers), headers })
      }
      const boundary = `batch_${yield* random48}${yield* random48}`
      const body = batchBody(boundary, subrequests)
      const response = yield* send("POST", `${base}?restype=container&comp=batch`, new Headers({
        "content-type": `multipart/mixed; boundary=${boundary}`,
        "content-length": String(new TextEncoder().encode(body).length)
      }), body)
      if (response.status !== 202) {
        yield* discard(response)
        return keys.map((key) => deleteOutcome(key, response.status))
      }
      const answered = boundaryOf(response.headers.get("content-type"))
      const text = yield* documentText(response, "Blob Batch")
      if (answered === undefined) return yield* new BackendUnavailable({ reason: "Blob Batch answered without a multipart boundary" })
      const subresponses = parseBatchResponse(text, answered, keys.length)
      return keys.map((key, index) => deleteOutcome(key, subresponses[index]?.status))
    })

  const deleteMany = (keys: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<DeleteOutcome>, WriteError> =>
    Effect.map(
      Effect.forEach(Array.from({ length: Math.ceil(keys.length / BATCH_MAX) }, (_, i) => keys.slice(i * BATCH_MAX, (i + 1) * BATCH_MAX)), deleteBatch),
      (batches) => batches.flat()
    )

  /** The destination's state once a copy has finished (polled when Azure runs it asynchronously). */
  const awaitCopy = (url: string, key: string) =>
    Effect.gen(function*() {
      for (let poll = 0; poll < COPY_POLLS; poll++) {
        yield* Effect.sleep(COPY_POLL_INTERVAL)
        const response = yield* send("HEAD", url, new Headers())
        yield* discard(response)
        if (response.status !== 200) return yield* refusal(response, "Get Blob Properties after Copy Blob")
        const status = response.headers.get("x-ms-copy-status")
        if (status === "success" || status === null) return response.headers
        if (status !== "pending") return yield* new BackendUnavailable({ reason: `Copy Blob to ${key} ended ${status}` })
      }
      return yield* new BackendUnavailable({ reason: `Copy Blob to ${key} still pending after ${COPY_POLLS} polls` })
    })

  const copy: ObjectWriter["copy"] = (request) =>
    Effect.gen(function*() {
      const url = blobUrl(request.key)
      const source = `${blobUrl(request.sourceKey)}${sourceQuery === undefined ? "" : `?${sourceQuery}`}`
      const replace = request.headers.get("x-amz-metadata-directive")?.trim().toUpperCase() === "REPLACE"
      const stored = storedHeaders(request.headers)
      const headers = new Headers({ "x-ms-copy-source": source })
      if (replace) for (const [name, value] of stored) if (name.startsWith("x-ms-meta-")) headers.set(name, value)
      forwardPreconditions(request.headers, headers)
      for (const condition of ["if-match", "if-none-match", "if-modified-since", "if-unmodified-since"] as const) {
        const value = request.headers.get(`x-amz-copy-source-${condition}`)
        if (value !== null) headers.set(`x-ms-source-${condition}`, value)
      }
      const response = yield* send("PUT", url, headers)
      if (response.status !== 202 && response.status !== 201) {
        if (response.status === 404) {
          yield* discard(response)
          return yield* new NoSuchKey({ key: request.sourceKey })
        }
        return yield* refusal(response, "Copy Blob")
      }
      yield* discard(response)
      let final = response.headers
      if (final.get("x-ms-copy-status") === "pending") final = yield* awaitCopy(url, request.key)
      if (replace) {
        // Copy Blob keeps the source's content headers, and its metadata when none is given: REPLACE sets both.
        const metadata = headersOf(stored.filter(([name]) => name.startsWith("x-ms-meta-")))
        const setMetadata = yield* send("PUT", `${url}?comp=metadata`, metadata)
        if (setMetadata.status !== 200) return yield* refusal(setMetadata, "Set Blob Metadata")
        yield* discard(setMetadata)
        const properties = headersOf(stored.filter(([name]) => name.startsWith("x-ms-blob-")))
        const setProperties = yield* send("PUT", `${url}?comp=properties`, properties)
        if (setProperties.status !== 200) return yield* refusal(setProperties, "Set Blob Properties")
        yield* discard(setProperties)
        final = setProperties.headers
      }
      const lastModified = new Date(final.get("last-modified") ?? "")
      return { etag: quoted(final.get("etag")), lastModified: Number.isNaN(lastModified.getTime()) ? new Date(0) : lastModified }
    })

  // -----------------------------------------------------------------------------------------------
  // Multipart
  // -----------------------------------------------------------------------------------------------

  const uploadOf = (uploadId: string, key: string) => {
    const upload = decodeUploadId(uploadId)
    return upload === undefined || upload.k !== key ? Effect.fail(new NoSuchUpload({ uploadId })) : Effect.succeed(upload)
  }

  /** The blob's uncommitted blocks, in Azure's order, and when Azure answered; none when the blob does not exist. */
  const stagedBlocks = (key: string) =>
    Effect.gen(function*() {
      const response = yield* send("GET", `${blobUrl(key)}?comp=blocklist&blocklisttype=uncommitted`, new Headers())
      const at = yield* answeredAt(response)
      if (response.status === 404) {
        yield* discard(response)
        return { staged: [] as ReadonlyArray<StagedBlock>, at }
      }
      if (response.status !== 200) return yield* refusal(response, "Get Block List")
      const text = yield* documentText(response, "block list")
      const staged = parseUncommittedBlocks(text)
      if (staged === undefined) return yield* new BackendUnavailable({ reason: "unexpected Get Block List document" })
      return { staged, at }
    })

  /** The blob's uncommitted block names; none when the blob does not exist. */
  const uncommitted = (key: string) => Effect.map(stagedBlocks(key), ({ staged }) => new Set(staged.map((block) => block.name)))

  /** Put Block: the body streamed under `tag`'s block id. */
  const putBlock = (key: string, tag: string, body: UpstreamRequest["body"], length: number, md5: string | null) =>
    putBlockNamed(key, blockId(tag), body, length, md5)

  const putBlockNamed = (key: string, id: string, body: UpstreamRequest["body"], length: number, md5: string | null) =>
    Effect.gen(function*() {
      const headers = new Headers({ "content-length": String(length) })
      // fetch labels a string body text/plain on its own; set here, it is signed.
      if (typeof body === "string") headers.set("content-type", "application/octet-stream")
      if (md5 !== null) headers.set("content-md5", md5)
      const url = `${blobUrl(key)}?comp=block&blockid=${encodeURIComponent(id)}`
      const response = yield* send("PUT", url, headers, body)
      if (response.status !== 201) return yield* refusal(response, "Put Block")
      yield* discard(response)
    })

  /**
   * CreateMultipartUpload: the upload id carries the key, a nonce and the headers to set at completion;
   * the upload's record blocks (`recordBlockIds`: one 1-byte Put Block per 16 bytes of the headers as
   * JSON, at least one, six at a time) make the upload visible to ListParts and ListMultipartUploads.
   */
  const createMultipart: ObjectWriter["createMultipart"] = (request) =>
    Effect.gen(function*() {
      const nonce = yield* random48
      const headers = storedHeaders(request.headers)
      const ids = recordBlockIds(nonce, headers)
      if (ids.length > RECORD_MAX_PIECES) {
        return yield* new InvalidRequest({ message: "MetadataTooLarge: your metadata headers exceed the maximum allowed metadata size" })
      }
      yield* Effect.forEach(ids, (id) => putBlockNamed(request.key, id, "x", 1, null), { concurrency: PARALLEL_REQUESTS, discard: true })
      return encodeUploadId({ v: 1, k: request.key, n: nonce, h: headers })
    })

  /**
   * UploadPart: Put Block, streamed, with a fresh block id; at the same time the block list is read to
   * answer NoSuchUpload after an abort. That read costs one request per part and grows with the number of
   * parts staged (≈ 80 bytes a block); an UploadPart after a *completion* is not detected (the block
   * stays uncommitted until Azure drops it, within 7 days).
   */
  const uploadPart: ObjectWriter["uploadPart"] = (request) =>
    Effect.gen(function*() {
      const upload = yield* uploadOf(request.uploadId, request.key)
      if (!Number.isInteger(request.partNumber) || request.partNumber < 1 || request.partNumber > 10000) {
        return yield* new InvalidRequest({ message: "Part number must be an integer between 1 and 10000, inclusive" })
      }
      const length = yield* lengthOf(request, MAX_BLOCK)
      const tag = partTag(upload.n, request.partNumber, length === 0 ? ZERO_ATTEMPT : yield* random48)
      const body = yield* bodyFor(request, length)
      const [, names] = yield* Effect.all([
        length === 0 ? Effect.void : putBlock(request.key, tag, body, length, request.headers.get("content-md5")),
        uncommitted(request.key)
      ], { concurrency: 2 })
      if (names.has(blockId(tombstoneTag(upload.n)))) return yield* new NoSuchUpload({ uploadId: request.uploadId })
      return { etag: `"${tag}"`, headers: new Headers() }
    })

  /**
   * CompleteMultipartUpload: the part list is checked (ascending part numbers, each ETag one this upload
   * answered for that part number, its block still staged), then Put Block List commits exactly those
   * blocks, with the content headers and metadata given at creation and the client's if-match /
   * if-none-match. An aborted upload (its tombstone staged) or one with no block left (completed, or
   * overwritten) answers NoSuchUpload.
   */
  const completeMultipart: ObjectWriter["completeMultipart"] = (request) =>
    Effect.gen(function*() {
      const upload = yield* uploadOf(request.uploadId, request.key)
      if (request.parts.length === 0) {
        return yield* new InvalidRequest({ message: "You must specify at least one part" })
      }
      const tags: Array<string> = []
      let previous = 0
      for (const part of request.parts as ReadonlyArray<CompletedPart>) {
        if (part.partNumber <= previous) {
          return yield* new InvalidPart({ message: "InvalidPartOrder: the list of parts was not in ascending order" })
        }
        previous = part.partNumber
        const tag = tagOfEtag(part.etag)
        if (tag === undefined || tag.slice(0, 20) !== partTag(upload.n, part.partNumber, "")) {
          return yield* new InvalidPart({ message: `part ${part.partNumber}: the ETag is not one this upload answered` })
        }
        tags.push(tag)
      }
      const sizes = new Map((yield* stagedBlocks(request.key)).staged.map((block) => [block.name, block.size] as const))
      const names = new Set(sizes.keys())
      if (names.has(blockId(tombstoneTag(upload.n)))) return yield* new NoSuchUpload({ uploadId: request.uploadId })
      const prefix = `sdp1${upload.n}`
      let ours = false
      for (const name of names) {
        const raw = Encoding.decodeBase64String(name)
        if (Either.isRight(raw) && raw.right.startsWith(prefix)) {
          ours = true
          break
        }
      }
      const staged = tags.filter((tag) => tag.slice(20) !== ZERO_ATTEMPT)
      // Only empty parts: nothing was staged, so there is nothing to tell a completed upload by.
      if (!ours && staged.length > 0) return yield* new NoSuchUpload({ uploadId: request.uploadId })
      const ids = staged.map(blockId)
      for (const [index, id] of ids.entries()) {
        if (!names.has(id)) {
          return yield* new InvalidPart({ message: `part ${Number.parseInt(staged[index]!.slice(12, 20), 16)} was not uploaded, or not with that ETag` })
        }
      }
      // Every part but the last is at least 5 MiB, as S3 answers on Complete (an empty part was never staged).
      for (const tag of tags.slice(0, -1)) {
        if ((tag.slice(20) === ZERO_ATTEMPT ? 0 : sizes.get(blockId(tag)) ?? 0) < MIN_PART) return yield* new EntityTooSmall()
      }
      const xml = blockListXml(ids)
      const headers = headersOf(upload.h)
      forwardPreconditions(request.headers, headers)
      headers.set("content-type", "application/xml")
      headers.set("content-length", String(new TextEncoder().encode(xml).length))
      const response = yield* send("PUT", `${blobUrl(request.key)}?comp=blocklist`, headers, xml)
      if (response.status !== 201) {
        if (response.status === 404 && headers.has("if-match")) {
          yield* discard(response)
          return yield* new PreconditionFailed()
        }
        // A block named in the list but gone meanwhile (another upload committed the blob): 400 InvalidBlockList.
        if (response.status === 400 && response.headers.get("x-ms-error-code") === "InvalidBlockList") {
          yield* discard(response)
          return yield* new InvalidPart({ message: "a part is no longer staged" })
        }
        return yield* refusal(response, "Put Block List")
      }
      yield* discard(response)
      return { etag: quoted(response.headers.get("etag")), headers: new Headers() }
    })

  /**
   * AbortMultipartUpload: Azure cannot delete uncommitted blocks (it drops them within 7 days, or at the
   * blob's next commit). The abort stages a one-byte tombstone block instead, which later UploadPart,
   * CompleteMultipartUpload and AbortMultipartUpload calls find (NoSuchUpload). An abort of an id this proxy
   * cannot decode, or of another key, is NoSuchUpload; a decodable id whose upload never staged a part is
   * not told apart from a live one. Two aborts racing both succeed.
   */
  const abortMultipart: ObjectWriter["abortMultipart"] = (request) =>
    Effect.gen(function*() {
      const upload = yield* uploadOf(request.uploadId, request.key)
      const tombstone = tombstoneTag(upload.n)
      if ((yield* uncommitted(request.key)).has(blockId(tombstone))) {
        return yield* new NoSuchUpload({ uploadId: request.uploadId })
      }
      yield* putBlock(request.key, tombstone, "x", 1, null)
    })

  /**
   * ListParts: Get Block List, this upload's part blocks (its nonce; record blocks and the tombstone
   * left out) as parts: number and ETag from the block id, size from the list. An aborted upload (its
   * tombstone staged) or one with no block at all (completed, overwritten, or never created) answers
   * NoSuchUpload. Limits: a part number uploaded more than once lists the attempt Azure lists last
   * (Azure lists uncommitted blocks in staging order), where S3 lists the latest; empty parts stage no
   * block and are not listed; Azure keeps no time per block, so every part's LastModified is the time of
   * the Get Block List answer.
   */
  const listParts: NonNullable<ObjectWriter["listParts"]> = (request) =>
    Effect.gen(function*() {
      const upload = yield* uploadOf(request.uploadId, request.key)
      const { at, staged } = yield* stagedBlocks(request.key)
      const byNumber = new Map<number, ListedPart>()
      let known = false
      for (const block of staged) {
        const read = readBlockId(block.name)
        if (read === undefined || read.nonce !== upload.n) continue
        known = true
        if (read._tag !== "Part") continue
        if (read.tag === tombstoneTag(upload.n)) return yield* new NoSuchUpload({ uploadId: request.uploadId })
        if (read.partNumber < 1 || read.partNumber > 10000) continue
        byNumber.set(read.partNumber, { partNumber: read.partNumber, etag: `"${read.tag}"`, size: block.size, lastModified: at })
      }
      if (!known) return yield* new NoSuchUpload({ uploadId: request.uploadId })
      const after = [...byNumber.values()].filter((part) => part.partNumber > request.partNumberMarker).sort((a, b) => a.partNumber - b.partNumber)
      const max = Math.max(0, request.maxParts)
      const parts = after.slice(0, max)
      const isTruncated = after.length > parts.length
      return { parts, isTruncated, nextPartNumberMarker: isTruncated ? parts.at(-1)?.partNumber ?? request.partNumberMarker : undefined }
    })

  /** One List Blobs page under `prefix`, uncommitted blobs included. */
  const listPage = (prefix: string, marker: string | undefined) =>
    Effect.gen(function*() {
      const query: Array<readonly [string, string]> = [["restype", "container"], ["comp", "list"], ["include", "uncommittedblobs"]]
      if (prefix !== "") query.push(["prefix", prefix])
      query.push(["maxresults", String(LIST_PAGE)])
      if (marker !== undefined) query.push(["marker", marker])
      const response = yield* send("GET", `${base}?${query.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&")}`, new Headers())
      if (response.status !== 200) return yield* refusal(response, "List Blobs")
      const text = yield* documentText(response, "listing")
      return yield* Effect.mapError(parseEnumerationResults(text), (reason) => new BackendUnavailable({ reason }))
    })

  /**
   * ListMultipartUploads: List Blobs (`include=uncommittedblobs`) under the prefix, then Get Block List for
   * every blob after the key marker (six at a time), whose record blocks give back each open upload's id
   * exactly (`recordedUploads`). Uploads of one key are ordered by upload id (Azure keeps no initiation
   * time per upload: `initiated` is the blob's Last-Modified as listed). Limits: one Get Block List per
   * blob listed, committed or not, until the page is full, so a prefix with many objects and few uploads
   * costs many requests; an upload created before record blocks existed (no record) is not listed.
   */
  const listUploads: NonNullable<ObjectWriter["listUploads"]> = (request) =>
    Effect.gen(function*() {
      const max = Math.max(0, request.maxUploads)
      const found: Array<ListedUpload> = []
      let marker: string | undefined
      do {
        const page = yield* listPage(request.prefix, marker)
        marker = page.nextMarker
        const blobs = page.objects.filter((blob) =>
          request.keyMarker === undefined || compareUtf8(blob.key, request.keyMarker) > 0 ||
          (blob.key === request.keyMarker && request.uploadIdMarker !== undefined)
        )
        const perBlob = yield* Effect.forEach(blobs, (blob) =>
          Effect.map(stagedBlocks(blob.key), ({ staged }) => {
            const uploads: Array<ListedUpload> = []
            for (const [nonce, headers] of recordedUploads(staged)) {
              const uploadId = encodeUploadId({ v: 1, k: blob.key, n: nonce, h: headers })
              if (blob.key === request.keyMarker && uploadId <= (request.uploadIdMarker ?? "")) continue
              uploads.push({ key: blob.key, uploadId, initiated: blob.lastModified })
            }
            return uploads.sort((a, b) => (a.uploadId < b.uploadId ? -1 : a.uploadId > b.uploadId ? 1 : 0))
          }), { concurrency: PARALLEL_REQUESTS })
        for (const uploads of perBlob) found.push(...uploads)
      } while (marker !== undefined && found.length <= max)
      const uploads = found.slice(0, max)
      const isTruncated = found.length > uploads.length
      const last = uploads.at(-1)
      return {
        uploads,
        isTruncated,
        nextKeyMarker: isTruncated ? last?.key ?? request.keyMarker : undefined,
        nextUploadIdMarker: isTruncated ? last?.uploadId ?? request.uploadIdMarker : undefined
      }
    })

  /**
   * UploadPartCopy: Put Block From URL under a fresh block id (as UploadPart), the source being a blob of
   * this container (a SAS connection puts its SAS on the source URL; with SharedKey, `sourceUrl` signs
   * one), `x-amz-copy-source-range` forwarded as `x-ms-source-range`, the copy-source preconditions as
   * `x-ms-source-if-*`. A missing source is NoSuchKey; the block list is read meanwhile, as UploadPart does,
   * to answer NoSuchUpload after an abort. The part's ETag is its 32 hex digits, as for UploadPart.
   */
  const uploadPartCopy: NonNullable<ObjectWriter["uploadPartCopy"]> = (request) =>
    Effect.gen(function*() {
      const upload = yield* uploadOf(request.uploadId, request.key)
      if (!Number.isInteger(request.partNumber) || request.partNumber < 1 || request.partNumber > 10000) {
        return yield* new InvalidRequest({ message: "Part number must be an integer between 1 and 10000, inclusive" })
      }
      const range = request.range?.trim()
      if (range !== undefined && !/^bytes=\d+-\d+$/.test(range)) {
        return yield* new InvalidRequest({ message: "The x-amz-copy-source-range value must be of the form bytes=first-last" })
      }
      const tag = partTag(upload.n, request.partNumber, yield* random48)
      const [answer, names] = yield* Effect.all([
        Effect.flatMap(blockFromUrl(request, tag, range), (answered) =>
          answered === "NotImplemented" ? blockThroughProxy(request, tag, range) : Effect.succeed(answered)),
        uncommitted(request.key)
      ], { concurrency: 2 })
      if (names.has(blockId(tombstoneTag(upload.n)))) return yield* new NoSuchUpload({ uploadId: request.uploadId })
      return { etag: `"${answer.tag}"`, lastModified: answer.at }
    })

  type PartCopy = Parameters<NonNullable<ObjectWriter["uploadPartCopy"]>>[0]

  /** The copy-source preconditions, under `prefix` (`x-ms-source-` for Put Block From URL, none for Get Blob). */
  const sourceConditions = (client: Headers, headers: Headers, prefix: string) => {
    for (const condition of ["if-match", "if-none-match", "if-modified-since", "if-unmodified-since"] as const) {
      const value = client.get(`x-amz-copy-source-${condition}`)
      if (value !== null) headers.set(`${prefix}${condition}`, value)
    }
  }

  /** Put Block From URL; "NotImplemented" when the service has no such operation (Azurite). */
  const blockFromUrl = (request: PartCopy, tag: string, range: string | undefined) =>
    Effect.gen(function*() {
      const source = sourceUrl === undefined
        ? `${blobUrl(request.sourceKey)}${sourceQuery === undefined ? "" : `?${sourceQuery}`}`
        : yield* sourceUrl(request.sourceKey)
      const headers = new Headers({ "x-ms-copy-source": source, "content-length": "0" })
      if (range !== undefined) headers.set("x-ms-source-range", range)
      sourceConditions(request.headers, headers, "x-ms-source-")
      const url = `${blobUrl(request.key)}?comp=block&blockid=${encodeURIComponent(blockId(tag))}`
      const response = yield* send("PUT", url, headers)
      if (response.status === 501) {
        yield* discard(response)
        return "NotImplemented" as const
      }
      if (response.status !== 201) {
        // A missing source: 404 (CannotVerifyCopySource on Azure, BlobNotFound elsewhere).
        if (response.status === 404) {
          yield* discard(response)
          return yield* new NoSuchKey({ key: request.sourceKey })
        }
        return yield* refusal(response, "Put Block From URL")
      }
      yield* discard(response)
      return { tag, at: yield* answeredAt(response) }
    })

  /**
   * Where Put Block From URL is not implemented (Azurite answers 501): Get Blob (ranged, with the
   * copy-source preconditions) streamed into Put Block, the bytes passing through the proxy.
   */
  const blockThroughProxy = (request: PartCopy, tag: string, range: string | undefined) =>
    Effect.gen(function*() {
      const headers = new Headers()
      if (range !== undefined) headers.set("x-ms-range", range)
      sourceConditions(request.headers, headers, "")
      const source = yield* send("GET", blobUrl(request.sourceKey), headers)
      if (source.status !== 200 && source.status !== 206) {
        yield* discard(source)
        if (source.status === 404) return yield* new NoSuchKey({ key: request.sourceKey })
        if (source.status === 304 || source.status === 412) return yield* new PreconditionFailed()
        if (source.status === 416) return yield* new InvalidRequest({ message: "InvalidRange: the requested range is not satisfiable" })
        return yield* refusal(source, "Get Blob for UploadPartCopy")
      }
      const length = Number(source.headers.get("content-length") ?? Number.NaN)
      if (!Number.isSafeInteger(length) || length < 0) {
        yield* discard(source)
        return yield* new BackendUnavailable({ reason: "Get Blob answered without a Content-Length" })
      }
      if (length === 0) {
        // An empty part stages nothing (as UploadPart does).
        yield* discard(source)
        return { tag: `${tag.slice(0, 20)}${ZERO_ATTEMPT}`, at: yield* answeredAt(source) }
      }
      yield* putBlock(request.key, tag, source.body, length, null)
      return { tag, at: yield* answeredAt(source) }
    })

  return {
    put,
    delete: remove,
    deleteMany,
    copy,
    createMultipart,
    uploadPart,
    completeMultipart,
    abortMultipart,
    listParts,
    listUploads,
    uploadPartCopy
  }
}
