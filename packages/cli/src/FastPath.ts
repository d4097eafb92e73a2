/**
 * The start-up commands that print only help or the version — bare `oompa`, `oompa --help`/`-h`,
 * `oompa help`, `oompa --version`/`-v`, `oompa <command> --help`/`-h`, each also with one
 * `--no-color` — answered without loading Effect (issue 17: Effect's CLI alone costs about 3.5x
 * `node -e 0` to start, which `--help` need not pay).
 *
 * The texts are not written here: `scripts/build-cli.mjs` has the freshly built full CLI
 * (`dist/cli.mjs`) render every one of these argvs, in colour and without, and stores what it
 * printed and its exit code in `dist/help.json` (a {@link HelpTable}). This module only looks the
 * argv up and decides colour as the full CLI does (`Main.main`, then `Output.colour`); an argv the
 * table does not hold — anything else, an unknown flag, `--help` next to another flag — returns
 * `false`, and the caller runs the full CLI. `test/cli/fastPath.test.ts` compares every entry with
 * the full CLI's output, so the two cannot drift.
 *
 * No import of Effect or of oompa's other modules here: this file is the whole cost of `--help`.
 *
 * @since 0.1.0
 */
import { readFileSync } from "node:fs"
import { styleText } from "node:util"

/**
 * What one invocation printed, and its exit code.
 *
 * @category models
 * @since 0.1.0
 */
export interface Printed {
  readonly stdout: string
  readonly stderr: string
  readonly exitCode: number
}

/**
 * `dist/help.json`: for each argv the full CLI answered at build time (keyed by {@link keyOf},
 * without `--no-color`), the index of what it printed, once without colour and once with.
 *
 * @category models
 * @since 0.1.0
 */
export interface HelpTable {
  readonly format: typeof tableFormat
  readonly argv: Readonly<Record<string, number>>
  readonly plain: ReadonlyArray<Printed>
  readonly colour: ReadonlyArray<Printed>
}

/**
 * The table's format: a table of another format is ignored (the full CLI answers).
 *
 * @category models
 * @since 0.1.0
 */
export const tableFormat = 1

/**
 * The table's key of an argv.
 *
 * @category lookup
 * @since 0.1.0
 */
export const keyOf = (argv: ReadonlyArray<string>): string => JSON.stringify(argv)

/**
 * The entry `argv` is, and whether it asks for `--no-color`; `undefined` when the table does not
 * hold it. One `--no-color`, anywhere, is the global flag (no key holds `--`, after which it
 * would be an argument); two are left to the full CLI.
 *
 * @category lookup
 * @since 0.1.0
 */
export const lookup = (table: HelpTable, argv: ReadonlyArray<string>): { readonly index: number; readonly noColor: boolean } | undefined => {
  const rest = argv.filter((word) => word !== "--no-color")
  if (argv.length - rest.length > 1) return undefined
  const key = keyOf(rest)
  if (!Object.hasOwn(table.argv, key)) return undefined
  const index = table.argv[key]!
  if (table.plain[index] === undefined || table.colour[index] === undefined) return undefined
  return { index, noColor: rest.length < argv.length }
}

/**
 * Whether the help gets colour, decided as the full CLI decides it: `Main.main` drops an empty
 * `NO_COLOR` (no-color.org: only a non-empty one counts), then `Output.colour()` asks Node's
 * `util.styleText` about stdout (a TTY, `NO_COLOR`, `FORCE_COLOR`, `NODE_DISABLE_COLORS`,
 * `TERM=dumb`) unless `--no-color` was given.
 *
 * @category output
 * @since 0.1.0
 */
export const colour = (noColor: boolean): boolean => {
  if (process.env["NO_COLOR"] === "") delete process.env["NO_COLOR"]
  return !noColor && styleText("red", "x", { stream: process.stdout }) !== "x"
}

const readTable = (file: URL): HelpTable | undefined => {
  try {
    const table = JSON.parse(readFileSync(file, "utf8")) as Partial<HelpTable> | null
    return table !== null && typeof table === "object" && table.format === tableFormat && typeof table.argv === "object" &&
        Array.isArray(table.plain) && Array.isArray(table.colour)
      ? table as HelpTable
      : undefined
  } catch {
    return undefined
  }
}

/**
 * Prints what the full CLI would for `argv` and sets the exit code, when `table` (a
 * `dist/help.json`) holds it; `false` otherwise (also when the file is missing or unreadable),
 * having printed nothing.
 *
 * @category output
 * @since 0.1.0
 */
export const printKnown = (argv: ReadonlyArray<string>, table: URL): boolean => {
  const known = readTable(table)
  const found = known === undefined ? undefined : lookup(known, argv)
  if (known === undefined || found === undefined) return false
  const printed = (colour(found.noColor) ? known.colour : known.plain)[found.index]!
  // As the full CLI does (`FullCli.start`): a reader that went away (`oompa --help | head -1`) is not an error.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE" && error.code !== "EIO") throw error
    })
  }
  if (printed.stdout !== "") process.stdout.write(printed.stdout)
  if (printed.stderr !== "") process.stderr.write(printed.stderr)
  process.exitCode = printed.exitCode
  return true
}
