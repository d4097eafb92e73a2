/**
 * Goal: two holders of one task never exist (SPEC F2; 0.7 ignored `renameTo`'s result and two
 * workers claimed the same task). Every task is claimed exactly once, whoever races for it.
 * Method: (1) 100 pending tasks, 16 fibers of one process, each on its own queue instance, claim
 * until nothing is left; (2) 400 pending tasks, two separate Node processes of 8 claimers each,
 * every claimer's index of the folder built (a first listing) before a barrier on stdin releases
 * them at the same moment, race on the same folder (a claim takes about a millisecond: with fewer
 * tasks, one process could finish before the other is scheduled). Then the claims are counted: no
 * id twice, none missing, all in `current/` and none left in `pending/`.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import type { Task, TaskQueue } from "@oompa/core"
import { Effect, FileSystem, Option } from "effect"
import * as FsTaskQueue from "../src/FsTaskQueue.ts"

const taskCount = 100
const processTaskCount = 400
const claimerCount = 16

const idsOf = (count: number) => Array.from({ length: count }, (_, i) => `task-${String(i).padStart(3, "0")}`)

/** Fills a fresh queue folder with `count` tasks of mixed priorities. */
const seeded = (count: number) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "oompa-fsq-race-" })
    const queue = yield* FsTaskQueue.make(dir)
    for (const [i, id] of idsOf(count).entries()) {
      assert.isTrue(yield* queue.create({ id, summary: `task ${i}`, priority: i % 7 } as Task.Task))
    }
    return dir
  })

/** Claims until the queue is empty; the ids won, in order. */
const claimAll = (queue: TaskQueue.TaskQueue["Service"]) =>
  Effect.gen(function*() {
    const won: Array<string> = []
    for (let i = 0; i <= taskCount; i++) {
      const claimed = yield* queue.claim
      if (Option.isNone(claimed)) return won
      won.push(claimed.value.id)
    }
    return assert.fail("a claimer got more claims than there are tasks")
  })

const assertEachClaimedOnce = (dir: string, claims: ReadonlyArray<string>, ids: ReadonlyArray<string>) => {
  const counts = new Map<string, number>()
  for (const id of claims) counts.set(id, (counts.get(id) ?? 0) + 1)
  assert.deepStrictEqual([...counts].filter(([, n]) => n > 1), [], "claimed more than once")
  assert.deepStrictEqual([...counts.keys()].sort(), ids, "every task claimed")
  assert.deepStrictEqual(NodeFs.readdirSync(NodePath.join(dir, "pending")), [])
  assert.deepStrictEqual(NodeFs.readdirSync(NodePath.join(dir, "current")).sort(), ids.map((id) => `${id}.json`))
}

/**
 * The claimer process: opens 8 queues and lists pending/ once with each (their index is built),
 * says "ready", waits for "go" on stdin, claims with 8 fibers.
 */
const claimerScript = (queueModule: string) => `
import { NodeServices } from "@effect/platform-node"
import { Effect, Option } from "effect"
import * as FsTaskQueue from ${JSON.stringify(queueModule)}
const dir = process.argv[1]
const claimAll = (queue) => Effect.gen(function*() {
  const won = []
  for (;;) {
    const claimed = yield* queue.claim
    if (Option.isNone(claimed)) return won
    won.push(claimed.value.id)
  }
})
const program = Effect.gen(function*() {
  const queues = yield* Effect.forEach(Array.from({ length: 8 }), () => FsTaskQueue.make(dir))
  yield* Effect.forEach(queues, (queue) => queue.list("pending"))
  console.log("ready")
  yield* Effect.callback((resume) => { process.stdin.once("data", () => resume(Effect.void)) })
  const won = yield* Effect.forEach(queues, claimAll, { concurrency: "unbounded" })
  console.log(JSON.stringify(won.flat()))
})
Effect.runPromise(program.pipe(Effect.provide(NodeServices.layer))).then(() => process.exit(0), (e) => { console.error(e); process.exit(1) })
`

interface Claimer {
  readonly child: ChildProcess
  readonly ready: Promise<void>
  readonly done: Promise<ReadonlyArray<string>>
}

const startClaimer = (dir: string): Claimer => {
  const source = fileURLToPath(new URL("../src/FsTaskQueue.ts", import.meta.url))
  // Bare imports in -e code resolve from the cwd: the package folder sees the workspace's node_modules.
  const child = spawn(process.execPath, ["--input-type=module", "-e", claimerScript(pathToFileURL(source).href), dir], {
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    stdio: ["pipe", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  let onReady: () => void = () => {}
  const ready = new Promise<void>((resolve) => (onReady = resolve))
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString()
    if (stdout.startsWith("ready\n")) onReady()
  })
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
  const done = new Promise<ReadonlyArray<string>>((resolve, reject) =>
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`claimer exited ${code}: ${stderr}`))
      resolve(JSON.parse(stdout.slice("ready\n".length)) as Array<string>)
    })
  )
  return { child, ready: Promise.race([ready, done.then(() => {})]), done }
}

describe("FsTaskQueue under contention", () => {
  it.live(`${claimerCount} concurrent claimers on ${taskCount} tasks: each task claimed exactly once`, () =>
    Effect.gen(function*() {
      const dir = yield* seeded(taskCount)
      const queues = yield* Effect.forEach(Array.from({ length: claimerCount }), () => FsTaskQueue.make(dir))
      const won = yield* Effect.forEach(queues, claimAll, { concurrency: "unbounded" })
      assertEachClaimedOnce(dir, won.flat(), idsOf(taskCount))
      // Contention really happened: the work was spread over several claimers.
      assert.isAbove(won.filter((w) => w.length > 0).length, 1)
    }).pipe(Effect.provide(NodeServices.layer)), 30_000)

  it.live(`two Node processes racing on one folder (${processTaskCount} tasks): each task claimed exactly once`, () =>
    Effect.gen(function*() {
      const dir = yield* seeded(processTaskCount)
      const claimers = [startClaimer(dir), startClaimer(dir)]
      yield* Effect.addFinalizer(() => Effect.sync(() => claimers.forEach((c) => c.child.kill())))
      yield* Effect.promise(() => Promise.all(claimers.map((c) => c.ready)))
      for (const c of claimers) c.child.stdin?.end("go\n")
      const won = yield* Effect.promise(() => Promise.all(claimers.map((c) => c.done)))
      assertEachClaimedOnce(dir, won.flat(), idsOf(processTaskCount))
      // The processes really raced: both won tasks (typically close to half each).
      assert.isTrue(won.every((w) => w.length > 0), `claims per process: ${won.map((w) => w.length).join(", ")}`)
    }).pipe(Effect.provide(NodeServices.layer)), 30_000)
})
