import { dirname, resolve } from "node:path"
import * as Schema from "effect/Schema"
import { CatalogDocument } from "../../layers/LocalCatalog.js"

export const DEFAULT_CATALOG = resolve(import.meta.dir, "../../../sample/catalog.json")

/** Reads and decodes the catalog file once, at startup; a broken file stops the server with the reason. */
export const loadCatalogFile = async (path: string) => {
  const text = await Bun.file(path).text()
  const document = Schema.decodeUnknownSync(CatalogDocument)(JSON.parse(text))
  return { document, directory: dirname(path) }
}
