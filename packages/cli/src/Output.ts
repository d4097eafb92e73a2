/**
 * Writing to the terminal: colour only on a TTY and never with `NO_COLOR`.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"

/** Whether stdout gets colour. */
export const colour = (): boolean => process.stdout.isTTY === true && process.env["NO_COLOR"] === undefined

const paint = (code: number) => (text: string): string => (colour() ? `\u001b[${code}m${text}\u001b[0m` : text)

/** @category formatting @since 0.1.0 */
export const green = paint(32)
/** @category formatting @since 0.1.0 */
export const red = paint(31)
/** @category formatting @since 0.1.0 */
export const yellow = paint(33)
/** @category formatting @since 0.1.0 */
export const dim = paint(2)

/** Prints lines to stdout. */
export const lines = (text: ReadonlyArray<string>): Effect.Effect<void> =>
  Effect.sync(() => {
    if (text.length > 0) process.stdout.write(`${text.join("\n")}\n`)
  })

/** Prints lines to stderr. */
export const errorLines = (text: ReadonlyArray<string>): Effect.Effect<void> =>
  Effect.sync(() => {
    if (text.length > 0) process.stderr.write(`${text.join("\n")}\n`)
  })
