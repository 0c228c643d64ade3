import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { Operation } from "../../src/core/operations/Operation.js"
import { classify } from "../../src/core/routing/classify.js"
import { s3Request } from "../fixtures/requests.js"

interface Case {
  readonly method: string
  readonly path: string
  readonly headers?: Record<string, string>
  readonly body?: string
}

const run = (c: Case) =>
  classify(s3Request(c.method, c.path, { ...(c.headers ? { headers: c.headers } : {}), ...(c.body !== undefined ? { body: c.body } : {}) }))

const target = (key: string, account = "acct", product = "prod") => ({ account, product, key })

const defaultList = { version: 1, prefix: "", delimiter: "", maxKeys: 1000, continuationToken: undefined, sentContinuationToken: undefined, startAfter: undefined, encodingType: undefined } as const

/** Requests that classify to an operation, and the operation (compared whole). */
const routes: ReadonlyArray<readonly [string, Case, Operation]> = [
  ["GET / is the index", { method: "GET", path: "/" }, { _tag: "Index" }],
  ["GET / with any query is the index", { method: "GET", path: "/?list-type=2&acl" }, { _tag: "Index" }],
  ["OIDC discovery", { method: "GET", path: "/.well-known/openid-configuration" }, { _tag: "OidcDiscovery" }],
  ["JWKS", { method: "GET", path: "/.well-known/jwks.json" }, { _tag: "Jwks" }],
  ["/.sts", { method: "POST", path: "/.sts" }, { _tag: "AssumeRoleWithWebIdentity" }],
  ["/.sts/", { method: "POST", path: "/.sts/" }, { _tag: "AssumeRoleWithWebIdentity" }],
  ["GET /.sts with query", { method: "GET", path: "/.sts?Action=AssumeRoleWithWebIdentity" }, {
    _tag: "AssumeRoleWithWebIdentity"
  }],
  ["/.sts/assume-role-with-web-identity", { method: "POST", path: "/.sts/assume-role-with-web-identity" }, {
    _tag: "AssumeRoleWithWebIdentity"
  }],
  ["GET /{account} lists the account (V1)", { method: "GET", path: "/acct" }, {
    _tag: "ListAccount",
    account: "acct",
    list: defaultList
  }],
  ["GET /{account}/ lists the account", { method: "GET", path: "/acct/" }, { _tag: "ListAccount", account: "acct", list: defaultList }],
  ["GET /{account}?list-type=2&prefix=p/ lists the account (V2, prefix-routed)", {
    method: "GET",
    path: "/acct?list-type=2&prefix=prod%2Fsub%2F&max-keys=5"
  }, {
    _tag: "ListAccount",
    account: "acct",
    list: { ...defaultList, version: 2, prefix: "prod/sub/", maxKeys: 5 }
  }],
  ["GET /{account}/{product} lists the product (V1)", { method: "GET", path: "/acct/prod?marker=m&delimiter=/" }, {
    _tag: "ListProduct",
    account: "acct",
    product: "prod",
    list: { ...defaultList, delimiter: "/", startAfter: "m" }
  }],
  ["GET /{account}/{product}/ lists the product (V2)", {
    method: "GET",
    path: "/acct/prod/?list-type=2&continuation-token=abc%2Fdef&start-after=foo%2F&encoding-type=url"
  }, {
    _tag: "ListProduct",
    account: "acct",
    product: "prod",
    list: { ...defaultList, version: 2, continuationToken: "abc/def", sentContinuationToken: "abc/def", startAfter: "foo/", encodingType: "url" }
  }],
  ["GET ?location on the account", { method: "GET", path: "/acct?location" }, { _tag: "GetBucketLocation", account: "acct" }],
  ["HEAD on the account", { method: "HEAD", path: "/acct" }, { _tag: "HeadBucket", account: "acct", product: undefined }],
  ["HEAD on the product root (trailing slash)", { method: "HEAD", path: "/acct/prod/" }, {
    _tag: "HeadBucket",
    account: "acct",
    product: "prod"
  }],
  ["HEAD on the product with a listing parameter", { method: "HEAD", path: "/acct/prod?prefix=" }, {
    _tag: "HeadBucket",
    account: "acct",
    product: "prod"
  }],
  ["GET /{account}/{product}/ with no query lists the product", { method: "GET", path: "/acct/prod/" }, {
    _tag: "ListProduct",
    account: "acct",
    product: "prod",
    list: defaultList
  }],
  ["GET /{account} with no query lists the account", { method: "GET", path: "/acct" }, { _tag: "ListAccount", account: "acct", list: defaultList }],
  ["max-keys=0 is a valid page size", { method: "GET", path: "/acct/prod/?max-keys=0" }, {
    _tag: "ListProduct",
    account: "acct",
    product: "prod",
    list: { ...defaultList, maxKeys: 0 }
  }],
  ["GET a folder marker", { method: "GET", path: "/acct/prod/dir/" }, { _tag: "GetObject", target: target("dir/") }],
  ["HEAD a nested folder marker", { method: "HEAD", path: "/acct/prod/a/b/" }, { _tag: "HeadObject", target: target("a/b/") }],
  ["PUT a folder marker", { method: "PUT", path: "/acct/prod/dir/", headers: { "content-length": "0" }, body: "" }, {
    _tag: "PutObject",
    target: target("dir/")
  }],
  ["DELETE a folder marker", { method: "DELETE", path: "/acct/prod/dir/" }, { _tag: "DeleteObject", target: target("dir/") }],
  ["copy a folder marker", { method: "PUT", path: "/acct/prod/dst/", headers: { "x-amz-copy-source": "/src/p/dir/" } }, {
    _tag: "CopyObject",
    target: target("dst/"),
    source: target("dir/", "src", "p")
  }],
  ["empty PUT on the product creates a bucket", { method: "PUT", path: "/acct/prod" }, {
    _tag: "CreateBucket",
    account: "acct",
    product: "prod"
  }],
  ["PUT with content-length: 0 on the account creates a bucket", {
    method: "PUT",
    path: "/acct",
    headers: { "content-length": "0" },
    body: ""
  }, { _tag: "CreateBucket", account: "acct", product: undefined }],
  ["POST ?delete on the account", { method: "POST", path: "/acct?delete" }, {
    _tag: "DeleteObjects",
    account: "acct",
    product: undefined
  }],
  ["POST ?delete on the product", { method: "POST", path: "/acct/prod?delete" }, {
    _tag: "DeleteObjects",
    account: "acct",
    product: "prod"
  }],
  ["GET ?uploads on the product", { method: "GET", path: "/acct/prod?uploads" }, {
    _tag: "ListMultipartUploads",
    account: "acct",
    product: "prod"
  }],
  ["GET an object", { method: "GET", path: "/acct/prod/dir/file.parquet" }, { _tag: "GetObject", target: target("dir/file.parquet") }],
  ["GET ?uploadId= lists parts", { method: "GET", path: "/acct/prod/k?uploadId=u1" }, {
    _tag: "ListParts",
    target: target("k"),
    uploadId: "u1"
  }],
  ["HEAD an object", { method: "HEAD", path: "/acct/prod/k" }, { _tag: "HeadObject", target: target("k") }],
  ["PUT an object", { method: "PUT", path: "/acct/prod/k", body: "data", headers: { "content-length": "4" } }, {
    _tag: "PutObject",
    target: target("k")
  }],
  ["PUT with x-id=PutObject", { method: "PUT", path: "/acct/prod/k?x-id=PutObject" }, { _tag: "PutObject", target: target("k") }],
  ["copy, source with leading slash", {
    method: "PUT",
    path: "/acct/prod/dst",
    headers: { "x-amz-copy-source": "/src/p/dir/a.txt" }
  }, { _tag: "CopyObject", target: target("dst"), source: target("dir/a.txt", "src", "p") }],
  ["copy, source without leading slash", {
    method: "PUT",
    path: "/acct/prod/dst",
    headers: { "x-amz-copy-source": "src/p/a.txt" }
  }, { _tag: "CopyObject", target: target("dst"), source: target("a.txt", "src", "p") }],
  ["copy, source with ?versionId= and a percent-encoded key", {
    method: "PUT",
    path: "/acct/prod/dst",
    headers: { "x-amz-copy-source": "/src/p/a%20b%2Bc%2Fd.txt?versionId=v42" }
  }, { _tag: "CopyObject", target: target("dst"), source: target("a b+c/d.txt", "src", "p") }],
  ["upload a part", { method: "PUT", path: "/acct/prod/k?partNumber=3&uploadId=u1" }, {
    _tag: "UploadPart",
    target: target("k"),
    uploadId: "u1",
    partNumber: 3
  }],
  ["upload part 10000", { method: "PUT", path: "/acct/prod/k?partNumber=10000&uploadId=u1" }, {
    _tag: "UploadPart",
    target: target("k"),
    uploadId: "u1",
    partNumber: 10000
  }],
  ["upload a part by copy", {
    method: "PUT",
    path: "/acct/prod/k?partNumber=1&uploadId=u1",
    headers: { "x-amz-copy-source": "src/p/big.bin" }
  }, { _tag: "UploadPartCopy", target: target("k"), source: target("big.bin", "src", "p"), uploadId: "u1", partNumber: 1 }],
  ["create a multipart upload", { method: "POST", path: "/acct/prod/k?uploads" }, {
    _tag: "CreateMultipartUpload",
    target: target("k")
  }],
  ["uploads wins over uploadId on POST", { method: "POST", path: "/acct/prod/k?uploadId=u&uploads" }, {
    _tag: "CreateMultipartUpload",
    target: target("k")
  }],
  ["complete a multipart upload", { method: "POST", path: "/acct/prod/k?uploadId=u1" }, {
    _tag: "CompleteMultipartUpload",
    target: target("k"),
    uploadId: "u1"
  }],
  ["abort a multipart upload", { method: "DELETE", path: "/acct/prod/k?uploadId=u1" }, {
    _tag: "AbortMultipartUpload",
    target: target("k"),
    uploadId: "u1"
  }],
  ["delete an object", { method: "DELETE", path: "/acct/prod/k" }, { _tag: "DeleteObject", target: target("k") }],
  ["versionId on GET is harmless", { method: "GET", path: "/acct/prod/k?versionId=v1" }, { _tag: "GetObject", target: target("k") }],
  ["x-id on GET is harmless", { method: "GET", path: "/acct/prod/k?x-id=GetObject" }, { _tag: "GetObject", target: target("k") }],
  ["a cache buster on GET is harmless", { method: "GET", path: "/acct/prod/k?t=1" }, { _tag: "GetObject", target: target("k") }],
  ["response-* overrides are harmless", { method: "GET", path: "/acct/prod/k?response-content-type=text%2Fplain" }, {
    _tag: "GetObject",
    target: target("k")
  }],
  ["a presigned GET's query is harmless", {
    method: "GET",
    path: "/acct/prod/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a%2Fb&X-Amz-Signature=00"
  }, { _tag: "GetObject", target: target("k") }],
  ["a percent-encoded key is decoded whole, %2F included", { method: "GET", path: "/acct/prod/a%20b%2Fc+d" }, {
    _tag: "GetObject",
    target: target("a b/c+d")
  }],
  ["a unicode key", { method: "GET", path: "/acct/prod/%C3%BC%E2%82%AC.txt" }, { _tag: "GetObject", target: target("ü€.txt") }],
  ["%2F in the account does not split it", { method: "GET", path: "/ac%2Fct/prod/k" }, {
    _tag: "GetObject",
    target: target("k", "ac/ct")
  }]
]

