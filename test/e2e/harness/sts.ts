import { exportPKCS8, SignJWT } from "jose"
import { makeKey, signToken, startIssuer, type TestIssuer, type TestKey } from "./oidcIssuer.js"
import { type RunningProxy, startBunProxy } from "./proxy.js"

/** Session credentials as the proxy's `/.sts` hands them out. */
export interface SessionCredentials {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken: string
}

/** `AssumeRoleWithWebIdentity` at `{proxyUrl}/.sts` over plain HTTP (a POST form, as botocore sends it). */
export const exchangeAtSts = async (
  proxyUrl: string,
  roleArn: string,
  token: string,
  sessionName: string
): Promise<SessionCredentials> => {
  const response = await fetch(`${proxyUrl}/.sts`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8" },
    body: new URLSearchParams({
      Action: "AssumeRoleWithWebIdentity",
      Version: "2011-06-15",
      RoleArn: roleArn,
      RoleSessionName: sessionName,
      WebIdentityToken: token
    }).toString(),
    signal: AbortSignal.timeout(10_000)
  })
  const body = await response.text()
  if (response.status !== 200) throw new Error(`/.sts answered ${response.status}: ${body}`)
  const tag = (name: string) => {
    const value = new RegExp(`<${name}>([^<]*)</${name}>`).exec(body)?.[1]
    if (value === undefined) throw new Error(`/.sts answer without <${name}>: ${body}`)
    return value
  }
  return { accessKeyId: tag("AccessKeyId"), secretAccessKey: tag("SecretAccessKey"), sessionToken: tag("SessionToken") }
}

/** An API key of `account`, as `bun run api-key` mints it for the proxy whose own issuer and key these are. */
export const mintApiKey = (key: TestKey, issuer: string, account: string, ttlSeconds = 600): Promise<string> => {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({ type: "api_key", account_id: account })
    .setProtectedHeader({ alg: "RS256", kid: key.kid, typ: "JWT" })
    .setIssuer(issuer)
    .setSubject(account)
    .setAudience(`${issuer}/.sts`)
    .setIssuedAt(now)
    .setExpirationTime(now + ttlSeconds)
    .setJti(crypto.randomUUID())
    .sign(key.privateKey)
}

/** A Bun proxy that mints session credentials, the test OIDC issuer its callers sign in with, and the user's key. */
export interface StsProxy {
  readonly proxy: RunningProxy
  readonly issuer: TestIssuer
  readonly userKey: TestKey
  /** `AssumeRoleWithWebIdentity` on the proxy's `/.sts` with a fresh token for `subject` (default `writer-1`). */
  assume(roleArn: string, sessionName: string, subject?: string): Promise<SessionCredentials>
  stop(): Promise<void>
}

/**
 * Starts a test OIDC issuer and a Bun proxy that trusts it (`AUTH_ISSUER`, `AUTH_AUDIENCE`) and signs its own
 * tokens with a fresh key (`OIDC_PROVIDER_*`), in front of the Source API stand-in at `sourceApiUrl`.
 * `name` only tells the keys' ids apart between test files.
 */
export const startStsProxy = async (options: {
  readonly sourceApiUrl: string
  readonly audience: string
  readonly name: string
  readonly env?: Record<string, string>
}): Promise<StsProxy> => {
  const userKey = await makeKey("RS256", `${options.name}-user-1`)
  const proxyKey = await makeKey("RS256", `${options.name}-proxy-1`)
  const issuer = await startIssuer([userKey])
  let proxy: RunningProxy
  try {
    proxy = await startBunProxy({
      SOURCE_API_URL: options.sourceApiUrl,
      AUTH_ISSUER: issuer.url,
      AUTH_AUDIENCE: options.audience,
      OIDC_PROVIDER_ISSUER: "http://127.0.0.1:1",
      OIDC_PROVIDER_KID: proxyKey.kid,
      OIDC_PROVIDER_KEY: await exportPKCS8(proxyKey.privateKey),
      ...options.env
    })
  } catch (e) {
    await issuer.stop()
    throw e
  }
  const assume = async (roleArn: string, sessionName: string, subject = "writer-1"): Promise<SessionCredentials> =>
    exchangeAtSts(proxy.url, roleArn, await signToken(userKey, { iss: issuer.url, aud: options.audience, sub: subject }), sessionName)
  return {
    proxy,
    issuer,
    userKey,
    assume,
    stop: async () => {
      try {
        await proxy.stop()
      } finally {
        await issuer.stop()
      }
    }
  }
}

/** The environment aws-cli (or any AWS SDK) reads session credentials from. */
export const credsEnv = (creds: SessionCredentials) => ({
  AWS_ACCESS_KEY_ID: creds.accessKeyId,
  AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
  AWS_SESSION_TOKEN: creds.sessionToken
})

/** The same credentials as the `akid` / `secret` / `token` fields the boto3 snippets read from `inp`. */
export const botoCreds = (creds: SessionCredentials) => ({
  akid: creds.accessKeyId,
  secret: creds.secretAccessKey,
  token: creds.sessionToken
})

/** A boto3 snippet line: a path-style SigV4 client `name` from `inp[field]` (or `inp` itself) with `botoCreds`. */
export const botoSessionClient = (name: string, field?: string) => {
  const c = field === undefined ? "inp" : `inp["${field}"]`
  return `${name} = boto3.client("s3", endpoint_url=inp["endpoint"], region_name="us-east-1", `
    + `aws_access_key_id=${c}["akid"], aws_secret_access_key=${c}["secret"], aws_session_token=${c}["token"], `
    + `config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"}))`
}
