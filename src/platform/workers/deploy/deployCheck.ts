/**
 * `bun run deploy:check [--config FILE] [--deploy ENV]`: validates the Worker's wrangler config offline, with
 * wrangler's own reader (so environments resolve exactly as `wrangler deploy` resolves them): names, routes,
 * vars, bindings, compatibility settings and observability of production (the top level), staging and preview.
 *
 * A KV namespace id that is still a placeholder is reported for every environment; with `--deploy ENV`
 * (`production`, `staging` or `preview`), as the deploy workflow runs it, it is an error for that one.
 * Prints one line per problem and exits 1 if there is any error.
 */
import { resolve } from "node:path"
import { unstable_readConfig } from "wrangler"
import pkg from "../../../../package.json" with { type: "json" }

interface Target {
  /** `--env` for wrangler; production is the top level. */
  readonly env: string | undefined
  readonly name: string
  /** Route patterns, all on the zone below; none for a workers.dev-only environment. */
  readonly routes: ReadonlyArray<string>
  readonly dataset: string
  /** The public log stream's service, or undefined for none. */
  readonly logStream: string | undefined
  readonly vars: Readonly<Record<string, string>>
  /** The environment whose jti deny-list this one shares, if not its own. */
  readonly revocationsOf?: string
}

const ZONE = "coolnewgeo.com"
const STAGING_VARS = {
  SOURCE_API_URL: "https://staging.source.coop",
  OIDC_PROVIDER_ISSUER: "https://data.staging.source.coop",
  AUTH_ISSUER: "https://auth.staging.source.coop"
}

/** What each environment must be (README "Deploying", docs/runtimes.md#configuration). */
const TARGETS: Readonly<Record<string, Target>> = {
  production: {
    env: undefined,
    name: "source-data-proxy",
    routes: ["data.source.coop/*", "data.coolnewgeo.com/*"],
    dataset: "source_data_proxy_production",
    logStream: "public-log-stream",
    vars: { SOURCE_API_URL: "https://source.coop", OIDC_PROVIDER_ISSUER: "https://data.source.coop", AUTH_ISSUER: "https://auth.source.coop" }
  },
  staging: {
    env: "staging",
    name: "source-data-proxy-staging",
    routes: ["data.staging.source.coop/*", "staging.data.coolnewgeo.com/*"],
    dataset: "source_data_proxy_staging",
    logStream: "public-log-stream-staging",
    vars: STAGING_VARS
  },
  preview: {
    env: "preview",
    name: "source-data-proxy-preview",
    routes: [],
    dataset: "source_data_proxy_staging",
    logStream: undefined,
    vars: STAGING_VARS,
    revocationsOf: "staging"
  }
}

/** Vars every environment sets (non-empty). */
const REQUIRED_VARS = [
  "LOG_LEVEL",
  "SOURCE_API_URL",
  "OIDC_PROVIDER_ISSUER",
  "OIDC_PROVIDER_KID",
  "AUTH_ISSUER",
  "AUTH_AUDIENCE",
  "SESSION_SIGNING_KID",
  "STS_MAX_SESSION_DURATION_SECS"
]
/** Vars an environment may set besides (README "Configuration"). */
const OPTIONAL_VARS = [
  "OIDC_PROVIDER_KID_PREVIOUS",
  "PLATFORM_IDPS",
  "SOURCE_API_TIMEOUT_MS",
  "BACKEND_TIMEOUT_MS",
  "AWS_STS_ENDPOINT",
  "FEDERATION_TIMEOUT_MS",
  "ALLOW_PRIVATE_ENDPOINTS"
]
/** Secrets (`wrangler secret bulk`, secrets.example.env): never in the config, where anyone can read them. */
const SECRETS = ["OIDC_PROVIDER_KEY", "OIDC_PROVIDER_KEY_PREVIOUS", "SESSION_SIGNING_KEY", "SESSION_TOKEN_KEY", "IP_HASH_SALT"]
const LOG_LEVELS = ["trace", "debug", "info", "warn", "warning", "error", "off"]
/** What the code relies on: web.ts cancels a request's work through request.signal. */
const COMPATIBILITY_FLAGS = ["enable_request_signal"]
/** The newest date the bundled workerd accepts (miniflare's version is 4.YYYYMMDD.x). */
const WORKERD_DATE = (() => {
  const digits = /^\d+\.(\d{4})(\d{2})(\d{2})\./.exec(pkg.devDependencies.miniflare)
  return digits === null ? undefined : `${digits[1]}-${digits[2]}-${digits[3]}`
})()