/** Requests that fail, with the error tag and (part of) its message. */
const failures: ReadonlyArray<readonly [string, Case, string, string?]> = [
  ["PUT with a body on the product root", {
    method: "PUT",
    path: "/acct/prod",
    body: "abc",
    headers: { "content-length": "3" }
  }, "InvalidRequest", "Missing object key: a PUT must address an object at /{account}/{product}/{key}, not the product root."],
  ["PUT with a chunked body on the product root", {
    method: "PUT",
    path: "/acct/prod/",
    body: "abc",
    headers: { "transfer-encoding": "chunked" }
  }, "InvalidRequest", "Missing object key: a PUT"],
  ["PUT with a body on the account", {
    method: "PUT",
    path: "/acct",
    body: "abc",
    headers: { "content-length": "3" }
  }, "InvalidRequest", "Missing object key: a PUT"],
  ["PUT /", { method: "PUT", path: "/" }, "InvalidRequest", "Missing object key: a PUT"],
  ["DELETE /", { method: "DELETE", path: "/" }, "InvalidRequest", "Missing object key: a DELETE"],
  ["DELETE on the account", { method: "DELETE", path: "/acct" }, "InvalidRequest", "Missing object key: a DELETE"],
  ["DELETE on the product", { method: "DELETE", path: "/acct/prod" }, "InvalidRequest", "Missing object key: a DELETE"],
  ["DELETE on the product with a slash", { method: "DELETE", path: "/acct/prod/" }, "InvalidRequest", "Missing object key: a DELETE"],
  ["HEAD /", { method: "HEAD", path: "/" }, "InvalidRequest", "unsupported operation on /"],
  ["POST /", { method: "POST", path: "/" }, "InvalidRequest", "unsupported operation on /"],
  ["POST on an object without subresource", { method: "POST", path: "/acct/prod/k" }, "InvalidRequest", "unsupported POST operation"],
  ["POST on a product without subresource", { method: "POST", path: "/acct/prod" }, "InvalidRequest", "unsupported POST operation"],
  ["PATCH on an object", { method: "PATCH", path: "/acct/prod/k" }, "InvalidRequest", "unsupported method: PATCH"],
  ["PATCH on a product", { method: "PATCH", path: "/acct/prod" }, "InvalidRequest", "unsupported method: PATCH"],
  ["upload part without partNumber", { method: "PUT", path: "/acct/prod/k?uploadId=u" }, "InvalidRequest", "partNumber"],
  ["upload part 0", { method: "PUT", path: "/acct/prod/k?uploadId=u&partNumber=0" }, "InvalidRequest", "partNumber"],
  ["upload part 10001", { method: "PUT", path: "/acct/prod/k?uploadId=u&partNumber=10001" }, "InvalidRequest", "partNumber"],
  ["upload part -1", { method: "PUT", path: "/acct/prod/k?uploadId=u&partNumber=-1" }, "InvalidRequest", "partNumber"],
  ["upload part 1.5", { method: "PUT", path: "/acct/prod/k?uploadId=u&partNumber=1.5" }, "InvalidRequest", "partNumber"],
  ["upload part abc", { method: "PUT", path: "/acct/prod/k?uploadId=u&partNumber=abc" }, "InvalidRequest", "partNumber"],
  ["copy source without key", {
    method: "PUT",
    path: "/acct/prod/k",
    headers: { "x-amz-copy-source": "/src/p" }
  }, "InvalidRequest", "x-amz-copy-source"],
  ["copy source with only an account", {
    method: "PUT",
    path: "/acct/prod/k",
    headers: { "x-amz-copy-source": "src" }
  }, "InvalidRequest", "x-amz-copy-source"],
  ["copy source with a malformed escape", {
    method: "PUT",
    path: "/acct/prod/k",
    headers: { "x-amz-copy-source": "/src/p/%zz" }
  }, "InvalidRequest", "x-amz-copy-source"],
  ["copy source with a .. segment", {
    method: "PUT",
    path: "/acct/prod/k",
    headers: { "x-amz-copy-source": "/src/p/a/%2E%2E/b" }
  }, "InvalidRequest", "invalid object key"],
  ["two trailing slashes make an invalid key", { method: "GET", path: "/acct/prod/dir//" }, "InvalidRequest", "invalid object key \"dir//\""],
  ["a key of only a slash is invalid", { method: "PUT", path: "/acct/prod//" }, "InvalidRequest", "invalid object key \"/\""],
  ["a folder marker under an empty segment is invalid", { method: "DELETE", path: "/acct/prod/a//b/" }, "InvalidRequest", "invalid object key"],
  ["GET /{account}/{product} without slash or listing parameter is the object {product}", { method: "GET", path: "/acct/prod" }, "NoSuchKey"],
  ["HEAD /{account}/{product} without slash is the object {product}", { method: "HEAD", path: "/acct/prod" }, "NoSuchKey"],
  ["a harmless parameter does not make it a listing", { method: "GET", path: "/acct/prod?x-id=GetObject&versionId=v1" }, "NoSuchKey"],
  ["max-keys=abc", { method: "GET", path: "/acct/prod?list-type=2&max-keys=abc" }, "InvalidArgument", "max-keys"],
  ["max-keys=-1", { method: "GET", path: "/acct?max-keys=-1" }, "InvalidArgument", "max-keys"],
  ["max-keys=1.5", { method: "GET", path: "/acct/prod/?max-keys=1.5" }, "InvalidArgument", "max-keys"],
  ["an empty max-keys", { method: "GET", path: "/acct/?list-type=2&max-keys=" }, "InvalidArgument", "max-keys"],
  ["a double slash makes an invalid key", { method: "GET", path: "/acct/prod/a//b" }, "InvalidRequest", "invalid object key"],
  ["an encoded .. cannot escape the product", { method: "GET", path: "/acct/prod/a%2F..%2Fb" }, "InvalidRequest", "invalid object key"],
  ["a control character in the key", { method: "GET", path: "/acct/prod/a%0Ab" }, "InvalidRequest", "invalid object key"],
  ["a malformed escape in the key", { method: "GET", path: "/acct/prod/%zz" }, "InvalidURI", "Couldn't parse the specified URI."],
  ["a malformed escape in the account", { method: "GET", path: "/%E0%A4%A/prod" }, "InvalidURI"],
  ["an empty product with a key", { method: "GET", path: "/acct//k" }, "NoSuchBucket"],
  ["a path of empty segments", { method: "GET", path: "//k" }, "NoSuchBucket"],
  ["non-GET on .well-known is a bucket named .well-known", { method: "POST", path: "/.well-known/openid-configuration" }, "InvalidRequest"]
]

