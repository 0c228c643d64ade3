import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Integration suites start real servers (moto, the proxy under Bun, workerd); they share two cores.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: true,
    maxWorkers: 2,
    minWorkers: 1,
    reporters: ["default", "./test/support/SummaryReporter.ts"],
    // Its ESM imports its JSON schema without an import attribute, which Node 20 refuses: let Vite load it.
    server: { deps: { inline: ["@actions/workflow-parser"] } }
  }
})
