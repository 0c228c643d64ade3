import { createHash, randomBytes } from "node:crypto"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { AwsClient } from "aws4fetch"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { runAws, runBoto3 } from "./harness/clients.js"
import {
  CLIENT_TIMEOUT_MS,
  type ClientResult,
  gdalEnv,
  removeClientHome,
  runGdalPython,
  runGdalTool,
  runRclone,
  runS3cmd
} from "./harness/matrixClients.js"
import { listedEntries, type MatrixTarget, sampleObjects, startEmbeddedTarget, startMotoTarget } from "./harness/matrixTargets.js"
import { byteOrder } from "./harness/s3.js"
import { botoCreds, botoSessionClient, credsEnv } from "./harness/sts.js"

/**
 * The real-client matrix (issue #9, "Tests"): rclone, s3cmd and GDAL from Debian, aws-cli and boto3, each
 * doing the same operations through the proxy against the embedded default (local directory store) and
 * against moto (S3). One test per (backend, client, operation) cell, so the run reads as a table. Every
 * client runs as a real process with a timeout, a temporary HOME and path-style addressing; what was
 * written is checked in the backend itself, not only through the proxy.
 */

const SAMPLE = sampleObjects()
const bytesOf = (key: string): Buffer => {
  const bytes = SAMPLE.get(key)
  if (bytes === undefined) throw new Error(`no sample file ${key}`)
  return bytes
}
const PUBLIC_ROWS = [...SAMPLE.keys()]
  .filter((key) => key.startsWith("sample/"))
  .sort(byteOrder)
  .map((key) => ({ key, size: bytesOf(key).length }))
const UNICODE_KEY = "sample/names with spaces/ünïcödé.txt"
const CSV_KEY = "sample/tables/cities.csv"
const GEOJSON_KEY = "sample/places.geojson"
const SECRET_KEY = "private/secret.txt"
const MISSING_KEY = "sample/no-such-file.txt"
const RANGE_START = 10
const RANGE_END = 29 // inclusive, as in `bytes=10-29`

const MiB = 1024 * 1024
/** Larger than every client's 5 MiB part size: at least three parts. */
const BIG = randomBytes(12 * MiB)
const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex")

/** The directory every client syncs twice: nested, with a space, `+`, `=`, `&` and non-ASCII in a name. */
const SYNC_FILES: Record<string, string> = {
  "a.txt": "alpha\n",
  "sub/b.txt": "bravo bravo\n",
  "sub/deeper/c.csv": "x,y\n1,2\n",
  "names with spaces/ünï +=&.txt": "unicode name\n"
}
/**
 * The files' modification time: long before the sync, as most of a user's data is (test/e2e/writes.test.ts
 * syncs files written the same second; the proxy's listings report the end of the backend's second so that
 * case is unchanged too).
 */
const SYNC_MTIME = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678))

const sortRows = (rows: ReadonlyArray<{ key: string; size: number }>) => [...rows].sort((a, b) => byteOrder(a.key, b.key))
const lines = (text: string) => text.split(/\r?\n|\r/).map((line) => line.trim()).filter((line) => line !== "")

/** What a cell needs: the backend, a scratch directory of its own and the key prefix it may write under. */
interface Cell {
  readonly target: MatrixTarget
  readonly work: string
  /** Account-relative: `private/matrix/{client}/`. */
  readonly prefix: string
}

interface Client {
  readonly name: string
  /** Operation label → the test; a client without the operation leaves it out. */
  readonly cells: ReadonlyArray<readonly [string, (cell: Cell) => Promise<void>]>
}

const OP = {
  anonymousRead: "anonymous read (byte-exact)",
  rangedRead: "ranged read",
  productListing: "recursive listing of a product",
  accountListing: "recursive listing of the account",
  signedRead: "signed read of a restricted product (demo/private)",
  singleWrite: "single write",
  multipartWrite: "multipart write (12 MiB in 5 MiB parts)",
  sync: "sync twice: the second transfers nothing",
  delete: "delete",
  errors: "errors surface as S3 errors",
  folderMarker: "folder marker (key ending in /): write, see, delete"
} as const

const expectOk = (result: ClientResult, what: string) =>
  expect(result.status, `${what} failed:\n${result.stderr.slice(-4_000)}\n${result.stdout.slice(-2_000)}`).toBe(0)

/** Writes SYNC_FILES under `dir` with SYNC_MTIME. */
const makeSyncDir = (dir: string) => {
  for (const [name, body] of Object.entries(SYNC_FILES)) {
    const path = join(dir, name)
    mkdirSync(dirname(path), { recursive: true })
    writeFileSync(path, body)
    utimesSync(path, SYNC_MTIME, SYNC_MTIME)
  }
  return dir
}

const expectSynced = async (cell: Cell, prefix: string) => {
  for (const [name, body] of Object.entries(SYNC_FILES)) {
    expect((await cell.target.stored(`${prefix}${name}`))?.toString(), `${prefix}${name} in the backend`).toBe(body)
  }
}

const payload = (client: string) => Buffer.from(`written by ${client} through the proxy\n`)
const SINGLE_NAME = "single/ünï +=&.txt"

// ---------------------------------------------------------------------------------------------------
// aws-cli (v1)

const endpointArgs = (cell: Cell) => ["--endpoint-url", cell.target.proxy.url]
const awsAnon = (cell: Cell, args: ReadonlyArray<string>) => runAws([...args, "--no-sign-request", ...endpointArgs(cell)], CLIENT_TIMEOUT_MS)
const awsSigned = (cell: Cell, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}) =>
  runAws([...args, ...endpointArgs(cell)], CLIENT_TIMEOUT_MS, { ...credsEnv(cell.target.creds), ...env })
const awsText = async (promise: ReturnType<typeof runAws>): Promise<ClientResult> => {
  const result = await promise
  return { status: result.status, stdout: result.stdout.toString(), stderr: result.stderr, bytes: result.stdout }
}
/** `aws s3 ls --recursive` rows: `DATE TIME SIZE KEY` (the key may hold spaces); any other line (`PRE x/`) with size -1. */
const awsRows = (stdout: string) =>
  lines(stdout).map((line) => {
    const match = /^\S+\s+\S+\s+(\d+) (.*)$/.exec(line)
    return match === null ? { key: line, size: -1 } : { key: match[2]!, size: Number(match[1]) }
  })

