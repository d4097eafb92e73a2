/**
 * For `git.bench.ts`: the `Git` service instrumented call by call, and the calls the core's own
 * programs make for one worker, read from a real swarm over the in-memory layers — so the benchmark
 * can check that it drives NodeGit exactly as a swarm iteration does.
 */
import { Effect } from "effect"
import { createRequire, syncBuiltinESMExports } from "node:module"
import { Git, Ids, Swarm, SwarmConfig, type Task } from "@oompa/core"
import { ScriptedAgent, TestSwarm } from "@oompa/core/testing"

/**
 * What an instrumented service records: each call's method name, in order, and the time spent in
 * calls by step (the step the caller is performing when it calls, `step`), and of that the time in
 * git processes (`timeSpawns`). `onCall` runs as a call starts (the benchmark's counting pass writes
 * a marker into the git log there).
 */
export interface Recorder {
  step: string
  readonly methods: Array<string>
  readonly ms: Map<string, number>
  /** By step: time from each git process's spawn to its `close` (exit and output read), as node sees it. */
  readonly spawnMs: Map<string, number>
  /** How many recorded calls are running (processes are timed only inside one). */
  active: number
  onCall?: ((method: string, step: string) => void) | undefined
}

export const makeRecorder = (): Recorder => ({ step: "", methods: [], ms: new Map(), spawnMs: new Map(), active: 0 })

/**
 * Times every git process spawned while one of `recorder`'s calls runs (`node:child_process`'s
 * `spawn`, patched once for the process, so it sees NodeGit's calls however they reach it), from
 * the spawn to its `close` (exit and output read), into `recorder.spawnMs` under the current step.
 */
export const timeSpawns = (recorder: Recorder): void => {
  const patching = timedRecorder === undefined
  timedRecorder = recorder
  if (!patching) return
  const childProcess = createRequire(import.meta.url)("node:child_process") as typeof import("node:child_process")
  const original = childProcess.spawn as (...args: Parameters<typeof childProcess.spawn>) => ReturnType<typeof childProcess.spawn>
  const patched = (...args: Parameters<typeof childProcess.spawn>) => {
    const started = performance.now()
    const child = original(...args)
    const current = timedRecorder
    if (current !== undefined && current.active > 0 && args[0] === "git") {
      const step = current.step
      child.once("close", () => {
        current.spawnMs.set(step, (current.spawnMs.get(step) ?? 0) + performance.now() - started)
      })
    }
    return child
  }
  childProcess.spawn = patched as typeof childProcess.spawn
  syncBuiltinESMExports()
}

let timedRecorder: Recorder | undefined

/** `effect`, run as step `step` of the recorder (calls it makes are timed under that step). */
export const at = <A, E, R>(recorder: Recorder, step: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.suspend(() => {
    recorder.step = step
    return effect
  })

const around = <A, E, R>(recorder: Recorder, method: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.suspend(() => {
    const step = recorder.step
    recorder.methods.push(method)
    recorder.onCall?.(method, step)
    recorder.active++
    const started = performance.now()
    return Effect.onExit(effect, () =>
      Effect.sync(() => {
        recorder.active--
        recorder.ms.set(step, (recorder.ms.get(step) ?? 0) + performance.now() - started)
      }))
  })

/** `git` with every method (and every effect-valued member, such as `mainHead`) recorded. */
export const instrument = (git: Git.Git["Service"], recorder: Recorder): Git.Git["Service"] => {
  const wrapped: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(git)) {
    if (typeof value === "function") {
      wrapped[key] = (...args: Array<unknown>) => around(recorder, key, (value as (...args: Array<unknown>) => Effect.Effect<unknown, unknown>)(...args))
    } else if (Effect.isEffect(value)) {
      wrapped[key] = around(recorder, key, value as Effect.Effect<unknown, unknown>)
    } else {
      wrapped[key] = value
    }
  }
  return wrapped as unknown as Git.Git["Service"]
}

/**
 * The `Git` calls of one worker of a real swarm (the core's `Swarm`, `Worker`, `Iteration`,
 * `IterationSteps` and `MergeQueue` over the in-memory layers): an executor with a task per
 * iteration, a proposer that changes files, one reviewer that approves, no setup or test command,
 * the default merge strategy; from its `acquireWorkspace` to its `removeWorkspace`.
 */
export const coreWorkerCalls = async (iterations: number): Promise<ReadonlyArray<string>> => {
  const tasks: ReadonlyArray<Task.Task> = Array.from({ length: iterations }, (_, i) => ({ id: Ids.TaskId.make(`t${i + 1}`), summary: `task ${i + 1}` }))
  const world = TestSwarm.makeWorld({
    files: { "README.md": "# bench\n" },
    tasks,
    script: ScriptedAgent.byCall({
      propose: (r) => ({ answer: "done", edits: new Map([[`src/${r.iteration}.txt`, `${r.iteration}\n`]]) }),
      review: ScriptedAgent.approve
    })
  })
  const config = SwarmConfig.makeSwarmConfig({
    workers: [{
      id: Ids.WorkerId.make("w0"),
      agent: { harness: "codex", model: "bench" },
      role: "executor",
      iterations,
      prompt: [],
      wait_between: 0,
      budget: {}
    }],
    max_wait_for_tasks: 0
  })
  const recorder = makeRecorder()
  const report = await Effect.runPromise(Effect.gen(function*() {
    const inner = yield* Git.Git
    return yield* Swarm.run(config, { runId: "0000bea5" }).pipe(Effect.provideService(Git.Git, instrument(inner, recorder)))
  }).pipe(Effect.provide(TestSwarm.layer(world))))
  if (report.merged !== iterations) throw new Error(`the reference swarm merged ${report.merged} of ${iterations} iterations`)
  const first = recorder.methods.indexOf("acquireWorkspace")
  const last = recorder.methods.lastIndexOf("removeWorkspace")
  if (first < 0 || last < first) throw new Error(`the reference swarm's calls have no workspace: ${recorder.methods.join(", ")}`)
  return recorder.methods.slice(first, last + 1)
}
