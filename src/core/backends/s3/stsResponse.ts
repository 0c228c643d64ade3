import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { XMLParser } from "fast-xml-parser"
import type { AwsCredentials } from "./Federation.js"

const parser = new XMLParser({ ignoreAttributes: true, parseTagValue: false, trimValues: true })

const Success = Schema.Struct({
  AssumeRoleWithWebIdentityResponse: Schema.Struct({
    AssumeRoleWithWebIdentityResult: Schema.Struct({
      Credentials: Schema.Struct({
        AccessKeyId: Schema.NonEmptyString,
        SecretAccessKey: Schema.NonEmptyString,
        SessionToken: Schema.NonEmptyString,
        Expiration: Schema.Date
      })
    })
  })
})
const Failure = Schema.Struct({
  ErrorResponse: Schema.Struct({ Error: Schema.Struct({ Code: Schema.String }) })
})

export interface IssuedCredentials extends AwsCredentials {
  readonly expiresAt: number
}

export type StsAnswer =
  | { readonly _tag: "Issued"; readonly credentials: IssuedCredentials }
  | { readonly _tag: "Refused"; readonly code: string }
  | { readonly _tag: "Unreadable" }

/** AWS STS's answer, read from the body whatever the HTTP status (as the Rust proxy does). */
export const readStsAnswer = (xml: string): Effect.Effect<StsAnswer> =>
  Effect.sync(() => {
    const doc = Either.try(() => parser.parse(xml) as unknown)
    if (Either.isLeft(doc)) return { _tag: "Unreadable" } as const
    const failure = Schema.decodeUnknownEither(Failure)(doc.right)
    if (Either.isRight(failure)) return { _tag: "Refused", code: failure.right.ErrorResponse.Error.Code } as const
    const success = Schema.decodeUnknownEither(Success)(doc.right)
    if (Either.isLeft(success)) return { _tag: "Unreadable" } as const
    const c = success.right.AssumeRoleWithWebIdentityResponse.AssumeRoleWithWebIdentityResult.Credentials
    return {
      _tag: "Issued",
      credentials: {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        sessionToken: c.SessionToken,
        expiresAt: c.Expiration.getTime()
      }
    } as const
  })