interface Finding {
  readonly environment: string
  readonly severity: "error" | "notice"
  readonly message: string
}

const kvPlaceholder = (id: string | undefined) => id === undefined || !/^[0-9a-f]{32}$/.test(id) || /^0+$/.test(id)

/** What this check reads of wrangler's resolved config (its own types are not shipped with the package). */
interface Config {
  readonly name: string | undefined
  readonly main: string | undefined
  readonly routes: ReadonlyArray<string | { readonly pattern: string; readonly zone_name?: string }> | undefined
  readonly workers_dev: boolean | undefined
  readonly vars: Readonly<Record<string, unknown>>
  readonly kv_namespaces: ReadonlyArray<{ readonly binding: string; readonly id?: string }>
  readonly analytics_engine_datasets: ReadonlyArray<{ readonly binding: string; readonly dataset?: string }>
  readonly services: ReadonlyArray<{ readonly binding: string; readonly service: string }> | undefined
  readonly compatibility_flags: ReadonlyArray<string>
  readonly compatibility_date: string | undefined
  readonly minify: boolean | undefined
  readonly observability: {
    readonly enabled?: boolean
    readonly head_sampling_rate?: number
    readonly redact_query_string?: boolean
    readonly logs?: { readonly enabled?: boolean; readonly head_sampling_rate?: number }
  } | undefined
}

const readConfig = (configPath: string, env: string | undefined): Config =>
  unstable_readConfig({ config: configPath, env }, { hideWarnings: true })

const revocationsId = (config: Config) => config.kv_namespaces.find((kv) => kv.binding === "REVOCATIONS")?.id

/** The findings for one environment; `shared` is the deny-list id of the environment it shares one with. */
const checkEnvironment = (label: string, target: Target, config: Config, shared: string | undefined, deploying: boolean) => {
  const findings: Array<Finding> = []
  const error = (message: string) => findings.push({ environment: label, severity: "error", message })
  const notice = (message: string) => findings.push({ environment: label, severity: "notice", message })

  if (config.name !== target.name) error(`name is ${JSON.stringify(config.name)}, expected ${JSON.stringify(target.name)}`)
  if (config.main === undefined || !config.main.endsWith("src/platform/workers/main.ts")) {
    error(`main is ${JSON.stringify(config.main)}, expected src/platform/workers/main.ts`)
  }

  const routes = (config.routes ?? []).map((route) =>
    typeof route === "string" ? { pattern: route, zone: undefined } : { pattern: route.pattern, zone: "zone_name" in route ? route.zone_name : undefined })
  const patterns = routes.map((r) => r.pattern).sort()
  if (JSON.stringify(patterns) !== JSON.stringify([...target.routes].sort())) {
    error(`routes are ${JSON.stringify(patterns)}, expected ${JSON.stringify([...target.routes].sort())}`)
  }
  for (const route of routes) if (route.zone !== ZONE) error(`route ${route.pattern} is on zone ${String(route.zone)}, expected ${ZONE}`)
  const workersDev = target.routes.length === 0
  if ((config.workers_dev ?? false) !== workersDev) error(`workers_dev must be ${workersDev}`)

  const vars = config.vars
  for (const name of REQUIRED_VARS) {
    const value = vars[name]
    if (typeof value !== "string" || value.trim() === "") error(`var ${name} is missing or empty`)
  }
  for (const [name, expected] of Object.entries(target.vars)) {
    if (vars[name] !== undefined && vars[name] !== expected) error(`var ${name} is ${JSON.stringify(vars[name])}, expected ${JSON.stringify(expected)}`)
  }
  for (const name of Object.keys(vars)) {
    if (SECRETS.includes(name)) error(`${name} is a secret: remove it from the config and upload it with wrangler secret bulk`)
    else if (!REQUIRED_VARS.includes(name) && !OPTIONAL_VARS.includes(name)) error(`var ${name} is not one the Worker reads`)
  }
  const level = vars["LOG_LEVEL"]
  if (typeof level === "string" && !LOG_LEVELS.includes(level.trim().toLowerCase())) error(`LOG_LEVEL ${level} is not one of ${LOG_LEVELS.join(", ")}`)
  const maxSession = Number(vars["STS_MAX_SESSION_DURATION_SECS"])
  if (!Number.isInteger(maxSession) || maxSession < 900) error("STS_MAX_SESSION_DURATION_SECS must be an integer ≥ 900")
  if (vars["OIDC_PROVIDER_KID_PREVIOUS"] !== undefined && vars["OIDC_PROVIDER_KID_PREVIOUS"] === vars["OIDC_PROVIDER_KID"]) {
    error("OIDC_PROVIDER_KID_PREVIOUS equals OIDC_PROVIDER_KID")
  }

  const revocations = config.kv_namespaces.find((kv) => kv.binding === "REVOCATIONS")
  if (revocations === undefined) {
    error("no REVOCATIONS KV namespace: signed requests would be refused")
  } else if (shared !== undefined && revocations.id !== shared) {
    error(`the REVOCATIONS KV id must be ${target.revocationsOf}'s (${JSON.stringify(shared)}): sessions are ${target.revocationsOf}'s`)
  } else if (kvPlaceholder(revocations.id)) {
    const owner = target.revocationsOf ?? label
    const create = `bunx --bun wrangler kv namespace create REVOCATIONS${owner === "production" ? "" : ` --env ${owner}`}`
    const message = `the REVOCATIONS KV id ${JSON.stringify(revocations.id)} is a placeholder: run \`${create}\` and put the id it `
      + `prints in wrangler.toml${target.revocationsOf === undefined ? "" : ` (${owner}'s and ${label}'s)`}`
    if (deploying) error(message)
    else notice(`${message} (a deploy is refused until then)`)
  }
  const analytics = config.analytics_engine_datasets.find((d) => d.binding === "ANALYTICS")
  if (analytics?.dataset !== target.dataset) {
    error(`the ANALYTICS dataset is ${JSON.stringify(analytics?.dataset)}, expected ${JSON.stringify(target.dataset)}`)
  }
  const stream = config.services?.find((s) => s.binding === "PUBLIC_LOG_STREAM")
  if (stream?.service !== target.logStream) {
    error(`the PUBLIC_LOG_STREAM service is ${JSON.stringify(stream?.service)}, expected ${JSON.stringify(target.logStream)}`)
  }

  for (const flag of COMPATIBILITY_FLAGS) {
    if (!config.compatibility_flags.includes(flag)) error(`compatibility_flags lacks ${flag}`)
  }
  if (config.compatibility_date === undefined || (WORKERD_DATE !== undefined && config.compatibility_date > WORKERD_DATE)) {
    error(`compatibility_date ${String(config.compatibility_date)} must be set and at most ${WORKERD_DATE} (the bundled workerd)`)
  }
  if (config.minify !== true) error("minify must be true")

  const observability = config.observability
  if (observability?.enabled !== true || observability.logs?.enabled === false) error("observability logs must be enabled")
  if ((observability?.logs?.head_sampling_rate ?? observability?.head_sampling_rate ?? 1) !== 1) {
    error("observability.logs.head_sampling_rate must be 1: sampling would drop STS audit and access events")
  }
  if (observability?.redact_query_string !== true) error("observability.redact_query_string must be true: query strings carry presigned signatures and session tokens")
  return findings
}

