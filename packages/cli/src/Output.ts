/**
 * Writing to the terminal (clig.dev): results on stdout, progress, warnings and errors on stderr,
 * and colour only where the stream and the user allow it.
 *
 * Whether a stream gets colour is Node's own decision (`util.styleText` with `{ stream }`: a TTY,
 * `NO_COLOR`, `FORCE_COLOR`, `NODE_DISABLE_COLORS`, `TERM=dumb`), not detection of our own, so oompa
 * agrees with every other Node tool on the same terminal. `--no-color` wins over all of them; it is
 * read from the command line before parsing (`noColorFlag`), since help and parse errors print
 * before any handler runs.
 *
 * @since 0.1.0
 */
import { Console, Effect, Schema } from "effect"
import { Flag, GlobalFlag } from "effect/cli"
import { styleText } from "node:util"
import * as NodePath from "node:path"

/** The streams oompa writes to. */
type Stream = NodeJS.WriteStream

/**
 * Set once per invocation by `Main.main` from `--no-color`, before anything is printed: the
 * formatting helpers below are plain functions, called from pure renderers.
 */
let disabled = false

/**
 * `--no-color`, listed under the global flags of every command's help and accepted before or after
 * the subcommand. Its value is read by `Main` from the argv (see `hasNoColorFlag`); the parser only
 * needs to accept and document it.
 *
 * @category flags
 * @since 0.1.0
 */
export const noColorFlag = GlobalFlag.Setting("no-color")({
  flag: Flag.Boolean("no-color").pipe(
    Flag.withoutNegation,
    Flag.withDefault(false),
    Flag.withDescription("Never colour the output (NO_COLOR, FORCE_COLOR and TERM=dumb are honoured too)")
  )
})

/**
 * Whether `argv` asks for `--no-color` (before a `--`, after which every word is an argument).
 *
 * @category flags
 * @since 0.1.0
 */
export const hasNoColorFlag = (argv: ReadonlyArray<string>): boolean => {
  const end = argv.indexOf("--")
  return (end === -1 ? argv : argv.slice(0, end)).includes("--no-color")
}

/**
 * Turns colour off (`--no-color`) or leaves the decision to Node, for this invocation.
 *
 * @category configuration
 * @since 0.1.0
 */
export const configure = (options: { readonly noColor: boolean }): void => {
  disabled = options.noColor
}

/**
 * Whether `stream` (default stdout) gets colour. Asked of `styleText` itself, so the help formatter
 * of effect/cli, which takes a boolean, decides exactly as the helpers below do.
 *
 * @category formatting
 * @since 0.1.0
 */
export const colour = (stream: Stream = process.stdout): boolean => !disabled && styleText("red", "x", { stream }) !== "x"

type Format = Parameters<typeof styleText>[0]

const paint = (format: Format) => (text: string, stream: Stream = process.stdout): string =>
  disabled ? text : styleText(format, text, { stream })

/** @category formatting @since 0.1.0 */
export const green = paint("green")
/** @category formatting @since 0.1.0 */
export const red = paint("red")
/** @category formatting @since 0.1.0 */
export const yellow = paint("yellow")

/**
 * Prints lines to stdout: results.
 *
 * @category printing
 * @since 0.1.0
 */
export const lines = (text: ReadonlyArray<string>): Effect.Effect<void> =>
  text.length > 0 ? Console.log(text.join("\n")) : Effect.void

/**
 * Prints `value`, encoded with its Schema, as one JSON document on stdout (`--json`): what is
 * printed is what the Schema, exported by a library package, decodes.
 *
 * @category printing
 * @since 0.1.0
 */
export const json = <A, I>(schema: Schema.Codec<A, I>, value: A): Effect.Effect<void> =>
  Effect.suspend(() => Console.log(JSON.stringify(Schema.encodeSync(schema)(value), null, 2)))

/**
 * `--json` of a read command.
 *
 * @category flags
 * @since 0.1.0
 */
export const jsonFlag = (what: string) => Flag.Boolean("json").pipe(Flag.withDefault(false), Flag.withDescription(`Print ${what} as one JSON document`))

/**
 * Prints lines to stderr: progress, warnings, errors.
 *
 * @category printing
 * @since 0.1.0
 */
export const errorLines = (text: ReadonlyArray<string>): Effect.Effect<void> =>
  text.length > 0 ? Console.error(text.join("\n")) : Effect.void

/**
 * Prints `warning: …` lines to stderr.
 *
 * @category printing
 * @since 0.1.0
 */
export const warnings = (text: ReadonlyArray<string>): Effect.Effect<void> =>
  errorLines(text.map((line) => `${yellow("warning:", process.stderr)} ${line}`))

/**
 * `n thing` or `n things`: counts in output read as English ("1 iteration", "2 iterations").
 *
 * @category formatting
 * @since 0.1.0
 */
export const count = (n: number, singular: string, plural = `${singular}s`): string => `${n} ${noun(n, singular, plural)}`

/**
 * The noun agreeing with `n`, for counts laid out in columns.
 *
 * @category formatting
 * @since 0.1.0
 */
export const noun = (n: number, singular: string, plural = `${singular}s`): string => (n === 1 ? singular : plural)

/**
 * Where progress goes: stderr, redrawn in place on a terminal (`write` takes text as it is, without
 * a newline). Progress is not a command's result, so `oompa swarm > summary.txt` keeps only the
 * summary and a terminal still shows the progress.
 *
 * @category printing
 * @since 0.1.0
 */
export interface ProgressTerminal {
  readonly tty: boolean
  readonly write: (text: string) => void
  readonly columns: () => number
}

/**
 * This process's stderr as a `ProgressTerminal`.
 *
 * @category printing
 * @since 0.1.0
 */
export const progressTerminal = (): ProgressTerminal => ({
  tty: process.stderr.isTTY === true,
  write: (text) => void process.stderr.write(text),
  columns: () => process.stderr.columns || 100
})

/**
 * A file as a message shows it: relative to the current folder when it is inside it, else absolute.
 *
 * @category formatting
 * @since 0.1.0
 */
export const shownPath = (file: string): string => {
  const relative = NodePath.relative(process.cwd(), file)
  return relative === "" || relative.startsWith("..") || NodePath.isAbsolute(relative) ? file : relative
}

