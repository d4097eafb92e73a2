/**
 * What a run remembers of its prompt work: templates split and their fences found, and the `yaml`
 * library's rendering of each scalar the context header has shown.
 *
 * A run renders the same few templates for every prompt, and a swarm renders a context header for
 * nearly every prompt, over task summaries that recur between merges. Asking the library for the
 * header's layout costs a document per header; composing it from remembered scalars is several
 * times cheaper. The memory is a value that the caller creates (once per run) and passes to
 * `Prompt.renderPrompt` and `Prompt.contextHeader`, not state of these modules: two runs in one
 * process share nothing, every test starts empty, and a caller without a cache gets the same text,
 * computed afresh.
 *
 * @since 0.1.0
 */
import type { CompiledPrompt } from "./Prompt.ts"
import type { ScalarLayout } from "./YamlLayout.ts"

/**
 * A run's prompt memory; make one with {@link makePromptCache} and keep it for the run. Each map is
 * bounded ({@link templatesMax}, {@link scalarsMax}): a full map is emptied, and the prompts that
 * follow refill it with what they use.
 *
 * **Gotchas**
 * - It is mutated by every render that is given it; share it only within one run, where every
 *   prompt wants the same memory.
 *
 * @category models
 * @since 0.1.0
 */
export interface PromptCache {
  /** Compiled templates, by template text. */
  readonly templates: Map<string, CompiledPrompt>
  /** The library's one-line rendering of each header scalar, by value. */
  readonly scalars: Map<string | number, ScalarLayout>
}

/**
 * The most templates a {@link PromptCache} keeps (a run has a handful: six built-in prompts and the
 * user's files).
 *
 * @category constants
 * @since 0.1.0
 */
export const templatesMax = 256

/**
 * The most scalars a {@link PromptCache} keeps (task summaries, ids, note paths and titles).
 *
 * @category constants
 * @since 0.1.0
 */
export const scalarsMax = 20_000

/**
 * An empty {@link PromptCache}, for one run.
 *
 * **Example** (One cache per run)
 *
 * ```ts
 * import { Prompt } from "@oompa/core"
 *
 * const cache = Prompt.makePromptCache()
 * const text = Prompt.renderPrompt("Task {task_id}", { task_id: "t-1" }, cache).text
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const makePromptCache = (): PromptCache => ({ templates: new Map(), scalars: new Map() })

/**
 * `map`'s value for `key`, computed and kept when it has none; a map holding `max` entries is
 * emptied first.
 *
 * @category operations
 * @since 0.1.0
 */
export const remember = <K, V>(map: Map<K, V>, max: number, key: K, compute: (key: K) => V): V => {
  const known = map.get(key)
  if (known !== undefined) return known
  if (map.size >= max) map.clear()
  const value = compute(key)
  map.set(key, value)
  return value
}
