import { startBunProxy } from "./harness/proxy.js"
import { describeReadSuite } from "./readSuite.js"

describeReadSuite("Bun", startBunProxy, { negotiatesContentEncoding: false, requestIdFromCfRay: false })
