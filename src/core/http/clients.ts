/** User-Agent marks of S3 SDKs and tools (aws-sdk- covers the Go, Java, JS, .NET, C++ and Rust SDKs). */
const S3_AGENTS = /aws-cli\/|boto3\/|botocore\/|aws-sdk-|rclone\/|s3cmd|s5cmd|gdal|minio|cyberduck|object_store\//i

/**
 * Whether a request comes from an S3 client rather than a browser or curl: it carries `x-amz-*` (or the
 * SDKs' `amz-sdk-*`) headers, or an SDK's or tool's User-Agent. Such a client reads every answer as S3
 * XML, and retries one it cannot parse as a server error (docs/s3-compatibility.md#client-rules).
 */
export const isS3Client = (headers: Headers): boolean => {
  let amz = false
  headers.forEach((_, name) => {
    if (name.startsWith("x-amz-") || name.startsWith("amz-sdk-")) amz = true
  })
  return amz || S3_AGENTS.test(headers.get("user-agent") ?? "")
}
