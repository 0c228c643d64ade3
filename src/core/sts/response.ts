import { type Reply, xmlReply } from "../http/Reply.js"
import { escapeXml, XML_DECLARATION } from "../s3/xml.js"
import { STS_NAMESPACE } from "./errors.js"
import type { Exchanged } from "./exchange.js"

const el = (name: string, text: string) => `<${name}>${escapeXml(text)}</${name}>`

/**
 * The AWS-shaped success document (docs/sts.md#wire-format): botocore reads Credentials, AssumedRoleUser and the
 * rest.
 */
export const renderAssumeRoleResponse = (result: Exchanged, requestId: string): Reply => {
  const { session, account, role, sessionName } = result
  const expiration = new Date(session.claims.exp * 1000).toISOString()
  const body = `${XML_DECLARATION}<AssumeRoleWithWebIdentityResponse xmlns="${STS_NAMESPACE}">`
    + `<AssumeRoleWithWebIdentityResult>`
    + `<Credentials>${el("AccessKeyId", session.accessKeyId)}${el("SecretAccessKey", session.secretAccessKey)}`
    + `${el("SessionToken", session.sessionToken)}${el("Expiration", expiration)}</Credentials>`
    + el("SubjectFromWebIdentityToken", result.subject)
    + `<AssumedRoleUser>${el("AssumedRoleId", `${role}:${sessionName}`)}`
    + `${el("Arn", `arn:aws:sts::${account}:assumed-role/${role}/${sessionName}`)}</AssumedRoleUser>`
    + el("Provider", result.issuer)
    + el("Audience", result.audience)
    + `</AssumeRoleWithWebIdentityResult>`
    + `<ResponseMetadata>${el("RequestId", requestId)}</ResponseMetadata>`
    + `</AssumeRoleWithWebIdentityResponse>`
  return xmlReply(body)
}
