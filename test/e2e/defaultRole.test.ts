import { readFileSync } from "node:fs"
import { join } from "node:path"
import { decodeJwt } from "jose"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { runBoto3 } from "./harness/clients.js"
import { type DevServer, startDevServer } from "./harness/devServer.js"
import type { RunningProxy } from "./harness/proxy.js"

/**
 * Today's clients (the source.coop frontend and CLI) send the Rust proxy's only RoleArn, the bare
 * `_default` (README "Cutover from the Rust proxy"): it still exchanges, for a `_default` session of the
 * signed-in user that names no account. Against `bun run dev`'s embedded catalog: alice may read
 * `demo/private`, bob may not. A Rust-proxy session (`STSPRXY…` keys) is refused with InvalidAccessKeyId.
 */

let dev: DevServer
let proxy: RunningProxy
let secret: Buffer

const login = async (user: string) => {
  const result = await dev.login(user)
  expect(result.status, result.stderr).toBe(0)
  return result.token
}

beforeAll(async () => {
  dev = await startDevServer("default")
  proxy = dev.proxy
  secret = readFileSync(join(dev.workDir, "sample/data/demo/private/secret.txt"))
})

afterAll(async () => {
  await proxy?.stop()
})

interface Outcome {
  readonly akid: string
  readonly token: string
  readonly arn: string
  readonly restricted: { readonly body?: string; readonly code?: string; readonly status?: number }
  readonly public: number
  readonly buckets: ReadonlyArray<string>
  readonly owner: string
}

/** boto3 (client-side validation off: botocore wants a RoleArn of 20+ characters) exchanges, then reads. */
const asUser = (token: string) =>
  runBoto3<Outcome>(`
    sts = boto3.client("sts", endpoint_url=inp["endpoint"] + "/.sts", region_name="us-east-1",
        config=Config(parameter_validation=False, retries={"max_attempts": 1, "mode": "standard"}))
    r = sts.assume_role_with_web_identity(RoleArn="_default", RoleSessionName="web", WebIdentityToken=inp["token"])
    c = r["Credentials"]
    s3 = boto3.client("s3", endpoint_url=inp["endpoint"], region_name="us-east-1",
        aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"],
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"}))
    try:
        restricted = {"body": base64.b64encode(s3.get_object(Bucket="demo", Key="private/secret.txt")["Body"].read()).decode()}
    except ClientError as e:
        restricted = error_of(e)
    public = len(s3.get_object(Bucket="demo", Key="sample/places.geojson")["Body"].read())
    listed = s3.list_buckets()
    out = {"akid": c["AccessKeyId"], "token": c["SessionToken"], "arn": r["AssumedRoleUser"]["Arn"], "restricted": restricted,
           "public": public, "buckets": [b["Name"] for b in listed["Buckets"]], "owner": listed["Owner"]["ID"]}
  `, { endpoint: proxy.url, token })

describe("RoleArn=_default, as the Rust proxy took it", () => {
  it("boto3: alice's session reads the restricted product she may read; it names no account and lists no bucket", async () => {
    const out = await asUser(await login("alice"))
    expect(out.akid).toMatch(/^SCSTS1/)
    expect(Buffer.from(out.restricted.body ?? "", "base64").equals(secret)).toBe(true)
    expect(out.public).toBeGreaterThan(0)
    expect(out.arn).toBe("arn:aws:sts:::assumed-role/_default/web")
    expect(out.buckets).toStrictEqual([])
    expect(decodeJwt(out.token)).toMatchObject({ account_id: "", role_name: "_default", assumed_by: "alice", sub: "sc::::role/_default" })
  })

  it("boto3: bob's session is refused the restricted product (403 AccessDenied) and reads the public one", async () => {
    const out = await asUser(await login("bob"))
    expect(out.restricted).toStrictEqual({ code: "AccessDenied", status: 403 })
    expect(out.public).toBeGreaterThan(0)
  })

  it("the Rust proxy's GET query form exchanges too", async () => {
    const query = new URLSearchParams({ Action: "AssumeRoleWithWebIdentity", RoleArn: "_default", WebIdentityToken: await login("alice") })
    const response = await fetch(`${proxy.url}/.sts?${query}`)
    const body = await response.text()
    expect(response.status, body).toBe(200)
    expect(body).toMatch(/<AccessKeyId>SCSTS1/)
  })

  it("a Rust-proxy session (STSPRXY… access key) answers 403 InvalidAccessKeyId: the client must exchange again", async () => {
    const out = await runBoto3<{ code: string; status: number }>(`
      s3 = boto3.client("s3", endpoint_url=inp["endpoint"], region_name="us-east-1",
          aws_access_key_id="STSPRXYAbCdEfGhIjKlMnOp", aws_secret_access_key="x" * 40, aws_session_token="sealed-rust-token",
          config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"}))
      try:
          s3.get_object(Bucket="demo", Key="sample/places.geojson")
          out = {"code": "none", "status": 200}
      except ClientError as e:
          out = error_of(e)
    `, { endpoint: proxy.url })
    expect(out).toStrictEqual({ code: "InvalidAccessKeyId", status: 403 })
  })
})
