import * as Effect from "effect/Effect"

/**
 * An effect that runs `make` until it first succeeds, then returns that value. Only the finished value is shared:
 * concurrent first callers each run `make` (no request waits on another's promise,
 * docs/runtimes.md#no-request-waits-on-another).
 */
export const memoizeValue = <A, E>(make: Effect.Effect<A, E>): Effect.Effect<A, E> => {
  let value: { readonly current: A } | undefined
  return Effect.suspend(() =>
    value !== undefined ? Effect.succeed(value.current) : Effect.tap(make, (current) => Effect.sync(() => (value = { current })))
  )
}
