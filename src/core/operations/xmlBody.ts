import * as Effect from "effect/Effect"
import { readBounded } from "../http/readBounded.js"
import type { Payload } from "../identity/resolveIdentity.js"
import { InvalidRequest, MalformedXML } from "../s3/errors.js"

/** DeleteObjects and CompleteMultipartUpload bodies are small XML documents; anything larger is refused. */
const XML_BODY_LIMIT = 2 * 1024 * 1024

/** A request's XML body as text, bounded. */
export const readXmlBody = (payload: Payload): Effect.Effect<string, MalformedXML | InvalidRequest> =>
  payload.body === null
    ? Effect.fail(new MalformedXML({ message: "The request body is empty" }))
    : readBounded(payload.body, XML_BODY_LIMIT).pipe(
      Effect.map((bytes) => new TextDecoder().decode(bytes)),
      Effect.catchTags({
        BodyTooLarge: () => Effect.fail(new MalformedXML({ message: "The XML body is too large" })),
        BodyUnreadable: () => Effect.fail(new InvalidRequest({ message: "The request body could not be read" }))
      })
    )
