import { blocks, decodeText } from "../xmlScan.js"

/** Get Block List's answer (read) and Put Block List's body (written). */

/** One uncommitted block as Get Block List names it: its base64 id and its size. */
export interface StagedBlock {
  readonly name: string
  readonly size: number
}

/** A blob's uncommitted blocks in Azure's order, from Get Block List (`blocklisttype=uncommitted`). */
export const parseUncommittedBlocks = (xml: string): ReadonlyArray<StagedBlock> | undefined => {
  if (!xml.includes("<BlockList")) return undefined
  const section = blocks(xml, "UncommittedBlocks")
  if (section === undefined) return undefined
  const staged: Array<StagedBlock> = []
  for (const inner of section) {
    const found = blocks(inner, "Block")
    if (found === undefined) return undefined
    for (const block of found) {
      const name = blocks(block, "Name")?.[0]
      const size = Number(decodeText(blocks(block, "Size")?.[0] ?? "").trim())
      if (name !== undefined) staged.push({ name: decodeText(name).trim(), size: Number.isSafeInteger(size) && size >= 0 ? size : 0 })
    }
  }
  return staged
}

/** The names of a blob's uncommitted blocks, from Get Block List (`blocklisttype=uncommitted`). */
export const parseUncommitted = (xml: string): Set<string> | undefined => {
  const staged = parseUncommittedBlocks(xml)
  return staged === undefined ? undefined : new Set(staged.map((block) => block.name))
}

/** Put Block List's body: exactly these uncommitted blocks, in this order. */
export const blockListXml = (ids: ReadonlyArray<string>): string =>
  `<?xml version="1.0" encoding="utf-8"?><BlockList>${ids.map((id) => `<Uncommitted>${id}</Uncommitted>`).join("")}</BlockList>`
