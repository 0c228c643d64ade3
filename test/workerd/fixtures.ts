/**
 * Upstreams for the workerd tests, all on 127.0.0.1: a scripted Source API (node:http, with a hit counter
 * per path) and moto's S3 server.
 */
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3"
import { type ChildProcess, spawn } from "node:child_process"
import { createServer } from "node:http"
import { createServer as createNetServer } from "node:net"

export interface Answer {
  readonly status: number
  readonly json?: unknown
}

/** A fixed answer, or one chosen by the how-many-th call this is (1-based). */
export type Responder = Answer | ((call: number) => Answer)

export interface FakeSourceApi {
  readonly url: string
  /** How many requests reached this path (query excluded). */
  hits(path: string): number
  route(path: string, responder: Responder): void
  stop(): Promise<void>
}

export const startSourceApi = async (): Promise<FakeSourceApi> => {
  const routes = new Map<string, Responder>()
  const counts = new Map<string, number>()
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://x").pathname
    const call = (counts.get(path) ?? 0) + 1
    counts.set(path, call)
    const responder = routes.get(path)
    const answer = responder === undefined
      ? { status: 404, json: { error: "not found" } }
      : typeof responder === "function"
      ? responder(call)
      : responder
    request.resume()
    response.writeHead(answer.status, { "content-type": "application/json" })
    response.end(JSON.stringify(answer.json ?? {}))
  })
  server.keepAliveTimeout = 1_000
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  const port = typeof address === "object" && address !== null ? address.port : 0
  return {
    url: `http://127.0.0.1:${port}`,
    hits: (path) => counts.get(path) ?? 0,
    route: (path, responder) => void routes.set(path, responder),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createNetServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export interface RunningMoto {
  /** `http://127.0.0.1:PORT`, path-style S3; moto does not check signatures. */
  readonly endpoint: string
  readonly s3: S3Client
  putObject(bucket: string, key: string, body: Uint8Array | string): Promise<void>
  createBucket(bucket: string): Promise<void>
  stop(): Promise<void>
}

const killGroup = (child: ChildProcess, signal: NodeJS.Signals) => {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal)
  } catch {
    // gone
  }
}

export const startMoto = async (): Promise<RunningMoto> => {
  const port = await freePort()
  // The shell is a watchdog: when this process dies without stopping moto (a killed test worker runs no
  // exit hooks), its end of stdin closes, `read` returns and moto is killed.
  const child = spawn("bash", ["-c", 'moto_server -H 127.0.0.1 -p "$1" & read -r _; kill $! 2>/dev/null; wait', "moto", String(port)], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, PYTHONUNBUFFERED: "1" },
    detached: true
  })
  const onExit = () => killGroup(child, "SIGKILL")
  process.once("exit", onExit)
  let output = ""
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-8_000))
  child.stdout.on("data", keep)
  child.stderr.on("data", keep)
  const stop = () =>
    new Promise<void>((resolve) => {
      process.off("exit", onExit)
      if (child.exitCode !== null || child.signalCode !== null) return resolve()
      const timer = setTimeout(() => killGroup(child, "SIGKILL"), 3_000)
      child.once("exit", () => {
        clearTimeout(timer)
        resolve()
      })
      killGroup(child, "SIGTERM")
    })

  const endpoint = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited (${child.exitCode}):\n${output}`)
    try {
      const response = await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(1_000) })
      await response.arrayBuffer()
      if (response.ok) break
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`moto_server did not answer within 30 s:\n${output}`)
    }
    await sleep(100)
  }

  const s3 = new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "test", secretAccessKey: "test" }
  })
  return {
    endpoint,
    s3,
    createBucket: async (bucket) => void (await s3.send(new CreateBucketCommand({ Bucket: bucket }))),
    putObject: async (bucket, key, body) => void (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }))),
    stop: async () => {
      s3.destroy()
      await stop()
    }
  }
}

/** A public product whose only mirror is `connectionId` at `prefix`. */
export const publicProduct = (account: string, product: string, connectionId: string, prefix: string) => ({
  product_id: product,
  account_id: account,
  disabled: false,
  visibility: "public",
  metadata: { mirrors: { primary: { connection_id: connectionId, prefix } }, primary_mirror: "primary" }
})

/** An S3 data connection to moto, signed with static keys (exercises aws4fetch in the runtime). */
export const motoConnection = (id: string, endpoint: string, bucket: string) => ({
  data_connection_id: id,
  read_only: true,
  details: { provider: "s3", bucket, region: "us-east-1", endpoint },
  authentication: { type: "s3_access_key", access_key_id: "test", secret_access_key: "test" }
})