const awsCli: Client = {
  name: "aws-cli",
  cells: [
    [OP.anonymousRead, async (cell) => {
      for (const key of [UNICODE_KEY, CSV_KEY]) {
        const result = await awsAnon(cell, ["s3", "cp", `s3://demo/${key}`, "-"])
        expect(result.status, result.stderr).toBe(0)
        expect(result.stdout).toEqual(bytesOf(key))
      }
    }],
    [OP.rangedRead, async (cell) => {
      const out = join(cell.work, "range.out")
      const result = await awsText(awsAnon(cell, [
        "s3api", "get-object", "--bucket", "demo", "--key", GEOJSON_KEY, "--range", `bytes=${RANGE_START}-${RANGE_END}`, out
      ]))
      expectOk(result, "aws s3api get-object --range")
      const answer = JSON.parse(result.stdout) as { ContentRange?: string; ContentLength?: number }
      expect(answer.ContentRange).toBe(`bytes ${RANGE_START}-${RANGE_END}/${bytesOf(GEOJSON_KEY).length}`)
      expect(answer.ContentLength).toBe(RANGE_END - RANGE_START + 1)
      expect(readFileSync(out)).toEqual(bytesOf(GEOJSON_KEY).subarray(RANGE_START, RANGE_END + 1))
    }],
    [OP.productListing, async (cell) => {
      const result = await awsText(awsAnon(cell, ["s3", "ls", "--recursive", "s3://demo/sample/"]))
      expectOk(result, "aws s3 ls --recursive s3://demo/sample/")
      expect(sortRows(awsRows(result.stdout))).toEqual(PUBLIC_ROWS)
    }],
    [OP.accountListing, async (cell) => {
      const result = await awsText(awsAnon(cell, ["s3", "ls", "--recursive", "s3://demo/"]))
      expectOk(result, "aws s3 ls --recursive s3://demo/")
      expect(sortRows(awsRows(result.stdout))).toEqual(PUBLIC_ROWS)
    }],
    [OP.signedRead, async (cell) => {
      const result = await awsSigned(cell, ["s3", "cp", `s3://demo/${SECRET_KEY}`, "-"])
      expect(result.status, result.stderr).toBe(0)
      expect(result.stdout).toEqual(bytesOf(SECRET_KEY))
    }],
    [OP.singleWrite, async (cell) => {
      const file = join(cell.work, "single.txt")
      writeFileSync(file, payload("aws-cli"))
      const result = await awsText(awsSigned(cell, ["s3", "cp", file, `s3://demo/${cell.prefix}${SINGLE_NAME}`]))
      expectOk(result, "aws s3 cp")
      expect(await cell.target.stored(`${cell.prefix}${SINGLE_NAME}`)).toEqual(payload("aws-cli"))
    }],
    [OP.multipartWrite, async (cell) => {
      const file = join(cell.work, "big.bin")
      writeFileSync(file, BIG)
      const config = join(cell.work, "aws-multipart.config")
      writeFileSync(config, [
        "[default]", "region = us-east-1", "s3 =", "    addressing_style = path",
        "    multipart_threshold = 5MB", "    multipart_chunksize = 5MB", ""
      ].join("\n"))
      const result = await awsText(awsSigned(cell, ["s3", "cp", file, `s3://demo/${cell.prefix}multi.bin`, "--debug"], { AWS_CONFIG_FILE: config }))
      expectOk(result, "aws s3 cp (multipart)")
      const calls = (name: string) => result.stderr.split(`OperationModel(name=${name})`).length - 1
      expect(calls("UploadPart")).toBeGreaterThanOrEqual(2)
      expect(calls("CompleteMultipartUpload")).toBe(1)
      expect(sha256((await cell.target.stored(`${cell.prefix}multi.bin`)) ?? Buffer.alloc(0))).toBe(sha256(BIG))
    }],
    [OP.sync, async (cell) => {
      const dir = makeSyncDir(join(cell.work, "sync"))
      const remote = `s3://demo/${cell.prefix}sync/`
      const first = await awsText(awsSigned(cell, ["s3", "sync", dir, remote, "--no-progress"]))
      expectOk(first, "the first aws s3 sync")
      expect(lines(first.stdout).filter((line) => line.startsWith("upload:"))).toHaveLength(Object.keys(SYNC_FILES).length)
      await expectSynced(cell, `${cell.prefix}sync/`)
      const written = cell.target.watchWrites(`${cell.prefix}sync/`)
      const second = await awsText(awsSigned(cell, ["s3", "sync", dir, remote, "--no-progress"]))
      expectOk(second, "the second aws s3 sync")
      expect(lines(second.stdout), "the second sync's output").toEqual([])
      expect(await written(), "what the backend saw written during the second sync").toEqual([])
    }],
    [OP.delete, async (cell) => {
      const file = join(cell.work, "delete-me.txt")
      writeFileSync(file, payload("aws-cli"))
      const key = `${cell.prefix}delete/me.txt`
      expectOk(await awsText(awsSigned(cell, ["s3", "cp", file, `s3://demo/${key}`])), "aws s3 cp")
      expect(await cell.target.stored(key)).toEqual(payload("aws-cli"))
      expectOk(await awsText(awsSigned(cell, ["s3", "rm", `s3://demo/${key}`])), "aws s3 rm")
      expect(await cell.target.stored(key)).toBeUndefined()
    }],
    [`${OP.errors}: AccessDenied, NoSuchKey, NoSuchBucket`, async (cell) => {
      const out = join(cell.work, "error.out")
      const attempt = async (bucket: string, key: string) =>
        (await awsAnon(cell, ["s3api", "get-object", "--bucket", bucket, "--key", key, out])).stderr
      expect(await attempt("demo", SECRET_KEY)).toContain("(AccessDenied)")
      expect(await attempt("demo", MISSING_KEY)).toContain("(NoSuchKey)")
      expect(await attempt("no-such-account", "sample/x.txt")).toContain("(NoSuchBucket)")
    }],
    [OP.folderMarker, async (cell) => {
      const key = `${cell.prefix}folder/`
      expectOk(await awsText(awsSigned(cell, ["s3api", "put-object", "--bucket", "demo", "--key", key])), "aws s3api put-object (marker)")
      const head = await awsText(awsSigned(cell, ["s3api", "head-object", "--bucket", "demo", "--key", key]))
      expectOk(head, "aws s3api head-object (marker)")
      expect((JSON.parse(head.stdout) as { ContentLength: number }).ContentLength).toBe(0)
      const listed = await awsText(awsSigned(cell, ["s3", "ls", `s3://demo/${cell.prefix}`]))
      expectOk(listed, "aws s3 ls of the marker's parent")
      expect(lines(listed.stdout)).toContain("PRE folder/")
      expectOk(await awsText(awsSigned(cell, ["s3api", "delete-object", "--bucket", "demo", "--key", key])), "aws s3api delete-object (marker)")
      const gone = await awsText(awsSigned(cell, ["s3api", "head-object", "--bucket", "demo", "--key", key]))
      expect(gone.status).not.toBe(0)
      expect(gone.stderr).toContain("404")
    }]
  ]
}

