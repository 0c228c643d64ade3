/** A thrown value as one line for a log or an error's reason: an Error's message, anything else as text. */
export const describeCause = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))
