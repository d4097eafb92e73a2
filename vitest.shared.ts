/**
 * What both vitest configs share: in the workspace, `@oompa/*` packages resolve to their TypeScript
 * sources (the `@oompa/source` export condition), not to the `dist/` builds their tarballs carry.
 * Node processes the tests start (an example run with `node file.ts`) get the same condition
 * through NODE_OPTIONS; the packed-tarball test clears it for what it runs outside the workspace.
 */
export const sourceCondition = "@oompa/source"

const nodeOptions = (process.env["NODE_OPTIONS"] ?? "").split(" ").filter((o) => o !== "" && o !== `--conditions=${sourceCondition}`)
process.env["NODE_OPTIONS"] = [...nodeOptions, `--conditions=${sourceCondition}`].join(" ")

export const resolve = { conditions: [sourceCondition, "module", "node", "import", "default"] }
export const ssr = { resolve: { conditions: [sourceCondition, "node", "import", "default"], externalConditions: [sourceCondition] } }
