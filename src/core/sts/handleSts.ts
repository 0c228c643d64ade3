import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { Reply } from "../http/Reply.js"
import type { S3Request } from "../http/S3Request.js"
import { renderStsError, type StsError, StsInternalFailure, stsCodeOf, stsStatusOf } from "./errors.js"
import { type AuditFacts, exchange, type StsServices } from "./exchange.js"
import { readStsParams } from "./params.js"
import { renderAssumeRoleResponse } from "./response.js"
import { logEvent } from "../shared/logEvent.js"

/** The audit event's name: one per exchange, success or failure (docs/sts.md#audit-event). */
export const AUDIT_EVENT = "sts.AssumeRoleWithWebIdentity"

const reasonOf = (error: StsError): string | undefined =>
  "reason" in error ? error.reason : "message" in error ? error.message : undefined

/**
 * `/.sts`: parameters (query or bounded form body) → exchange → STS XML, with exactly one structured audit
 * event per request. Never fails: every error, defects included, becomes an STS `ErrorResponse`.
 */
export const handleSts: (request: S3Request) => Effect.Effect<Reply, never, StsServices> = Effect.fnUntraced(
  function*(request: S3Request) {
    const started = yield* Clock.currentTimeMillis
    const audit: AuditFacts = {}
    const result = yield* readStsParams(request).pipe(
      Effect.flatMap((raw) => exchange(raw, audit)),
      Effect.catchAllDefect((defect) =>
        Effect.zipRight(
          Effect.logError("sts defect", Cause.pretty(Cause.die(defect))),
          Effect.fail(new StsInternalFailure({ reason: "defect" }))
        )
      ),
      Effect.either
    )
    const elapsedMs = (yield* Clock.currentTimeMillis) - started
    const failure = Either.isLeft(result) ? result.left : undefined
    yield* logEvent(AUDIT_EVENT, {
      outcome: failure === undefined ? "success" : "failure",
      status: failure === undefined ? 200 : stsStatusOf(failure),
      errorCode: failure === undefined ? undefined : stsCodeOf(failure),
      failureReason: failure === undefined ? undefined : reasonOf(failure),
      roleArn: audit.roleArn,
      account: audit.account,
      role: audit.role,
      idp: audit.idp,
      issuer: audit.issuer,
      subject: audit.subject,
      sessionName: audit.sessionName,
      jti: audit.jti,
      durationSeconds: audit.durationSeconds,
      requestId: request.requestId,
      elapsedMs
    })
    return Either.match(result, {
      onLeft: (error) => renderStsError(error, request.requestId),
      onRight: (exchanged) => renderAssumeRoleResponse(exchanged, request.requestId)
    })
  }
)
