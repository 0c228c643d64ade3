import type { ObjectTarget } from "../s3/keys.js"
import type { ListParams } from "../s3/listParams.js"

/*
 * What a request asks for, decided from method, path and query alone, before any identity or I/O. Three
 * kinds, each dispatched by an exhaustive switch (routing/dispatch.ts): a new operation that no handler takes
 * is a compile error, not a silent 501.
 */

/** The service's own endpoints: no bucket, no object. */
export type ControlOperation =
  | { readonly _tag: "Index" }
  | { readonly _tag: "OidcDiscovery" }
  | { readonly _tag: "Jwks" }
  | { readonly _tag: "AssumeRoleWithWebIdentity" }

/** Reads of stored data and its listings. */
export type ReadOperation =
  | { readonly _tag: "ListAccount"; readonly account: string; readonly list: ListParams }
  | { readonly _tag: "ListProduct"; readonly account: string; readonly product: string; readonly list: ListParams }
  | { readonly _tag: "GetBucketLocation"; readonly account: string }
  | { readonly _tag: "HeadBucket"; readonly account: string; readonly product: string | undefined }
  | { readonly _tag: "GetObject"; readonly target: ObjectTarget }
  | { readonly _tag: "HeadObject"; readonly target: ObjectTarget }

/** Operations that change stored data or its multipart bookkeeping; anonymous callers never get them. */
export type WriteOperation =
  | { readonly _tag: "CreateBucket"; readonly account: string; readonly product: string | undefined }
  | { readonly _tag: "ListMultipartUploads"; readonly account: string; readonly product: string | undefined }
  | { readonly _tag: "DeleteObjects"; readonly account: string; readonly product: string | undefined }
  | { readonly _tag: "PutObject"; readonly target: ObjectTarget }
  | { readonly _tag: "CopyObject"; readonly target: ObjectTarget; readonly source: ObjectTarget }
  | { readonly _tag: "DeleteObject"; readonly target: ObjectTarget }
  | { readonly _tag: "CreateMultipartUpload"; readonly target: ObjectTarget }
  | { readonly _tag: "UploadPart"; readonly target: ObjectTarget; readonly uploadId: string; readonly partNumber: number }
  | {
    readonly _tag: "UploadPartCopy"
    readonly target: ObjectTarget
    readonly source: ObjectTarget
    readonly uploadId: string
    readonly partNumber: number
  }
  | { readonly _tag: "CompleteMultipartUpload"; readonly target: ObjectTarget; readonly uploadId: string }
  | { readonly _tag: "AbortMultipartUpload"; readonly target: ObjectTarget; readonly uploadId: string }
  | { readonly _tag: "ListParts"; readonly target: ObjectTarget; readonly uploadId: string }

export type Operation = ControlOperation | ReadOperation | WriteOperation

/** Each tag's kind; the mapped type makes a tag missing here, or an unknown one, a compile error. */
const KIND: { readonly [T in Operation["_tag"]]: Extract<Operation, { readonly _tag: T }> extends ControlOperation ? "control"
  : Extract<Operation, { readonly _tag: T }> extends ReadOperation ? "read"
  : "write" } = {
    Index: "control",
    OidcDiscovery: "control",
    Jwks: "control",
    AssumeRoleWithWebIdentity: "control",
    ListAccount: "read",
    ListProduct: "read",
    GetBucketLocation: "read",
    HeadBucket: "read",
    GetObject: "read",
    HeadObject: "read",
    CreateBucket: "write",
    ListMultipartUploads: "write",
    DeleteObjects: "write",
    PutObject: "write",
    CopyObject: "write",
    DeleteObject: "write",
    CreateMultipartUpload: "write",
    UploadPart: "write",
    UploadPartCopy: "write",
    CompleteMultipartUpload: "write",
    AbortMultipartUpload: "write",
    ListParts: "write"
  }

export const isControl = (op: Operation): op is ControlOperation => KIND[op._tag] === "control"

export const isWrite = (op: Operation): op is WriteOperation => KIND[op._tag] === "write"
