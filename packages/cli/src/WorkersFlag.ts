/**
 * `--workers` of `oompa run` and `oompa loop` (SPEC F10): `claude:5,codex:4`, repeated
 * (`--workers claude:5 --workers codex:4`), or 0.1.0's space-separated `--workers claude:5 codex:4`.
 * Each item is `harness[:model[:reasoning]][:count]`, or a bare count (`--workers 3`) that uses
 * `--harness`/`--model`.
 *
 * @since 0.1.0
 */
import { AgentSpec } from "@oompa/core"
import { Result } from "effect"
import { UsageError } from "./Errors.ts"

/**
 * One group of identical workers.
 *
 * @category models
 * @since 0.1.0
 */
export interface WorkerGroup {
  readonly agent: AgentSpec.AgentSpec
  readonly count: number
}

const itemPattern = /^[A-Za-z0-9._/-]+(:[A-Za-z0-9._/-]*)*$/

/**
 * Joins 0.1.0's space-separated form into the flag's value before the parser sees it: the tokens
 * after `--workers X` that look like worker items (`name:count`) belong to it.
 *
 * @category parsing
 * @since 0.1.0
 */
export const normalizeArgv = (argv: ReadonlyArray<string>): ReadonlyArray<string> => {
  const out: Array<string> = []
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!
    out.push(token)
    if (token !== "--workers" || i + 1 >= argv.length) continue
    const items = [argv[++i]!]
    while (i + 1 < argv.length && /^[a-z]+(:[^\s:]+)*:\d+$/.test(argv[i + 1]!)) items.push(argv[++i]!)
    out.push(items.join(","))
  }
  return out
}

/**
 * Parses every `--workers` value; a failure names the bad item.
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseWorkers = (
  values: ReadonlyArray<string>,
  fallback: AgentSpec.AgentSpec
): Result.Result<ReadonlyArray<WorkerGroup>, UsageError> => {
  const bad = (message: string) => Result.fail(new UsageError({ message: `--workers: ${message}` }))
  const groups: Array<WorkerGroup> = []
  for (const item of values.flatMap((v) => v.split(",")).map((s) => s.trim()).filter((s) => s !== "")) {
    if (!itemPattern.test(item)) return bad(`${JSON.stringify(item)} is not harness[:model[:reasoning]][:count]`)
    const parts = item.split(":")
    const last = parts[parts.length - 1]!
    const hasCount = /^\d+$/.test(last)
    const count = hasCount ? Number(last) : 1
    if (!Number.isSafeInteger(count) || count < 1) return bad(`${JSON.stringify(item)} needs a count of at least 1`)
    const specText = (hasCount ? parts.slice(0, -1) : parts).join(":")
    if (specText === "") {
      groups.push({ agent: fallback, count })
      continue
    }
    if (!(AgentSpec.harnesses as ReadonlyArray<string>).includes(parts[0]!)) {
      return bad(`unknown harness ${JSON.stringify(parts[0])} in ${JSON.stringify(item)}; expected one of ${AgentSpec.harnesses.join(", ")}`)
    }
    const agent = AgentSpec.parseModelString(specText)
    if (Result.isFailure(agent)) return bad(`${JSON.stringify(item)} ${agent.failure.message}`)
    groups.push({ agent: agent.success, count })
  }
  return groups.length === 0 ? bad("no workers given") : Result.succeed(groups)
}
