/**
 * `bun bench/ab.ts <rev> [range|list] [pairs] [count]`: this tree's proxy against the proxy of `<rev>`, in
 * interleaved pairs against one upstream, each run a fresh process. A single `bun run bench` cannot separate a
 * 10 % change on a busy 2-core VM (the same code gave 934–1674 µs per GET in consecutive runs); pairs taken in
 * turn can. Per run: `count` 16 KiB ranged GETs in sequence (default 8000) after `rangeWarmupRequests` untimed
 * ones (settings.ts), or `count` full 10 000-key listings (default 40) after 200 GETs and 10 listings; printed: the
 * proxy's CPU per request or listing (every thread) and, of it, the JIT compiler threads'. Then the medians and
 * this/rev. `<rev>` is checked out in a temporary git worktree (its node_modules this tree's), removed at the end.
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, rmSync, symlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ACCOUNT, OBJECT_KEY, PRODUCT } from "./fixture.js"
import { listAll, ranged } from "./http.js"
import { cpuSecondsOf, jitSecondsBetween, jitThreadsOf, start, type Started } from "./processes.js"
import { rangeOffsets } from "./sections/ranges.js"
import { root, settings } from "./settings.js"
import { median, round } from "./stats.js"

const [rev, mode = "range", pairsArg = "4", countArg] = process.argv.slice(2)
if (rev === undefined || (mode !== "range" && mode !== "list")) {
  console.error("usage: bun bench/ab.ts <rev> [range|list] [pairs] [count]")
  process.exit(2)
}
const pairs = Number(pairsArg)
const count = Number(countArg ?? (mode === "range" ? 8000 : 40))

const git = (...args: Array<string>) => execFileSync("git", args, { cwd: root, stdio: ["ignore", "pipe", "inherit"] }).toString()
const baseTree = join(mkdtempSync(join(tmpdir(), "sdp-ab-")), "tree")
git("worktree", "add", "--detach", baseTree, rev)
symlinkSync(join(root, "node_modules"), join(baseTree, "node_modules"))

const started: Array<Started> = []
try {
  const upstream = await start("upstream", "bench/upstream.ts", { PORT: "0", UPSTREAM_SIZE: String(64 * 1024 * 1024) }, root)
  started.push(upstream)
  const offsets = rangeOffsets().map((offset) => offset % (60 * 1024 * 1024))
  const many = Array.from({ length: count }, (_, i) => offsets[i % offsets.length]!)
  const one = async (tree: string) => {
    const proxy = await start("proxy", "src/platform/bun/main.ts", {
      PORT: "0",
      HOST: "127.0.0.1",
      SOURCE_API_URL: upstream.origin,
      LOG_LEVEL: "error",
      CHUNK_CACHE: "false"
    }, tree)
    try {
      const objectUrl = `${proxy.origin}/${ACCOUNT}/${PRODUCT}/${OBJECT_KEY}`
      // Settled code, as section 2 measures it: after 200 warm-up GETs JSC's compiler threads were a third of a
      // GET's CPU and moved ±30 µs between runs, more than the changes being compared.
      if (mode === "range") {
        const warmup = Array.from({ length: settings.rangeWarmupRequests }, (_, i) => offsets[i % offsets.length]!)
        await ranged(objectUrl, warmup, settings.rangeLength, 1, 600_000)
      } else {
        await ranged(objectUrl, offsets.slice(0, 200), settings.rangeLength, 1, 30_000)
        for (let i = 0; i < 10; i++) await listAll(`${proxy.origin}/${ACCOUNT}?list-type=2&prefix=${PRODUCT}/k/`, 30_000)
      }
      const cpu0 = cpuSecondsOf(proxy.pid)
      const jit0 = jitThreadsOf(proxy.pid)
      if (mode === "range") await ranged(objectUrl, many, settings.rangeLength, 1, 600_000)
      else {
        for (let i = 0; i < count; i++) await listAll(`${proxy.origin}/${ACCOUNT}?list-type=2&prefix=${PRODUCT}/k/`, 30_000)
      }
      const unit = mode === "range" ? 1e6 : 1e3
      return {
        cpu: ((cpuSecondsOf(proxy.pid) - cpu0) * unit) / count,
        jit: (jitSecondsBetween(jit0, jitThreadsOf(proxy.pid)) * unit) / count
      }
    } finally {
      await proxy.stop()
    }
  }
  const runs = { this: [] as Array<number>, base: [] as Array<number> }
  const unit = mode === "range" ? "µs per GET" : "ms per listing"
  for (let i = 0; i < pairs; i++) {
    for (const [name, tree] of [["this", root], ["base", baseTree]] as const) {
      const r = await one(tree)
      runs[name].push(r.cpu)
      console.log(`${name === "this" ? "this tree" : rev}: CPU ${round(r.cpu, 1)} ${unit}, of it JIT ${round(r.jit, 1)}`)
    }
  }
  console.log(`median CPU: this tree ${round(median(runs.this), 1)}, ${rev} ${round(median(runs.base), 1)} ${unit}; `
    + `this/${rev} ${round(median(runs.this) / median(runs.base), 3)}`)
} finally {
  for (const s of started) await s.stop()
  git("worktree", "remove", "--force", baseTree)
  rmSync(join(baseTree, ".."), { recursive: true, force: true })
}
