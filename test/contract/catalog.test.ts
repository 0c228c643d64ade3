import { Layer } from "effect"
import { LocalCatalog } from "../../src/layers/LocalCatalog.js"
import { MemoryEdgeCache } from "../../src/layers/MemoryEdgeCache.js"
import { SourceApiCatalog } from "../../src/layers/SourceApiCatalog.js"
import { sourceApiOf } from "../fixtures/sourceApi.js"
import { stubUpstream, TestConfig } from "../fixtures/stubUpstream.js"
import { catalogContract, contractDocument } from "./catalog.contract.js"
import { FixedOidcProvider } from "../fixtures/services.js"

catalogContract("LocalCatalog", LocalCatalog(contractDocument))

catalogContract(
  "SourceApiCatalog",
  SourceApiCatalog.pipe(
    Layer.provide(Layer.mergeAll(stubUpstream(sourceApiOf(contractDocument)).layer, MemoryEdgeCache(100), TestConfig, FixedOidcProvider))
  )
)
