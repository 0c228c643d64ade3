import { cpSync, mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { run, type RunResult } from "./clients.js"
import { freePort } from "../../fakes/processes.js"
import { REPO_ROOT, type RunningProxy, startBunProxy } from "./proxy.js"

/** `bun run dev` over a copy of `sample/` (writes never touch the repository), and its CLIs beside it. */
export interface DevServer {
  readonly proxy: RunningProxy
  /** The scratch folder: `sample/` (catalog and data) and the key files are in it. */
  readonly workDir: string
  /** The settings the dev CLIs read to match this server (HOST, PORT, CATALOG, key files), over a clean environment. */
  cliEnv(extra?: Record<string, string | undefined>): NodeJS.ProcessEnv
  /** `bun run login <user>` against this server: its stdout is the identity token. */
  login(user: string): Promise<RunResult & { readonly token: string }>
  stop(): Promise<void>
}

const INHERITED_OUT = /^(OIDC_PROVIDER|SESSION|AUTH|AWS)_|^(PORT|HOST|DEV_KEYS|DEV_IDP_KEYS|CATALOG|SOURCE_API_URL|XDG_CACHE_HOME)$/

export const startDevServer = async (name: string): Promise<DevServer> => {
  const workDir = mkdtempSync(join(tmpdir(), `sdp-e2e-${name}-`))
  cpSync(join(REPO_ROOT, "sample"), join(workDir, "sample"), { recursive: true })
  const env: Record<string, string> = {
    PORT: String(await freePort()), // the CLIs name the server's issuer from PORT, as `bun run dev` does
    HOST: "127.0.0.1",
    CATALOG: join(workDir, "sample/catalog.json"),
    DEV_KEYS: join(workDir, "keys.json"),
    DEV_IDP_KEYS: join(workDir, "idp.json")
  }
  const proxy = await startBunProxy({ ...env, REVOCATIONS_DB: join(workDir, "revocations.sqlite") })
  const cliEnv = (extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv => {
    const inherited: NodeJS.ProcessEnv = {}
    for (const [key, value] of Object.entries(process.env)) if (!INHERITED_OUT.test(key)) inherited[key] = value
    return { ...inherited, ...env, ...extra }
  }
  return {
    proxy,
    workDir,
    cliEnv,
    login: async (user) => {
      const result = await run("bun", [join(REPO_ROOT, "src/platform/bun/cli/login.ts"), user], { env: cliEnv(), timeoutMs: 20_000 })
      return { ...result, token: result.stdout.toString().trim() }
    },
    stop: () => proxy.stop()
  }
}
