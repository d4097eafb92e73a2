/** What the architecture tests read: the packages' source files, and their code without comments. */
import * as fs from "node:fs"
import * as path from "node:path"

/** `packages/`. */
export const packagesDir = path.resolve(import.meta.dirname, "../../..")

/** Every `.ts` file under `dir`. */
export const sources = (dir: string): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    return entry.isDirectory() ? sources(full) : entry.name.endsWith(".ts") ? [full] : []
  })

/** The code of a file with comments blanked out (line numbers kept), so prose may mention anything. */
export const codeOf = (text: string): string =>
  text.replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, " ")).replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1")
