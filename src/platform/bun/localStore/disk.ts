import type { Stats } from "node:fs"
import { rm, stat } from "node:fs/promises"
import * as Effect from "effect/Effect"
import { BackendUnavailable } from "../../../core/s3/errors.js"

const diskFailure = (cause: unknown) => new BackendUnavailable({ reason: `local write failed: ${String(cause)}` })

/** A file-system call of a write: a failure is the disk failing, which S3 clients see as 503. */
export const disk = <A>(call: () => Promise<A>): Effect.Effect<A, BackendUnavailable> =>
  Effect.tryPromise({ try: call, catch: diskFailure })

/** A file-system call where the Node error `code` is an answer (`otherwise`), any other failure the disk's. */
export const diskUnless = <A, B>(call: () => Promise<A>, code: string, otherwise: B): Effect.Effect<A | B, BackendUnavailable> =>
  Effect.catchAll(
    Effect.tryPromise({ try: call, catch: (cause) => cause }),
    (cause) =>
      typeof cause === "object" && cause !== null && "code" in cause && cause.code === code
        ? Effect.succeed(otherwise)
        : Effect.fail(diskFailure(cause))
  )

/** A file-system call whose failure means "not there": undefined. */
export const probe = <A>(call: () => Promise<A>): Effect.Effect<A | undefined> =>
  Effect.orElseSucceed(Effect.tryPromise(call), () => undefined)

/** The file at `path` (not a directory), or undefined. */
export const fileAt = (path: string): Effect.Effect<Stats | undefined> =>
  Effect.map(probe(() => stat(path)), (info) => (info?.isFile() === true ? info : undefined))

/**
 * Runs `use` with a way to name temp files, and removes every file it named whatever happens (a no-op for one
 * already renamed into place).
 */
export const withTempFiles = <A, E>(use: (named: (path: string) => string) => Effect.Effect<A, E>): Effect.Effect<A, E> =>
  Effect.suspend(() => {
    const temps: Array<string> = []
    const named = (path: string) => {
      temps.push(path)
      return path
    }
    return Effect.ensuring(use(named), Effect.forEach(temps, (temp) => probe(() => rm(temp, { force: true })), { concurrency: "unbounded", discard: true }))
  })
