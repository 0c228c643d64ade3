/**
 * `bun bench/workerdProfile.ts [get|signed|list|bare] [requests]`: a V8 CPU profile of the Worker in workerd
 * (Miniflare, as section 8 runs it), taken through workerd's inspector while `requests` requests of one kind
 * are served (default 3000; 300 for `list`), after 500 untimed ones. `bare` profiles the bare pass-through Worker.
 * Writes `/tmp/sdp-workerd-<kind>.cpuprofile` (open it in Chrome DevTools or speedscope) and prints the functions
 * with the most self time, each with its share of the samples, named by the bundle's source map (the bundle is
 * minified, as deployed). Bun's profiler says nothing about V8 in workerd.
 */
import { AwsClient } from "aws4fetch"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { startWorkerdProxy, type WorkerdOptions } from "../test/workerd/harness.js"
import { ACCOUNT, OBJECT_KEY, PRODUCT } from "./fixture.js"
import { freePort, inspect, profiled, topSelf } from "./inspector.js"
import { start, type Started } from "./processes.js"
import { exchangeAtSts, mintApiKey, prepareKeys } from "./sections/uploads.js"
import { buildBareWorker } from "./sections/workerd.js"
import { root, settings } from "./settings.js"

const [kind = "get", countArg] = process.argv.slice(2)
if (!["get", "signed", "list", "bare"].includes(kind)) {
  console.error("usage: bun bench/workerdProfile.ts [get|signed|list|bare] [requests]")
  process.exit(2)
}
const count = Number(countArg ?? (kind === "list" ? 300 : 3000))

const started: Array<Started> = []
const keyDir = mkdtempSync(join(tmpdir(), "sdp-workerd-profile-"))
try {
  const upstream = await start("upstream", "bench/upstream.ts", { PORT: "0", UPSTREAM_SIZE: String(64 * 1024 * 1024) }, root)
  started.push(upstream)
  const { keys } = await prepareKeys(join(keyDir, "keys.json"))
  const secrets = Object.fromEntries(Object.entries(keys).filter((e): e is [string, string] => e[1] !== undefined))
  const inspectorPort = await freePort()
  const options: WorkerdOptions = kind === "bare" ? { inspectorPort, scriptPath: await buildBareWorker() } : { inspectorPort }
  const worker = await startWorkerdProxy(
    kind === "bare" ? { UPSTREAM: upstream.origin } : { ...secrets, SOURCE_API_URL: upstream.origin, LOG_LEVEL: "error", CHUNK_CACHE: "false" },
    options
  )
  try {
    const objectUrl = `${worker.url}/${ACCOUNT}/${PRODUCT}/${OBJECT_KEY}`
    const range = { range: `bytes=0-${settings.rangeLength - 1}` }
    const signer = kind === "signed"
      ? new AwsClient({ ...await exchangeAtSts(worker.url, await mintApiKey(keys)), service: "s3", region: "us-east-1" })
      : undefined
    const once = async () => {
      const response = kind === "list"
        ? await fetch(`${worker.url}/${ACCOUNT}?list-type=2&prefix=${PRODUCT}/k/`)
        : signer !== undefined ? await signer.fetch(objectUrl, { headers: range }) : await fetch(objectUrl, { headers: range })
      await response.arrayBuffer()
      if (response.status >= 300) throw new Error(`${kind}: status ${response.status}`)
    }
    for (let i = 0; i < 500; i++) await once()
    const inspector = await inspect(inspectorPort)
    const profile = await profiled(inspector, async () => {
      for (let i = 0; i < count; i++) await once()
    })
    inspector.close()
    const file = `/tmp/sdp-workerd-${kind}.cpuprofile`
    writeFileSync(file, JSON.stringify(profile))
    console.log(`${count} ${kind} requests, ${profile.samples.length} samples: ${file}`)
    console.log(topSelf(profile, 40).join("\n"))
  } finally {
    await worker.stop()
  }
} finally {
  for (const s of started) await s.stop()
  rmSync(keyDir, { recursive: true, force: true })
}
