/**
 * The servers sections 1, 2 and 4 read the large object from, in turns: **direct** (the fake upstream itself),
 * **bare** (the minimal pass-through, passthrough.ts, behind `Bun.serve`), **bareNode** (the same pass-through behind
 * the proxy's own node:http server, `BARE_SERVER=node`: the floor for a Bun server that keeps Content-Length on
 * streamed bodies, which `Bun.serve` drops) and **proxy** (src/platform/bun/main.ts).
 */
import { ACCOUNT, BUCKET, OBJECT_KEY, PRODUCT } from "./fixture.js"
import { rangeBytes, ranged } from "./http.js"
import { start, type Started } from "./processes.js"
import { root, settings } from "./settings.js"

export type TargetName = "direct" | "bare" | "bareNode" | "proxy"

export interface Target {
  readonly name: TargetName
  readonly url: string
  /** The process whose memory is sampled while it serves (none for direct). */
  readonly pid: number | undefined
}

export type PerTarget<A> = Record<TargetName, A>

export const perTarget = <A>(make: () => A): PerTarget<A> => ({ direct: make(), bare: make(), bareNode: make(), proxy: make() })

export interface Servers {
  readonly upstream: Started
  readonly bare: Started
  readonly bareNode: Started
  readonly proxy: Started
  readonly targets: ReadonlyArray<Target>
  /** The large object through the proxy. */
  readonly proxyUrl: string
}

/**
 * Starts the upstream (told the endpoints of section 6's other backends, when they run), the two pass-throughs
 * and the proxy, each pushed onto `started` as soon as it runs so that the caller stops it whatever happens next.
 */
export const startServers = async (
  started: Array<Started>,
  upstreamEnv: Record<string, string>,
  proxyEnv: Record<string, string>
): Promise<Servers> => {
  const upstream = await start("upstream", "bench/upstream.ts", {
    PORT: "0",
    UPSTREAM_SIZE: String(settings.objectBytes),
    ...upstreamEnv
  }, root)
  started.push(upstream)
  const bare = await start("passthrough", "bench/passthrough.ts", { PORT: "0", UPSTREAM: upstream.origin }, root)
  started.push(bare)
  const bareNode = await start("passthrough", "bench/passthrough.ts", { PORT: "0", UPSTREAM: upstream.origin, BARE_SERVER: "node" }, root)
  started.push(bareNode)
  const proxy = await start("proxy", "src/platform/bun/main.ts", {
    PORT: "0",
    HOST: "127.0.0.1",
    SOURCE_API_URL: upstream.origin,
    LOG_LEVEL: "error",
    // The pass-through path, comparable with bench/README's history; section 9 measures the chunk cache.
    CHUNK_CACHE: "false",
    ...proxyEnv
  }, root)
  started.push(proxy)
  const path = `/${ACCOUNT}/${PRODUCT}/${OBJECT_KEY}`
  return {
    upstream,
    bare,
    bareNode,
    proxy,
    targets: [
      { name: "direct", url: `${upstream.origin}/${BUCKET}/${OBJECT_KEY}`, pid: undefined },
      { name: "bare", url: `${bare.origin}${path}`, pid: bare.pid },
      { name: "bareNode", url: `${bareNode.origin}${path}`, pid: bareNode.pid },
      { name: "proxy", url: `${proxy.origin}${path}`, pid: proxy.pid }
    ],
    proxyUrl: `${proxy.origin}${path}`
  }
}

/** Every target must return exactly the upstream's bytes, or the figures mean nothing. */
export const checkTargets = async (servers: Servers, offsets: ReadonlyArray<number>): Promise<void> => {
  for (const offset of offsets.slice(0, 5)) {
    const bodies = await Promise.all(servers.targets.map((t) => rangeBytes(t.url, offset, offset + settings.rangeLength - 1)))
    const [reference] = bodies
    for (const body of bodies) {
      if (reference === undefined || body.length !== reference.length || !body.every((byte, i) => byte === reference[i])) {
        throw new Error(`bytes differ at offset ${offset}`)
      }
    }
  }
  const head = await fetch(servers.proxyUrl, { method: "HEAD" })
  if (head.headers.get("content-length") !== String(settings.objectBytes)) {
    throw new Error(`proxied HEAD: content-length ${head.headers.get("content-length")}`)
  }
}

/** Ranged reads on every target, sequential then concurrent, before anything is timed. */
export const warmUp = async (targets: ReadonlyArray<Target>, offsets: ReadonlyArray<number>): Promise<void> => {
  for (const t of targets) {
    await ranged(t.url, offsets.slice(0, 200), settings.rangeLength, 1, 10_000)
    await ranged(t.url, offsets.slice(0, 200), settings.rangeLength, settings.rangeConcurrency, 10_000)
  }
}
