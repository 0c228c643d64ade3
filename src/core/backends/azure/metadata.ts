/**
 * S3 user metadata names (`x-amz-meta-{name}`, any HTTP token characters: `two-words`, `a.b`) and Azure's
 * (`x-ms-meta-{name}`, which must be a C# identifier: letters, digits and `_`, not starting with a digit).
 * A name Azure would refuse is escaped reversibly: every character other than `a-z0-9` (and a leading
 * digit) becomes `_xHH` (its code, two lowercase hex digits), so `two-words` is stored as `two_x2dwords`
 * and `my_key` as `my_x5fkey`; reads decode `_xHH` back. Plain names (`colour`, `mtime`) are stored as
 * they are, so Azure-side tools see them unchanged.
 */

/** The Azure metadata name for an S3 one (lowercase, as S3 and `Headers` keep them). */
export const azureMetadataName = (name: string): string => {
  let out = ""
  for (let i = 0; i < name.length; i++) {
    const char = name[i]!
    const plain = /[a-z]/.test(char) || (i > 0 && /[0-9]/.test(char))
    out += plain ? char : `_x${char.charCodeAt(0).toString(16).padStart(2, "0")}`
  }
  return out
}

/** The S3 metadata name for an Azure one: `_xHH` decoded, everything else as it is. */
export const s3MetadataName = (name: string): string =>
  name.replace(/_x([0-9a-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
