/**
 * The shared HTTP-level read suite (test/e2e/readSuite.ts: a test Source API and moto behind the proxy),
 * run against the Worker bundle in workerd. The same suite runs against the Bun shell in test/e2e.
 */
import { describeReadSuite } from "../e2e/readSuite.js"
import { startWorkerdProxy } from "./harness.js"

describeReadSuite("workerd", startWorkerdProxy, { negotiatesContentEncoding: true, requestIdFromCfRay: true })
