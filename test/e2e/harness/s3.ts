import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3"

/** A JS SDK client that talks straight to moto (signed with throwaway keys; moto does not check them). */
export const motoClient = (endpoint: string): S3Client =>
  new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
    maxAttempts: 1
  })

/** A JS SDK client for the proxy that sends unsigned requests (the no-op signer), as anonymous callers do. */
export const anonymousClient = (endpoint: string): S3Client =>
  new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "anonymous", secretAccessKey: "anonymous" },
    signer: { sign: async (request) => request },
    maxAttempts: 1
  })

export type Seed = Record<string, Uint8Array | string>

/** Create the bucket and put every object, a few at a time; `publicRead` lets unsigned requests read and list (moto enforces ACLs for anonymous requests). */
export const seedBucket = async (client: S3Client, bucket: string, objects: Seed, publicRead: boolean, concurrency = 16) => {
  await client.send(new CreateBucketCommand({ Bucket: bucket, ...(publicRead ? { ACL: "public-read" } : {}) }))
  const entries = Object.entries(objects)
  let next = 0
  const worker = async () => {
    while (next < entries.length) {
      const [key, body] = entries[next++]!
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ...(publicRead ? { ACL: "public-read" } : {}) }))
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
}

export const readFromMoto = async (client: S3Client, bucket: string, key: string): Promise<Uint8Array> => {
  const answer = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
  return answer.Body!.transformToByteArray()
}

/** S3's strict key encoding (everything but `A-Za-z0-9-._~/` percent-encoded), for hand-made URLs. */
export const encodeKey = (key: string): string =>
  encodeURIComponent(key).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(
    /%2F/g,
    "/"
  )

/** S3 lists keys in UTF-8 byte order. */
export const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b))