// ---------------------------------------------------------------------------------------------------
// boto3

const botoInput = (cell: Cell, extra: Record<string, unknown> = {}) => ({
  endpoint: cell.target.proxy.url,
  ...botoCreds(cell.target.creds),
  prefix: cell.prefix,
  ...extra
})
const SIGNED = botoSessionClient("w")

const boto3: Client = {
  name: "boto3",
  cells: [
    [OP.anonymousRead, async (cell) => {
      const out = await runBoto3<Record<string, { body: string; length: number | null }>>(`
        out = {}
        for key in inp["keys"]:
            response = s3.get_object(Bucket="demo", Key=key)
            out[key] = {"body": base64.b64encode(response["Body"].read()).decode(), "length": response.get("ContentLength")}
      `, botoInput(cell, { keys: [UNICODE_KEY, CSV_KEY] }), CLIENT_TIMEOUT_MS)
      for (const key of [UNICODE_KEY, CSV_KEY]) {
        expect(Buffer.from(out[key]!.body, "base64")).toEqual(bytesOf(key))
        expect(out[key]!.length, `ContentLength of ${key}`).toBe(bytesOf(key).length)
      }
    }],
    [OP.rangedRead, async (cell) => {
      const out = await runBoto3<{ body: string; range: string; length: number }>(`
        response = s3.get_object(Bucket="demo", Key=inp["key"], Range=inp["range"])
        out = {"body": base64.b64encode(response["Body"].read()).decode(), "range": response.get("ContentRange"),
               "length": response.get("ContentLength")}
      `, botoInput(cell, { key: GEOJSON_KEY, range: `bytes=${RANGE_START}-${RANGE_END}` }), CLIENT_TIMEOUT_MS)
      expect(out.range).toBe(`bytes ${RANGE_START}-${RANGE_END}/${bytesOf(GEOJSON_KEY).length}`)
      expect(out.length).toBe(RANGE_END - RANGE_START + 1)
      expect(Buffer.from(out.body, "base64")).toEqual(bytesOf(GEOJSON_KEY).subarray(RANGE_START, RANGE_END + 1))
    }],
    [OP.productListing, async (cell) => {
      const rows = await runBoto3<Array<{ key: string; size: number }>>(`
        out = [{"key": o["Key"], "size": o["Size"]}
               for page in s3.get_paginator("list_objects_v2").paginate(Bucket="demo", Prefix="sample/")
               for o in page.get("Contents", [])]
      `, botoInput(cell), CLIENT_TIMEOUT_MS)
      expect(sortRows(rows)).toEqual(PUBLIC_ROWS)
    }],
    [OP.accountListing, async (cell) => {
      const rows = await runBoto3<Array<{ key: string; size: number }>>(`
        out = [{"key": o["Key"], "size": o["Size"]}
               for page in s3.get_paginator("list_objects_v2").paginate(Bucket="demo")
               for o in page.get("Contents", [])]
      `, botoInput(cell), CLIENT_TIMEOUT_MS)
      expect(sortRows(rows)).toEqual(PUBLIC_ROWS)
    }],
    [OP.signedRead, async (cell) => {
      const out = await runBoto3<{ body: string }>(`
        ${SIGNED}
        out = {"body": base64.b64encode(w.get_object(Bucket="demo", Key=inp["key"])["Body"].read()).decode()}
      `, botoInput(cell, { key: SECRET_KEY }), CLIENT_TIMEOUT_MS)
      expect(Buffer.from(out.body, "base64")).toEqual(bytesOf(SECRET_KEY))
    }],
    [OP.singleWrite, async (cell) => {
      await runBoto3(`
        ${SIGNED}
        w.put_object(Bucket="demo", Key=inp["prefix"] + inp["name"], Body=base64.b64decode(inp["body"]))
      `, botoInput(cell, { name: SINGLE_NAME, body: payload("boto3").toString("base64") }), CLIENT_TIMEOUT_MS)
      expect(await cell.target.stored(`${cell.prefix}${SINGLE_NAME}`)).toEqual(payload("boto3"))
    }],
    [OP.multipartWrite, async (cell) => {
      const file = join(cell.work, "big.bin")
      writeFileSync(file, BIG)
      const out = await runBoto3<{ parts: number; completes: number }>(`
        from boto3.s3.transfer import TransferConfig
        ${SIGNED}
        calls = {"UploadPart": 0, "CompleteMultipartUpload": 0}
        def count(model, **kwargs):
            calls[model.name] += 1
        w.meta.events.register("before-call.s3.UploadPart", count)
        w.meta.events.register("before-call.s3.CompleteMultipartUpload", count)
        chunk = 5 * 1024 * 1024
        w.upload_file(inp["file"], "demo", inp["prefix"] + "multi.bin",
            Config=TransferConfig(multipart_threshold=chunk, multipart_chunksize=chunk, max_concurrency=2))
        out = {"parts": calls["UploadPart"], "completes": calls["CompleteMultipartUpload"]}
      `, botoInput(cell, { file }), CLIENT_TIMEOUT_MS)
      expect(out.parts).toBeGreaterThanOrEqual(2)
      expect(out.completes).toBe(1)
      expect(sha256((await cell.target.stored(`${cell.prefix}multi.bin`)) ?? Buffer.alloc(0))).toBe(sha256(BIG))
    }],
    [OP.delete, async (cell) => {
      const out = await runBoto3<{ status: number }>(`
        ${SIGNED}
        key = inp["prefix"] + "delete/me.txt"
        w.put_object(Bucket="demo", Key=key, Body=b"delete me")
        w.delete_object(Bucket="demo", Key=key)
        try:
            w.head_object(Bucket="demo", Key=key)
            out = {"status": 200}
        except ClientError as e:
            out = {"status": error_of(e)["status"]}
      `, botoInput(cell), CLIENT_TIMEOUT_MS)
      expect(out.status).toBe(404)
      expect(await cell.target.stored(`${cell.prefix}delete/me.txt`)).toBeUndefined()
    }],
    [`${OP.errors}: AccessDenied, NoSuchKey, NoSuchBucket`, async (cell) => {
      const out = await runBoto3<Array<{ code: string; status: number } | null>>(`
        out = []
        for bucket, key in inp["attempts"]:
            try:
                s3.get_object(Bucket=bucket, Key=key)
                out.append(None)
            except ClientError as e:
                out.append(error_of(e))
      `, botoInput(cell, { attempts: [["demo", SECRET_KEY], ["demo", MISSING_KEY], ["no-such-account", "sample/x.txt"]] }), CLIENT_TIMEOUT_MS)
      expect(out).toEqual([
        { code: "AccessDenied", status: 403 },
        { code: "NoSuchKey", status: 404 },
        { code: "NoSuchBucket", status: 404 }
      ])
    }],
    [OP.folderMarker, async (cell) => {
      const out = await runBoto3<{ length: number; prefixes: Array<string>; after: number }>(`
        ${SIGNED}
        key = inp["prefix"] + "folder/"
        w.put_object(Bucket="demo", Key=key, Body=b"")
        length = w.head_object(Bucket="demo", Key=key)["ContentLength"]
        listed = w.list_objects_v2(Bucket="demo", Prefix=inp["prefix"], Delimiter="/")
        w.delete_object(Bucket="demo", Key=key)
        try:
            w.head_object(Bucket="demo", Key=key)
            after = 200
        except ClientError as e:
            after = error_of(e)["status"]
        out = {"length": length, "prefixes": [p["Prefix"] for p in listed.get("CommonPrefixes", [])], "after": after}
      `, botoInput(cell), CLIENT_TIMEOUT_MS)
      expect(out.length).toBe(0)
      expect(out.prefixes).toContain(`${cell.prefix}folder/`)
      expect(out.after).toBe(404)
    }]
  ]
}

