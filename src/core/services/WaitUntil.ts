import * as Context from "effect/Context"

/**
 * Hands over work a response must not wait for but that has to finish (Workers: `ctx.waitUntil`, provided
 * per request by the shell). The default lets the promise run on its own, as a long-lived process does.
 */
export class WaitUntil extends Context.Reference<WaitUntil>()("sdp/WaitUntil", {
  defaultValue: (): ((work: Promise<unknown>) => void) => (work) => void work.catch(() => undefined)
}) {}
