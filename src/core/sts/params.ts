import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { readBounded } from "../http/readBounded.js"
import type { S3Request } from "../http/S3Request.js"
import { InvalidAction, RequestEntityTooLarge, ValidationError } from "./errors.js"
import { DEFAULT_ROLE } from "../catalog/schema.js"
import { discardBody } from "../http/discard.js"

/** The largest form body `/.sts` reads (docs/sts.md#request-parameters). */
export const MAX_FORM_BYTES = 64 * 1024

export const STS_VERSION = "2011-06-15"

/** Parameters as sent: the first value of each name, from exactly one source (query or form body). */
export type RawParams = Readonly<Record<string, string>>

const toRecord = (search: URLSearchParams): RawParams => {
  const out: Record<string, string> = {}
  for (const [name, value] of search) if (!(name in out)) out[name] = value
  return out
}

const isForm = (contentType: string | null) =>
  contentType === null || contentType.split(";")[0]!.trim().toLowerCase() === "application/x-www-form-urlencoded"

/**
 * The query string when it names an Action (GDAL's GET, MinIO's query POST), else a POST's form body
 * (botocore), read with a 64 KiB bound; never both merged.
 */
export const readStsParams = (
  request: S3Request
): Effect.Effect<RawParams, ValidationError | RequestEntityTooLarge> => {
  const query = request.url.searchParams
  if (query.has("Action") || request.method !== "POST" || request.body === null) return Effect.succeed(toRecord(query))
  const length = request.headers.get("content-length")
  if (length !== null && length.trim() === "0") return Effect.succeed(toRecord(query))
  if (!isForm(request.headers.get("content-type"))) {
    return Effect.fail(new ValidationError({ message: "POST parameters must be sent as application/x-www-form-urlencoded" }))
  }
  if (length !== null && Number(length) > MAX_FORM_BYTES) {
    return Effect.zipRight(
      discardBody(request.body),
      Effect.fail(new RequestEntityTooLarge({ limit: MAX_FORM_BYTES }))
    )
  }
  return readBounded(request.body, MAX_FORM_BYTES).pipe(
    Effect.map((bytes) => toRecord(new URLSearchParams(new TextDecoder().decode(bytes)))),
    Effect.catchTags({
      BodyTooLarge: (e) => Effect.fail(new RequestEntityTooLarge({ limit: e.limit })),
      BodyUnreadable: () => Effect.fail(new ValidationError({ message: "The request body could not be read" }))
    })
  )
}

export interface RoleRef {
  /** Undefined only for the bare `_default` (no account named). */
  readonly account: string | undefined
  readonly name: string
}

const SC_ROLE = /^sc::([A-Za-z0-9._-]{1,128})::role\/([\w+=,.@-]{1,64})$/
const AWS_ROLE = /^arn:aws:iam::([A-Za-z0-9._-]{1,128}):role\/([\w+=,.@-]{1,64})$/

/**
 * `sc::{account}::role/{name}` or `arn:aws:iam::{account}:role/{name}` (docs/sts.md#role-arn), or the bare `_default`
 * the Rust proxy took and today's frontend and CLI still send: the built-in Role with no account.
 */
export const parseRoleArn = (arn: string): Option.Option<RoleRef> => {
  if (arn === DEFAULT_ROLE) return Option.some({ account: undefined, name: DEFAULT_ROLE })
  const match = SC_ROLE.exec(arn) ?? AWS_ROLE.exec(arn)
  return match === null ? Option.none() : Option.some({ account: match[1]!, name: match[2]! })
}

const field = <A, I>(schema: Schema.Schema<A, I>, message: string) =>
  schema.annotations({ message: () => ({ message, override: true }) })

const RoleArn = field(
  Schema.String.pipe(
    Schema.transformOrFail(Schema.Struct({ arn: Schema.String, account: Schema.UndefinedOr(Schema.String), name: Schema.String }), {
      strict: true,
      decode: (arn, _, ast) =>
        Option.match(parseRoleArn(arn), {
          onNone: () => ParseResult.fail(new ParseResult.Type(ast, arn)),
          onSome: (ref) => ParseResult.succeed({ arn, ...ref })
        }),
      encode: ({ arn }) => ParseResult.succeed(arn)
    })
  ),
  "RoleArn must be sc::{account}::role/{name} or arn:aws:iam::{account}:role/{name}"
)

const Digits = Schema.String.pipe(Schema.pattern(/^[0-9]{1,10}$/))

/** The parameters of AssumeRoleWithWebIdentity once Action and Version are settled. */
export const StsParams = Schema.Struct({
  RoleArn: Schema.propertySignature(RoleArn).annotations({ missingMessage: () => "RoleArn is required" }),
  WebIdentityToken: Schema.propertySignature(
    field(Schema.Redacted(Schema.String.pipe(Schema.minLength(4), Schema.maxLength(20000))), "WebIdentityToken must be 4 to 20000 characters")
  ).annotations({ missingMessage: () => "WebIdentityToken is required" }),
  RoleSessionName: Schema.optional(
    field(Schema.String.pipe(Schema.pattern(/^[\w+=,.@-]{2,64}$/)), "RoleSessionName must match [\\w+=,.@-]{2,64}")
  ),
  DurationSeconds: Schema.optional(
    field(
      Schema.compose(Digits, Schema.NumberFromString).pipe(Schema.int(), Schema.greaterThanOrEqualTo(900)),
      "DurationSeconds must be an integer of at least 900"
    )
  )
})

export interface ExchangeParams {
  readonly roleArn: string
  readonly role: RoleRef
  readonly token: Redacted.Redacted<string>
  readonly sessionName: Option.Option<string>
  readonly durationSeconds: Option.Option<number>
}

const decodeParams = Schema.decodeUnknownEither(StsParams, { errors: "first" })

/** Action and Version first (InvalidAction), then every other parameter (ValidationError). */
export const decodeStsParams = (raw: RawParams): Either.Either<ExchangeParams, InvalidAction | ValidationError> => {
  const action = raw["Action"]
  if (action === undefined || action === "") return Either.left(new InvalidAction({ message: "Action is required" }))
  if (action !== "AssumeRoleWithWebIdentity") {
    return Either.left(new InvalidAction({ message: "Only AssumeRoleWithWebIdentity is supported" }))
  }
  const version = raw["Version"]
  if (version !== undefined && version !== STS_VERSION) {
    return Either.left(new InvalidAction({ message: `Version must be ${STS_VERSION}` }))
  }
  return Either.match(decodeParams(raw), {
    onLeft: (e) =>
      Either.left(new ValidationError({ message: ParseResult.ArrayFormatter.formatErrorSync(e)[0]?.message ?? "invalid parameters" })),
    onRight: (p) =>
      Either.right({
        roleArn: p.RoleArn.arn,
        role: { account: p.RoleArn.account, name: p.RoleArn.name },
        token: p.WebIdentityToken,
        sessionName: Option.fromNullable(p.RoleSessionName),
        durationSeconds: Option.fromNullable(p.DurationSeconds)
      })
  })
}

/** A RoleSessionName from a subject, when the caller sent none: `[\w+=,.@-]`, 2–64 characters. */
export const sessionNameFor = (subject: string): string => {
  const name = subject.replace(/[^\w+=,.@-]/g, "_").slice(0, 64)
  return name.length < 2 ? "session" : name
}
