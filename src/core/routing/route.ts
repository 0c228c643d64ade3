import * as Effect from "effect/Effect"
import type { Storage } from "../backends/ObjectStore.js"
import type { Catalog } from "../catalog/Catalog.js"
import type { Reply } from "../http/Reply.js"
import type { S3Request } from "../http/S3Request.js"
import { resolveIdentity } from "../identity/resolveIdentity.js"
import { executeControl } from "../operations/control.js"
import { isControl, isWrite } from "../operations/Operation.js"
import { executeRead } from "../operations/read.js"
import { executeWrite } from "../operations/write.js"
import type { S3Error } from "../s3/errors.js"
import type { AppConfig } from "../services/AppConfig.js"
import type { EdgeCache } from "../services/EdgeCache.js"
import type { Hmac } from "../services/Hmac.js"
import type { OidcProvider } from "../services/OidcProvider.js"
import type { StsServices } from "../sts/exchange.js"
import { handleSts } from "../sts/handleSts.js"
import { classify } from "./classify.js"

export type AppServices = Catalog | Storage | OidcProvider | StsServices | Hmac | AppConfig | EdgeCache

/**
 * A request to its operation's handler: STS first (it answers its own XML, errors included, and needs no
 * identity), then every other operation with the caller's identity. The kind guards narrow the union, so
 * each handler's exhaustive switch covers exactly its operations.
 */
export const route: (request: S3Request) => Effect.Effect<Reply, S3Error, AppServices> = Effect.fnUntraced(
  function*(request) {
    const op = yield* classify(request)
    if (op._tag === "AssumeRoleWithWebIdentity") return yield* handleSts(request)
    const { identity, payload } = yield* resolveIdentity(request)
    if (isControl(op)) return yield* executeControl(request, op, identity)
    if (isWrite(op)) return yield* executeWrite(request, op, identity, payload)
    return yield* executeRead(request, op, identity)
  }
)