// ---------------------------------------------------------------------------------------------------
// rclone (remote `sdp:` from the environment; `sdp:demo/…` is bucket `demo`)

const rcloneAnon = (cell: Cell, args: ReadonlyArray<string>) => runRclone(cell.target.proxy.url, undefined, args)
const rcloneSigned = (cell: Cell, args: ReadonlyArray<string>) => runRclone(cell.target.proxy.url, cell.target.creds, args)
/** `rclone lsf --format sp --separator TAB` rows, keys under `base`. */
const rcloneRows = (stdout: string, base: string) =>
  stdout.split("\n").filter((line) => line !== "").map((line) => {
    const tab = line.indexOf("\t")
    return { key: `${base}${line.slice(tab + 1)}`, size: Number(line.slice(0, tab)) }
  })
const LSF = ["lsf", "-R", "--files-only", "--format", "sp", "--separator", "\t"]

const rclone: Client = {
  name: "rclone",
  cells: [
    [OP.anonymousRead, async (cell) => {
      for (const key of [UNICODE_KEY, CSV_KEY]) {
        const result = await rcloneAnon(cell, ["cat", `sdp:demo/${key}`])
        expectOk(result, `rclone cat ${key}`)
        expect(result.bytes).toEqual(bytesOf(key))
      }
    }],
    [OP.rangedRead, async (cell) => {
      const result = await rcloneAnon(cell, ["cat", "--offset", String(RANGE_START), "--count", String(RANGE_END - RANGE_START + 1), `sdp:demo/${GEOJSON_KEY}`])
      expectOk(result, "rclone cat --offset --count")
      expect(result.bytes).toEqual(bytesOf(GEOJSON_KEY).subarray(RANGE_START, RANGE_END + 1))
    }],
    [OP.productListing, async (cell) => {
      const result = await rcloneAnon(cell, [...LSF, "sdp:demo/sample"])
      expectOk(result, "rclone lsf -R sdp:demo/sample")
      expect(sortRows(rcloneRows(result.stdout, "sample/"))).toEqual(PUBLIC_ROWS)
    }],
    [OP.accountListing, async (cell) => {
      const result = await rcloneAnon(cell, [...LSF, "sdp:demo"])
      expectOk(result, "rclone lsf -R sdp:demo")
      expect(sortRows(rcloneRows(result.stdout, ""))).toEqual(PUBLIC_ROWS)
    }],
    [OP.signedRead, async (cell) => {
      const result = await rcloneSigned(cell, ["cat", `sdp:demo/${SECRET_KEY}`])
      expectOk(result, "rclone cat (signed)")
      expect(result.bytes).toEqual(bytesOf(SECRET_KEY))
    }],
    [OP.singleWrite, async (cell) => {
      const file = join(cell.work, "single.txt")
      writeFileSync(file, payload("rclone"))
      expectOk(await rcloneSigned(cell, ["copyto", file, `sdp:demo/${cell.prefix}${SINGLE_NAME}`]), "rclone copyto")
      expect(await cell.target.stored(`${cell.prefix}${SINGLE_NAME}`)).toEqual(payload("rclone"))
    }],
    [OP.multipartWrite, async (cell) => {
      const file = join(cell.work, "big.bin")
      writeFileSync(file, BIG)
      const result = await rcloneSigned(cell, [
        "copyto", file, `sdp:demo/${cell.prefix}multi.bin`, "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M", "-vv"
      ])
      expectOk(result, "rclone copyto (multipart)")
      expect(result.stderr.split("multipart upload starting chunk").length - 1).toBeGreaterThanOrEqual(2)
      expect(sha256((await cell.target.stored(`${cell.prefix}multi.bin`)) ?? Buffer.alloc(0))).toBe(sha256(BIG))
    }],
    [OP.sync, async (cell) => {
      const dir = makeSyncDir(join(cell.work, "sync"))
      const remote = `sdp:demo/${cell.prefix}sync`
      const first = await rcloneSigned(cell, ["sync", dir, remote, "-v"])
      expectOk(first, "the first rclone sync")
      expect(first.stderr.split("Copied (new)").length - 1).toBe(Object.keys(SYNC_FILES).length)
      await expectSynced(cell, `${cell.prefix}sync/`)
      const written = cell.target.watchWrites(`${cell.prefix}sync/`)
      const second = await rcloneSigned(cell, ["sync", dir, remote, "-v"])
      expectOk(second, "the second rclone sync")
      const actions = second.stderr.split("\n").filter((line) => /Copied|Updated|Deleted|modification time/.test(line))
      expect(actions, "what the second sync did").toEqual([])
      expect(await written(), "what the backend saw written during the second sync").toEqual([])
    }],
    [OP.delete, async (cell) => {
      const file = join(cell.work, "delete-me.txt")
      writeFileSync(file, payload("rclone"))
      const key = `${cell.prefix}delete/me.txt`
      expectOk(await rcloneSigned(cell, ["copyto", file, `sdp:demo/${key}`]), "rclone copyto")
      expect(await cell.target.stored(key)).toEqual(payload("rclone"))
      expectOk(await rcloneSigned(cell, ["deletefile", `sdp:demo/${key}`]), "rclone deletefile")
      expect(await cell.target.stored(key)).toBeUndefined()
    }],
    // To rclone a missing key on S3 is an empty directory, never an error: no NoSuchKey case here.
    [`${OP.errors}: AccessDenied, NoSuchBucket (rclone: "directory not found"), SignatureDoesNotMatch`, async (cell) => {
      const denied = await rcloneAnon(cell, ["cat", `sdp:demo/${SECRET_KEY}`])
      expect(denied.status).not.toBe(0)
      expect(denied.stderr).toContain("AccessDenied")
      const account = await rcloneAnon(cell, ["lsf", "sdp:no-such-account/sample"])
      expect(account.status).not.toBe(0)
      expect(account.stderr).toContain("directory not found")
      const forged = await runRclone(cell.target.proxy.url, { ...cell.target.creds, secretAccessKey: "not-the-secret" }, ["lsf", "sdp:demo/sample"])
      expect(forged.status).not.toBe(0)
      expect(forged.stderr).toContain("SignatureDoesNotMatch")
    }]
  ]
}

