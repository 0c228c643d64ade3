import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"

/** The chunk cache of public reads (docs/caching.md#the-chunk-cache). */
export interface ChunkCacheSettings {
  /** Chunks are aligned on multiples of it; part of every chunk's key. */
  readonly chunkSize: number
  /** How long a chunk is kept (its key names the object's ETag, so it never goes stale). */
  readonly ttl: Duration.Duration
  /** How long an object's metadata is trusted without a HEAD: how long a change made elsewhere may go unseen. */
  readonly metaTtl: Duration.Duration
  /** A range covering more chunks than this streams from the backend instead. */
  readonly maxChunks: number
}

/** ADR-009's 4 MiB chunks, kept a day; metadata trusted for a minute; at most 16 MiB of chunks per range. */
export const DEFAULT_CHUNK_CACHE: ChunkCacheSettings = {
  chunkSize: 4 * 1024 * 1024,
  ttl: Duration.days(1),
  metaTtl: Duration.minutes(1),
  maxChunks: 4
}

export interface AppSettings {
  /** Unset under `bun run dev`: the embedded catalog is used instead. */
  readonly sourceApiUrl: Option.Option<string>
  readonly sourceApiTimeout: Duration.Duration
  readonly backendTimeout: Duration.Duration
  /** Where outbound federation calls AssumeRoleWithWebIdentity. */
  readonly awsStsEndpoint: string
  readonly federationTimeout: Duration.Duration
  /** Whether data connection endpoints may be loopback or private addresses (local backends in development). */
  readonly allowPrivateEndpoints: boolean
  /** None: every read streams from the backend (`CHUNK_CACHE=false`). */
  readonly chunkCache: Option.Option<ChunkCacheSettings>
}

/**
 * Settings read once per isolate/process from the environment (docs/runtimes.md#configuration), never per request.
 */
export class AppConfig extends Context.Tag("sdp/AppConfig")<AppConfig, AppSettings>() {}
