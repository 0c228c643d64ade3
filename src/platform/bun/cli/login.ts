/**
 * `bun run login <user> [--hours N]`: signs a user of the embedded catalog (`users` in the `CATALOG` file) in
 * at `bun run dev`'s local IdP and prints the identity token, which `/.sts` exchanges for session credentials
 * (e.g. with `AWS_WEB_IDENTITY_TOKEN_FILE` and `AWS_ROLE_ARN=arn:aws:iam::<account>:role/_default`). The
 * session acts as that user: it gets what the catalog's `permissions` grant the user, whatever account the
 * RoleArn names.
 */
import { resolve } from "node:path"
import { devOrigin } from "../devKeys.js"
import { DEV_IDP_FILE, devIdp } from "../devIdp.js"
import { DEFAULT_CATALOG, loadCatalogFile } from "../localCatalog.js"

const [user, ...rest] = process.argv.slice(2)
const hoursAt = rest.indexOf("--hours")
const hours = hoursAt >= 0 ? Number(rest[hoursAt + 1]) : 12
if (user === undefined || user.startsWith("-") || !Number.isFinite(hours) || hours <= 0) {
  console.error("usage: bun run login <user> [--hours N]")
  process.exit(2)
}

const env = process.env
const { document } = await loadCatalogFile(resolve(env.CATALOG ?? DEFAULT_CATALOG))
const users = document.users ?? []
// An account's name would carry the account's own rights (a `_default` session's principal is its user).
if (document.accounts.includes(user) || document.products.some((p) => p.account_id === user)) {
  console.error(`${user} is an account of the catalog, not a user`)
  process.exit(1)
}
if (!users.includes(user)) {
  console.error(`${user} is not a user of the catalog; its users: ${users.join(", ") || "none"}`)
  process.exit(1)
}
const idp = await devIdp(devOrigin(env), env.DEV_IDP_KEYS ?? DEV_IDP_FILE)
console.error(`identity token for ${user} from ${idp.issuer}, valid ${hours} h`)
console.log(await idp.login(user, hours))
