import type { ObjectWriter } from "../ObjectStore.js"
import { blockRequests } from "./blockRequests.js"
import type { AzureWriterOptions } from "./blobService.js"
import { multipartWrites } from "./multipart.js"
import { multipartListing } from "./multipartListing.js"
import { partCopy } from "./partCopy.js"
import { simpleWrites } from "./simpleWrites.js"

/**
 * S3 writes on Azure Blob Storage (block blobs), for connections that sign (SharedKey or SAS).
 *
 * - PutObject, DeleteObject, DeleteObjects (Blob Batch, `blobBatch.ts`) and CopyObject: `simpleWrites.ts`.
 *   A body of unknown length is refused (`writeBody.ts`: Azure refuses chunked uploads); content headers
 *   and metadata are stored as `headers.ts` maps them; `x-amz-checksum-*` (CRC32, CRC32C, CRC64NVME, SHA-1,
 *   SHA-256) are NOT forwarded nor verified nor echoed: Azure checks none of them (its CRC64 is another
 *   polynomial).
 * - Any Put Blob or Put Block List on a key discards Azure's uncommitted blocks for that blob, so a plain
 *   put, or the completion of another multipart upload of the same key, ends an upload in flight (its
 *   complete then answers InvalidPart or NoSuchUpload). S3 keeps concurrent uploads of one key apart.
 * - Multipart as staged blocks: `multipart.ts`, named as `blockIds.ts` says (upload ids, block ids, part
 *   ETags, abort); ListParts and ListMultipartUploads (`multipartListing.ts`) and UploadPartCopy
 *   (`partCopy.ts`) read the blob's uncommitted block list: their limits are documented there.
 */
export const azureWriter = (options: AzureWriterOptions): ObjectWriter => {
  const blocks = blockRequests(options)
  return {
    ...simpleWrites(options),
    ...multipartWrites(options, blocks),
    ...multipartListing(options, blocks),
    uploadPartCopy: partCopy(options, blocks)
  }
}
