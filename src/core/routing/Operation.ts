import type { ListParams } from "../s3/listParams.js"

export interface ObjectTarget {
  readonly account: string
  readonly product: string
  readonly key: string
}

/** What a request asks for, decided from method, path and query alone, before any identity or I/O. */
export type Operation =
  | { readonly _tag: "Index" }
  | { readonly _tag: "ListBuckets" }
  | { readonly _tag: "OidcDiscovery" }
  | { readonly _tag: "Jwks" }
  | { readonly _tag: "AssumeRoleWithWebIdentity" }
  | { readonly _tag: "ListAccount"; readonly account: string; readonly list: ListParams }
  | { readonly _tag: "ListProduct"; readonly account: string; readonly product: string; readonly list: ListParams }
  | { readonly _tag: "GetBucketLocation"; readonly account: string }
  | { readonly _tag: "HeadBucket"; readonly account: string; readonly product: string | undefined }
  | { readonly _tag: "CreateBucket"; readonly account: string; readonly product: string | undefined }
  | { readonly _tag: "ListMultipartUploads"; readonly account: string; readonly product: string | undefined }
  | { readonly _tag: "DeleteObjects"; readonly account: string; readonly product: string | undefined }
  | { readonly _tag: "GetObject"; readonly target: ObjectTarget }
  | { readonly _tag: "HeadObject"; readonly target: ObjectTarget }
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

/** Operations that change stored data; anonymous callers never get them. */
export const isWrite = (op: Operation): boolean => {
  switch (op._tag) {
    case "PutObject":
    case "CopyObject":
    case "DeleteObject":
    case "DeleteObjects":
    case "CreateMultipartUpload":
    case "UploadPart":
    case "UploadPartCopy":
    case "CompleteMultipartUpload":
    case "AbortMultipartUpload":
    case "ListParts":
    case "ListMultipartUploads":
    case "CreateBucket":
      return true
    default:
      return false
  }
}