// ---------------------------------------------------------------------------------------------------
// s3cmd (always signs: every cell uses the session)

const s3cmdRun = (cell: Cell, args: ReadonlyArray<string>) => runS3cmd(cell.target.proxy.url, cell.target.creds, args)
/** `s3cmd ls -r` rows: `DATE TIME SIZE s3://demo/KEY`; any other line (`DIR s3://demo/x/`) with size -1. */
const s3cmdRows = (stdout: string) =>
  lines(stdout).map((line) => {
    const match = /^\S+\s+\S+\s+(\d+)\s+s3:\/\/demo\/(.*)$/.exec(line)
    return match === null ? { key: line, size: -1 } : { key: match[2]!, size: Number(match[1]) }
  })

const s3cmd: Client = {
  name: "s3cmd",
  cells: [
    [`${OP.anonymousRead}: not possible, s3cmd always signs; a session reads the public product`, async (cell) => {
      for (const key of [UNICODE_KEY, CSV_KEY]) {
        const result = await s3cmdRun(cell, ["get", `s3://demo/${key}`, "-"])
        expectOk(result, `s3cmd get ${key}`)
        expect(result.bytes).toEqual(bytesOf(key))
      }
    }],
    [`${OP.rangedRead} (get --continue of a partial download)`, async (cell) => {
      const file = join(cell.work, "places.geojson")
      writeFileSync(file, bytesOf(GEOJSON_KEY).subarray(0, RANGE_START))
      const result = await s3cmdRun(cell, ["get", "--continue", `s3://demo/${GEOJSON_KEY}`, file])
      expectOk(result, "s3cmd get --continue")
      expect(readFileSync(file)).toEqual(bytesOf(GEOJSON_KEY))
    }],
    [OP.productListing, async (cell) => {
      const result = await s3cmdRun(cell, ["ls", "-r", "s3://demo/sample/"])
      expectOk(result, "s3cmd ls -r s3://demo/sample/")
      expect(sortRows(s3cmdRows(result.stdout))).toEqual(PUBLIC_ROWS)
    }],
    [`${OP.accountListing} (signed: the restricted product too)`, async (cell) => {
      const result = await s3cmdRun(cell, ["ls", "-r", "s3://demo/"])
      expectOk(result, "s3cmd ls -r s3://demo/")
      const rows = s3cmdRows(result.stdout)
      expect(sortRows(rows.filter((row) => !row.key.startsWith("private/")))).toEqual(PUBLIC_ROWS)
      expect(rows).toContainEqual({ key: SECRET_KEY, size: bytesOf(SECRET_KEY).length })
    }],
    [OP.signedRead, async (cell) => {
      const result = await s3cmdRun(cell, ["get", `s3://demo/${SECRET_KEY}`, "-"])
      expectOk(result, "s3cmd get (restricted)")
      expect(result.bytes).toEqual(bytesOf(SECRET_KEY))
    }],
    [OP.singleWrite, async (cell) => {
      const file = join(cell.work, "single.txt")
      writeFileSync(file, payload("s3cmd"))
      expectOk(await s3cmdRun(cell, ["put", file, `s3://demo/${cell.prefix}${SINGLE_NAME}`]), "s3cmd put")
      expect(await cell.target.stored(`${cell.prefix}${SINGLE_NAME}`)).toEqual(payload("s3cmd"))
    }],
    [OP.multipartWrite, async (cell) => {
      const file = join(cell.work, "big.bin")
      writeFileSync(file, BIG)
      const result = await s3cmdRun(cell, ["put", "--progress", "--multipart-chunk-size-mb=5", file, `s3://demo/${cell.prefix}multi.bin`])
      expectOk(result, "s3cmd put (multipart)")
      expect(result.stdout).toMatch(/\[part 3 of 3, /)
      expect(sha256((await cell.target.stored(`${cell.prefix}multi.bin`)) ?? Buffer.alloc(0))).toBe(sha256(BIG))
    }],
    [OP.sync, async (cell) => {
      const dir = makeSyncDir(join(cell.work, "sync"))
      const remote = `s3://demo/${cell.prefix}sync/`
      const first = await s3cmdRun(cell, ["sync", "--no-progress", `${dir}/`, remote])
      expectOk(first, "the first s3cmd sync")
      expect(lines(first.stdout).filter((line) => line.startsWith("upload:"))).toHaveLength(Object.keys(SYNC_FILES).length)
      await expectSynced(cell, `${cell.prefix}sync/`)
      const written = cell.target.watchWrites(`${cell.prefix}sync/`)
      const second = await s3cmdRun(cell, ["sync", "--no-progress", `${dir}/`, remote])
      expectOk(second, "the second s3cmd sync")
      expect(lines(second.stdout).filter((line) => /^(upload|remote copy|delete):/.test(line)), "what the second sync did").toEqual([])
      expect(await written(), "what the backend saw written during the second sync").toEqual([])
    }],
    [OP.delete, async (cell) => {
      const file = join(cell.work, "delete-me.txt")
      writeFileSync(file, payload("s3cmd"))
      const key = `${cell.prefix}delete/me.txt`
      expectOk(await s3cmdRun(cell, ["put", file, `s3://demo/${key}`]), "s3cmd put")
      expect(await cell.target.stored(key)).toEqual(payload("s3cmd"))
      expectOk(await s3cmdRun(cell, ["del", `s3://demo/${key}`]), "s3cmd del")
      expect(await cell.target.stored(key)).toBeUndefined()
    }],
    [`${OP.errors}: NoSuchKey, NoSuchBucket, SignatureDoesNotMatch (a demo session is never denied in demo)`, async (cell) => {
      const missing = await s3cmdRun(cell, ["info", `s3://demo/${MISSING_KEY}`])
      expect(missing.status).not.toBe(0)
      expect(missing.stderr).toMatch(/404/)
      const account = await s3cmdRun(cell, ["ls", "s3://no-such-account/"])
      expect(account.status).not.toBe(0)
      expect(account.stderr).toContain("NoSuchBucket")
      const forged = await runS3cmd(cell.target.proxy.url, { ...cell.target.creds, secretAccessKey: "not-the-secret" }, ["ls", "s3://demo/sample/"])
      expect(forged.status).not.toBe(0)
      expect(forged.stderr).toContain("SignatureDoesNotMatch")
    }]
  ]
}

// ---------------------------------------------------------------------------------------------------
// GDAL (/vsis3/; command-line tools and Debian's Python bindings)

const anonGdal = (cell: Cell) => gdalEnv(cell.target.proxy.url, undefined)
const signedGdal = (cell: Cell) => gdalEnv(cell.target.proxy.url, cell.target.creds)
const featureCount = (stdout: string) => Number(/Feature Count: (\d+)/.exec(stdout)?.[1])
/** GDAL 3.6 cpl_vsi_error.h: what `/vsis3/` makes of the S3 error codes. */
const VSIE = { AccessDenied: 6, BucketNotFound: 7, ObjectNotFound: 8 } as const
const GDAL_LIST = `
  gdal.UseExceptions()
  d = gdal.OpenDir(inp["path"], -1)
  out = []
  while True:
      entry = gdal.GetNextDirEntry(d)
      if entry is None:
          break
      if not (entry.mode & 0o170000) == 0o040000:
          out.append({"key": inp["base"] + entry.name, "size": entry.size})
  gdal.CloseDir(d)
`

const gdal: Client = {
  name: "GDAL",
  cells: [
    [`${OP.anonymousRead} (ogrinfo of GeoJSON and CSV)`, async (cell) => {
      const geojson = await runGdalTool("ogrinfo", ["-ro", "-al", "-so", `/vsis3/demo/${GEOJSON_KEY}`], anonGdal(cell))
      expectOk(geojson, "ogrinfo places.geojson")
      expect(featureCount(geojson.stdout)).toBe((JSON.parse(bytesOf(GEOJSON_KEY).toString()) as { features: Array<unknown> }).features.length)
      const csv = await runGdalTool("ogrinfo", ["-ro", "-al", "-so", `/vsis3/demo/${CSV_KEY}`], anonGdal(cell))
      expectOk(csv, "ogrinfo cities.csv")
      expect(featureCount(csv.stdout)).toBe(lines(bytesOf(CSV_KEY).toString()).length - 1)
    }],
    [`${OP.rangedRead} (VSIFSeekL + VSIFReadL)`, async (cell) => {
      const { out } = await runGdalPython<{ body: string }>(`
        import base64
        gdal.UseExceptions()
        f = gdal.VSIFOpenL(inp["path"], "rb")
        gdal.VSIFSeekL(f, inp["start"], 0)
        data = gdal.VSIFReadL(1, inp["length"], f)
        gdal.VSIFCloseL(f)
        out = {"body": base64.b64encode(bytes(data)).decode()}
      `, { path: `/vsis3/demo/${UNICODE_KEY}`, start: 3, length: 9 }, anonGdal(cell))
      expect(Buffer.from(out.body, "base64")).toEqual(bytesOf(UNICODE_KEY).subarray(3, 12))
      const { out: geo } = await runGdalPython<{ body: string }>(`
        import base64
        gdal.UseExceptions()
        f = gdal.VSIFOpenL(inp["path"], "rb")
        gdal.VSIFSeekL(f, inp["start"], 0)
        out = {"body": base64.b64encode(bytes(gdal.VSIFReadL(1, inp["length"], f))).decode()}
        gdal.VSIFCloseL(f)
      `, { path: `/vsis3/demo/${GEOJSON_KEY}`, start: RANGE_START, length: RANGE_END - RANGE_START + 1 }, anonGdal(cell))
      expect(Buffer.from(geo.body, "base64")).toEqual(bytesOf(GEOJSON_KEY).subarray(RANGE_START, RANGE_END + 1))
    }],
    [`${OP.productListing} (OpenDir, recursive)`, async (cell) => {
      const { out } = await runGdalPython<Array<{ key: string; size: number }>>(GDAL_LIST, { path: "/vsis3/demo/sample", base: "sample/" }, anonGdal(cell))
      expect(sortRows(out)).toEqual(PUBLIC_ROWS)
    }],
    [`${OP.accountListing} (OpenDir, recursive)`, async (cell) => {
      const { out } = await runGdalPython<Array<{ key: string; size: number }>>(GDAL_LIST, { path: "/vsis3/demo", base: "" }, anonGdal(cell))
      expect(sortRows(out)).toEqual(PUBLIC_ROWS)
    }],
    [OP.signedRead, async (cell) => {
      const { out } = await runGdalPython<{ body: string }>(`
        import base64
        gdal.UseExceptions()
        f = gdal.VSIFOpenL(inp["path"], "rb")
        out = {"body": base64.b64encode(bytes(gdal.VSIFReadL(1, 1 << 20, f))).decode()}
        gdal.VSIFCloseL(f)
      `, { path: `/vsis3/demo/${SECRET_KEY}` }, signedGdal(cell))
      expect(Buffer.from(out.body, "base64")).toEqual(bytesOf(SECRET_KEY))
    }],
    [`${OP.singleWrite} (ogr2ogr -f GeoJSON to /vsis3/)`, async (cell) => {
      const local = join(cell.work, "cities.csv")
      writeFileSync(local, bytesOf(CSV_KEY))
      const expected = join(cell.work, "expected.geojson")
      expectOk(await runGdalTool("ogr2ogr", ["-f", "GeoJSON", expected, local], signedGdal(cell)), "ogr2ogr to a local file")
      const key = `${cell.prefix}single/cities.geojson`
      expectOk(await runGdalTool("ogr2ogr", ["-f", "GeoJSON", `/vsis3/demo/${key}`, `/vsis3/demo/${CSV_KEY}`], signedGdal(cell)), "ogr2ogr to /vsis3/")
      expect(await cell.target.stored(key)).toEqual(readFileSync(expected))
    }],
    [`${OP.multipartWrite} (VSIS3_CHUNK_SIZE=5)`, async (cell) => {
      const file = join(cell.work, "big.bin")
      writeFileSync(file, BIG)
      const { out, stderr } = await runGdalPython<{ closed: number }>(`
        gdal.UseExceptions()
        data = open(inp["file"], "rb").read()
        f = gdal.VSIFOpenL(inp["path"], "wb")
        gdal.VSIFWriteL(data, 1, len(data), f)
        out = {"closed": gdal.VSIFCloseL(f)}
      `, { file, path: `/vsis3/demo/${cell.prefix}multi.bin` }, signedGdal(cell), { VSIS3_CHUNK_SIZE: "5", CPL_DEBUG: "ON" })
      expect(out.closed).toBe(0)
      expect(stderr.split("Etag for part").length - 1).toBeGreaterThanOrEqual(2)
      expect(sha256((await cell.target.stored(`${cell.prefix}multi.bin`)) ?? Buffer.alloc(0))).toBe(sha256(BIG))
    }],
    [`${OP.sync} (gdal.Sync)`, async (cell) => {
      const dir = makeSyncDir(join(cell.work, "sync"))
      const sync = `
        gdal.UseExceptions()
        out = gdal.Sync(inp["dir"] + "/", inp["remote"])
      `
      const input = { dir, remote: `/vsis3/demo/${cell.prefix}sync/` }
      // The target folder exists, as a product's folders do: GDAL's Sync creates a missing one with a marker
      // and then stats it with a ranged GET, which S3 answers 416 for a zero-byte object, and reports "Cannot
      // create directory" (the same against moto directly, without the proxy).
      const { out: seeded } = await runGdalPython<number>(`
        gdal.UseExceptions()
        f = gdal.VSIFOpenL(inp["path"], "wb")
        gdal.VSIFWriteL(b"already there", 1, 13, f)
        out = gdal.VSIFCloseL(f)
      `, { path: `${input.remote}existing.txt` }, signedGdal(cell))
      expect(seeded).toBe(0)
      expect((await runGdalPython<boolean>(sync, input, signedGdal(cell))).out).toBe(true)
      await expectSynced(cell, `${cell.prefix}sync/`)
      const written = cell.target.watchWrites(`${cell.prefix}sync/`)
      expect((await runGdalPython<boolean>(sync, input, signedGdal(cell))).out).toBe(true)
      expect(await written(), "what the backend saw written during the second sync").toEqual([])
    }],
    [`${OP.delete} (VSIUnlink)`, async (cell) => {
      const key = `${cell.prefix}delete/me.txt`
      const { out } = await runGdalPython<{ closed: number }>(`
        gdal.UseExceptions()
        f = gdal.VSIFOpenL(inp["path"], "wb")
        gdal.VSIFWriteL(b"delete me", 1, 9, f)
        out = {"closed": gdal.VSIFCloseL(f)}
      `, { path: `/vsis3/demo/${key}` }, signedGdal(cell))
      expect(out.closed).toBe(0)
      expect((await cell.target.stored(key))?.toString()).toBe("delete me")
      const { out: unlinked } = await runGdalPython<number>(`
        out = gdal.Unlink(inp["path"])
      `, { path: `/vsis3/demo/${key}` }, signedGdal(cell))
      expect(unlinked).toBe(0)
      expect(await cell.target.stored(key)).toBeUndefined()
    }],
    [`${OP.errors}: AccessDenied, NoSuchKey, NoSuchBucket (VSIGetLastErrorNo)`, async (cell) => {
      const { out } = await runGdalPython<Array<number>>(`
        out = []
        for path in inp["paths"]:
            gdal.VSIErrorReset()
            f = gdal.VSIFOpenExL(path, "rb", True)
            out.append(-1 if f is not None else gdal.VSIGetLastErrorNo())
      `, { paths: [`/vsis3/demo/${SECRET_KEY}`, `/vsis3/demo/${MISSING_KEY}`, "/vsis3/no-such-account/sample/x.txt"] }, anonGdal(cell), {
        // Otherwise GDAL lists the directory first and reports a key it does not see there as absent, without a request.
        GDAL_DISABLE_READDIR_ON_OPEN: "EMPTY_DIR"
      })
      expect(out).toEqual([VSIE.AccessDenied, VSIE.ObjectNotFound, VSIE.BucketNotFound])
    }],
    [`${OP.folderMarker} (VSIMkdir, VSIStatL, VSIRmdir)`, async (cell) => {
      const path = `/vsis3/demo/${cell.prefix}folder`
      const step = async <T>(snippet: string) => (await runGdalPython<T>(snippet, { path }, signedGdal(cell))).out
      expect(await step<number>(`out = gdal.Mkdir(inp["path"], 0o755)`)).toBe(0)
      // A new process each time: GDAL's own cache must not answer for the proxy.
      expect(await step<boolean | null>(`
        s = gdal.VSIStatL(inp["path"])
        out = None if s is None else bool(s.IsDirectory())
      `)).toBe(true)
      expect(await step<number>(`out = gdal.Rmdir(inp["path"])`)).toBe(0)
      expect(await step<boolean | null>(`
        s = gdal.VSIStatL(inp["path"])
        out = None if s is None else bool(s.IsDirectory())
      `)).toBeNull()
    }]
  ]
}

// ---------------------------------------------------------------------------------------------------

const CLIENTS: ReadonlyArray<Client> = [awsCli, boto3, rclone, s3cmd, gdal]
const BACKENDS = [
  { name: "embedded default", start: startEmbeddedTarget, s3: false },
  { name: "moto", start: startMotoTarget, s3: true }
] as const
/** s3cmd retries a 5xx five times with growing waits: a failing cell may take most of a minute. */
const CELL_TIMEOUT_MS = 150_000

afterAll(removeClientHome)

for (const backend of BACKENDS) {
  describe(`clients × ${backend.name}`, () => {
    let target: MatrixTarget | undefined
    let work: string | undefined

    beforeAll(async () => {
      work = mkdtempSync(join(tmpdir(), "sdp-matrix-work-"))
      target = await backend.start()
    }, 120_000)
    afterAll(async () => {
      await target?.stop()
      if (work !== undefined) rmSync(work, { recursive: true, force: true })
    })

    for (const client of CLIENTS) {
      describe(client.name, () => {
        const id = client.name.toLowerCase()
        for (const [operation, test] of client.cells) {
          it(operation, async () => {
            if (target === undefined || work === undefined) throw new Error(`the ${backend.name} target did not start`)
            const scratch = join(work, id, operation.replace(/[^a-z0-9]+/gi, "-").slice(0, 60))
            mkdirSync(scratch, { recursive: true })
            await test({ target, work: scratch, prefix: `private/matrix/${id}/` })
          }, CELL_TIMEOUT_MS)
        }
      })
    }

    if (backend.s3) {
      // Issue #9 item 2: aws s3 sync decides from the listing alone (same Size, remote LastModified not
      // older than the local mtime), so the proxy lists what was written as the backend does, its
      // LastModified as the end of the backend's (whole) second.
      it("aws-cli sync diagnosis: the proxy lists what sync wrote with the backend's own Key (encoding-type=url), Size and ETag, LastModified at the end of its second", async () => {
        if (target?.backendListing === undefined || work === undefined) throw new Error(`the ${backend.name} target did not start`)
        const prefix = "private/matrix/diagnosis/"
        const dir = makeSyncDir(join(work, "diagnosis"))
        const synced = await awsText(runAws(["s3", "sync", dir, `s3://demo/${prefix}`, "--no-progress", "--endpoint-url", target.proxy.url],
          CLIENT_TIMEOUT_MS, credsEnv(target.creds)))
        expectOk(synced, "aws s3 sync")
        const signer = new AwsClient({ ...target.creds, service: "s3", region: "us-east-1" })
        const query = new URLSearchParams({ "list-type": "2", "encoding-type": "url", prefix })
        const response = await signer.fetch(`${target.proxy.url}/demo?${query.toString()}`, { signal: AbortSignal.timeout(10_000) })
        const xml = await response.text()
        expect(response.status, xml).toBe(200)
        const backendSide = await target.backendListing(prefix)
        expect(backendSide.map((entry) => decodeURIComponent(entry.key)).sort(byteOrder))
          .toEqual(Object.keys(SYNC_FILES).map((name) => `${prefix}${name}`).sort(byteOrder))
        const endOfSecond = (time: string) => new Date((Math.floor(Date.parse(time) / 1000) + 1) * 1000).toISOString()
        expect(listedEntries(xml)).toEqual(backendSide.map((entry) => ({ ...entry, lastModified: endOfSecond(entry.lastModified) })))
      }, CELL_TIMEOUT_MS)
    }
  })
}