const UNSUPPORTED = [
  "acl", "tagging", "versioning", "versions", "policy", "cors", "lifecycle", "website", "retention", "legal-hold",
  "object-lock", "restore", "select", "torrent", "attributes", "notification", "encryption", "replication", "logging"
]

describe("classify", () => {
  for (const [name, request, expected] of routes) {
    it.effect(`${request.method} ${request.path}: ${name}`, () =>
      Effect.gen(function*() {
        expect(yield* run(request)).toStrictEqual(expected)
      }))
  }

  for (const [name, request, tag, message] of failures) {
    it.effect(`${request.method} ${request.path}: ${name} → ${tag}`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(run(request))
        expect(error._tag).toBe(tag)
        if (message !== undefined && "message" in error) expect(error.message).toContain(message)
      }))
  }

  it.effect("GET /{account}/{product} is a listing with any listing parameter, the object {product} without one", () =>
    Effect.gen(function*() {
      for (const parameter of ["list-type=2", "prefix=", "delimiter=%2F", "max-keys=5", "marker=m", "encoding-type=url", "continuation-token=t", "start-after=s"]) {
        const op = yield* run({ method: "GET", path: `/acct/prod?${parameter}` })
        expect([parameter, op._tag]).toStrictEqual([parameter, "ListProduct"])
      }
      const error = yield* Effect.flip(run({ method: "GET", path: "/acct/prod" }))
      expect(error).toMatchObject({ _tag: "NoSuchKey", key: "prod" })
    }))

  describe("unsupported subresources are 501, whatever the method and level", () => {
    for (const sub of UNSUPPORTED) {
      it.effect(`?${sub} on an object, a product and an account, any method`, () =>
        Effect.gen(function*() {
          for (const [method, path] of [["GET", `/acct/prod/k?${sub}`], ["PUT", `/acct/prod/k?${sub}=`], ["HEAD", `/acct/prod/k?${sub}`], [
            "GET",
            `/acct/prod?${sub}`
          ], ["DELETE", `/acct?${sub}`], ["POST", `/acct/prod/k?${sub}&uploads`]] as const) {
            const error = yield* Effect.flip(run({ method, path }))
            expect(error._tag, `${method} ${path}`).toBe("NotImplemented")
            expect("message" in error && error.message).toContain(sub)
          }
        }))
    }

    it.effect("a subresource next to harmless parameters is still 501", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(run({ method: "GET", path: "/acct/prod/k?x-id=GetObjectTagging&versionId=1&tagging" }))
        expect(error._tag).toBe("NotImplemented")
      }))

    it.effect("a PUT ?acl with a body is never an overwrite", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(run({ method: "PUT", path: "/acct/prod/k?acl", body: "<x/>", headers: { "content-length": "4" } }))
        expect(error._tag).toBe("NotImplemented")
      }))
  })
})
