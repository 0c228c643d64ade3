import pkg from "../../package.json" with { type: "json" }

export const NAME = "Source Data Proxy"
export const VERSION: string = pkg.version
