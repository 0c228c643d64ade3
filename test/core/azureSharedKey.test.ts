import { createHmac } from "node:crypto"
import { StorageSharedKeyCredential } from "@azure/storage-blob"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { decodeAccountKey, sharedKeyAuthorization, stringToSign } from "../../src/core/backends/azure/sharedKey.js"
import { NodeCryptoHmac } from "../../src/platform/bun/NodeCryptoHmac.js"
import { Hmac } from "../../src/core/services/Hmac.js"

const ACCOUNT = "myaccount"
/** Any base64 key will do; this is Azurite's well-known one. */
const KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

const sign = (method: string, url: string, headers: Headers) =>
  Effect.runPromise(
    Effect.flatMap(Hmac, (hmac) => sharedKeyAuthorization(hmac, ACCOUNT, decodeAccountKey(KEY)!, { method, url, headers })).pipe(
      Effect.provide(NodeCryptoHmac)
    )
  )

/** The signature computed by hand from the documented algorithm, with node:crypto. */
const expectedAuthorization = (text: string) =>
  `SharedKey ${ACCOUNT}:${createHmac("sha256", Buffer.from(KEY, "base64")).update(text, "utf8").digest("base64")}`

describe("SharedKey string to sign (Blob service, 2009-09-19+)", () => {
  it("a ranged, conditional GET of a blob: eleven standard lines, x-ms-* headers sorted, /account/container/blob", async () => {
    const url = "https://myaccount.blob.core.windows.net/mycontainer/dir/a%20b%2Bc%3D%C3%BC.txt"
    const headers = new Headers({
      "x-ms-version": "2021-12-02",
      "x-ms-date": "Tue, 02 Jan 2024 03:04:05 GMT",
      range: "bytes=0-9",
      "if-none-match": "\"0x8D\"",
      "if-modified-since": "Mon, 01 Jan 2024 00:00:00 GMT"
    })
    const text = [
      "GET",
      "", // Content-Encoding
      "", // Content-Language
      "", // Content-Length
      "", // Content-MD5
      "", // Content-Type
      "", // Date
      "Mon, 01 Jan 2024 00:00:00 GMT", // If-Modified-Since
      "", // If-Match
      "\"0x8D\"", // If-None-Match
      "", // If-Unmodified-Since
      "bytes=0-9", // Range
      "x-ms-date:Tue, 02 Jan 2024 03:04:05 GMT",
      "x-ms-version:2021-12-02",
      "/myaccount/mycontainer/dir/a%20b%2Bc%3D%C3%BC.txt"
    ].join("\n")
    expect(stringToSign("GET", url, headers, ACCOUNT)).toBe(text)
    expect(await sign("GET", url, headers)).toBe(expectedAuthorization(text))
  })

  it("a listing: query parameters lowercased, sorted, decoded, one a line", () => {
    const url = "https://myaccount.blob.core.windows.net/mycontainer?restype=container&comp=list&prefix=a%20b%2Fc%2B&delimiter=%2F&maxresults=10&marker=2%21abc"
    const headers = new Headers({ "x-ms-version": "2021-12-02", "x-ms-date": "Tue, 02 Jan 2024 03:04:05 GMT" })
    expect(stringToSign("GET", url, headers, ACCOUNT)).toBe([
      "GET", "", "", "", "", "", "", "", "", "", "", "",
      "x-ms-date:Tue, 02 Jan 2024 03:04:05 GMT",
      "x-ms-version:2021-12-02",
      "/myaccount/mycontainer",
      "comp:list",
      "delimiter:/",
      "marker:2!abc",
      "maxresults:10",
      "prefix:a b/c+",
      "restype:container"
    ].join("\n"))
  })

  it("an emulator's path-style endpoint signs the account twice (/account/account/container/blob), as the SDKs do", () => {
    const text = stringToSign("HEAD", "http://127.0.0.1:10000/devstoreaccount1/c/k", new Headers(), "devstoreaccount1")
    expect(text.endsWith("\n/devstoreaccount1/devstoreaccount1/c/k")).toBe(true)
  })

  it("Content-Length 0 signs as empty; x-ms-* values have their whitespace folded", () => {
    const text = stringToSign("GET", "https://a.blob.core.windows.net/c/k", new Headers({
      "content-length": "0",
      "x-ms-meta-note": "  two   words ",
      "x-ms-version": "2021-12-02"
    }), "a")
    expect(text).toBe(["GET", "", "", "", "", "", "", "", "", "", "", "", "x-ms-meta-note:two words", "x-ms-version:2021-12-02", "/a/c/k"].join("\n"))
  })

  it("agrees with @azure/storage-blob's own SharedKey policy (an independent implementation)", async () => {
    const credential = new StorageSharedKeyCredential(ACCOUNT, KEY)
    const policy = credential.create({ sendRequest: () => Promise.reject(new Error("not sent")) }, { log: () => {}, shouldLog: () => false })
    for (const [url, extra] of [
      ["https://myaccount.blob.core.windows.net/mycontainer/dir/a%20b%2Bc%3D%C3%BC.txt", { range: "bytes=100-", "if-match": "\"0x1\"" }],
      ["https://myaccount.blob.core.windows.net/mycontainer?restype=container&comp=list&prefix=x%20y&maxresults=5", {}],
      ["http://127.0.0.1:10000/myaccount/mycontainer/k.bin", { "if-unmodified-since": "Mon, 01 Jan 2024 00:00:00 GMT" }]
    ] as const) {
      const sdkHeaders = new Map<string, string>([["x-ms-version", "2021-12-02"], ...Object.entries(extra)])
      const request = {
        method: "GET",
        url,
        headers: {
          get: (name: string) => sdkHeaders.get(name.toLowerCase()),
          set: (name: string, value: string | number) => void sdkHeaders.set(name.toLowerCase(), String(value)),
          headersArray: () => [...sdkHeaders].map(([name, value]) => ({ name, value }))
        }
      }
      ;(policy as unknown as { signRequest: (r: typeof request) => unknown }).signRequest(request)
      const sdkAuthorization = sdkHeaders.get("authorization")
      sdkHeaders.delete("authorization")
      expect(await sign("GET", url, new Headers([...sdkHeaders]))).toBe(sdkAuthorization)
    }
  })

  it("account keys: base64 only", () => {
    expect(decodeAccountKey(KEY)?.length).toBe(64)
    expect(decodeAccountKey("not base64!")).toBeUndefined()
    expect(decodeAccountKey("")).toBeUndefined()
  })
})
