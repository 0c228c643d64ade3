/**
 * Section 6's GCS backend, in a child process of its own (so its CPU is not the bench's): the in-test GCS XML
 * API server (test/fakes/gcs/) with one public bucket holding `LIST_KEYS` synthetic keys (16 bytes each).
 *
 * Run: `LIST_KEYS=10000 bun bench/gcs-server.ts`; prints `gcs listening on http://127.0.0.1:PORT` once seeded.
 */
import { startGcs } from "../test/fakes/gcs/server.js"
import { GCS_BUCKET, LIST_KEYS, syntheticKeys } from "./fixture.js"

const gcs = await startGcs()
gcs.createBucket(GCS_BUCKET, { public: true })
const body = new Uint8Array(16)
for (const key of syntheticKeys(Number(process.env.LIST_KEYS ?? LIST_KEYS))) gcs.put(GCS_BUCKET, key, body)
// The server logs every request; nothing reads the log here, so keep it from growing.
setInterval(() => gcs.clearLog(), 1_000).unref()

console.log(`gcs listening on ${gcs.url}`)

const stop = () => {
  void gcs.stop().finally(() => process.exit(0))
  setTimeout(() => process.exit(0), 1_000).unref()
}
process.on("SIGINT", stop)
process.on("SIGTERM", stop)