/** Every environment's findings; `deploying` names the environment about to be deployed, if any. */
const checkConfig = (configPath: string, deploying: string | undefined): ReadonlyArray<Finding> => {
  const configs = new Map(Object.entries(TARGETS).map(([label, target]) =>
    [label, readConfig(configPath, target.env)] as const))
  return Object.entries(TARGETS).flatMap(([label, target]) => {
    const owner = target.revocationsOf === undefined ? undefined : configs.get(target.revocationsOf)
    return checkEnvironment(label, target, configs.get(label)!, owner === undefined ? undefined : revocationsId(owner), deploying === label)
  })
}

const main = () => {
  const args = process.argv.slice(2)
  const option = (name: string) => {
    const at = args.indexOf(name)
    return at >= 0 ? args[at + 1] : undefined
  }
  const configPath = resolve(option("--config") ?? "wrangler.toml")
  const deploying = option("--deploy")
  if (deploying !== undefined && !(deploying in TARGETS)) {
    console.error(`--deploy takes one of ${Object.keys(TARGETS).join(", ")}`)
    process.exit(2)
  }
  const findings = checkConfig(configPath, deploying)
  for (const f of findings) console.log(`${f.severity === "error" ? "error" : "note"}: ${f.environment}: ${f.message}`)
  const errors = findings.filter((f) => f.severity === "error").length
  console.log(errors === 0
    ? `deploy:check: ${configPath} is valid for ${Object.keys(TARGETS).join(", ")}${deploying === undefined ? "" : `, and ready to deploy ${deploying}`}`
    : `deploy:check: ${errors} error(s) in ${configPath}`)
  process.exit(errors === 0 ? 0 : 1)
}

main()
