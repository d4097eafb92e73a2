/**
 * Goal: 0.1.0's EDN task files and `run` mode's task lists read exactly as written, and text that
 * is not one EDN value (truncated, two forms, stray closer) is an error rather than a quietly
 * shorter list — `edn-data` alone would return `null` or the first form.
 * Method: examples on the pure parser, then `readTaskList` on real files in a temp folder.
 */
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, FileSystem } from "effect"
import * as EdnTasks from "../src/EdnTasks.ts"

const value = (text: string): unknown => {
  const parsed = EdnTasks.parseEdnValue(text)
  if (parsed._tag === "Problem") return assert.fail(`expected a value, got: ${parsed.problem}`)
  return parsed.value
}
const problem = (text: string): string => {
  const parsed = EdnTasks.parseEdnValue(text)
  return parsed._tag === "Problem" ? parsed.problem : assert.fail(`expected a problem, got ${JSON.stringify(parsed.value)}`)
}

describe("EdnTasks.parseEdnValue", () => {
  it("reads a 0.1.0 task map: keywords become keys, kebab-case becomes snake_case, nil is absent", () => {
    assert.deepStrictEqual(
      value(`; a comment\n{:id "t1", :summary "Port \\"run\\"" :files ["a.clj" "b.clj"] :priority 2 :last-feedback nil :oompa/merged-sha "abc1"}`),
      { id: "t1", summary: `Port "run"`, files: ["a.clj", "b.clj"], priority: 2, merged_sha: "abc1" }
    )
  })

  it("reads sets and lists as arrays, #inst as an ISO string, big integers exactly or as text", () => {
    assert.deepStrictEqual(value(`{:a #{"x"} :b ("y" "z") :c #inst "2020-01-02T03:04:05Z" :d 12N :e 123456789012345678901234N}`), {
      a: ["x"],
      b: ["y", "z"],
      c: "2020-01-02T03:04:05.000Z",
      d: 12,
      e: "123456789012345678901234"
    })
  })

  it("reports text that is not exactly one value", () => {
    assert.match(problem(`{:id "t1" :summary "x"`), /never closed/)
    assert.match(problem(`{:id "t1" :summary "x}`), /never closed/)
    assert.match(problem(`{:id "t1"} {:id "t2"}`), /one EDN value, found 2/)
    assert.match(problem(`{:id "t1"})`), /closing '\)'/)
    assert.match(problem(`[1 2]]`), /not valid EDN/)
    assert.match(problem(`   ; only a comment`), /empty/)
  })
})

describe("EdnTasks.parseTaskList", () => {
  it("reads a vector of tasks and reports every bad one by position and id", () => {
    const good = EdnTasks.parseTaskList("edn", `[{:id "a" :summary "A"} {:id "b" :summary "B" :priority 1}]`)
    assert.deepStrictEqual(good, { tasks: [{ id: "a", summary: "A" }, { id: "b", summary: "B", priority: 1 }] } as never)
    const bad = EdnTasks.parseTaskList("edn", `[{:id "a" :summary "A"} {:id "../x" :summary "X"} {:summary "no id"} {:id "a" :summary "again"}]`)
    assert.deepStrictEqual(bad, {
      problems: [
        `task 2 ("../x"): id: id "../x" contains a path separator`,
        "task 3: id: Missing key",
        `task 4 ("a"): the id is used by an earlier task of the list`
      ]
    })
    assert.deepStrictEqual(EdnTasks.parseTaskList("json", `{"id": "a"}`), { problems: ["expected a list of tasks (a JSON array)"] })
  })
})

describe("EdnTasks.readTaskList", () => {
  const inTemp = <A, E>(body: (dir: string) => Effect.Effect<A, E, FileSystem.FileSystem>) =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      return yield* body(yield* fs.makeTempDirectoryScoped({ prefix: "oompa-edn-" }))
    }).pipe(Effect.provide(NodeServices.layer))

  it.live("reads config/tasks.edn and config/tasks.json to the same tasks", () =>
    inTemp((dir) =>
      Effect.gen(function*() {
        NodeFs.writeFileSync(NodePath.join(dir, "tasks.edn"), `[{:id "t1" :summary "One" :files ["a"]}\n {:id "t2" :summary "Two" :acceptance ["it works"]}]\n`)
        NodeFs.writeFileSync(NodePath.join(dir, "tasks.json"), JSON.stringify([{ id: "t1", summary: "One", files: ["a"] }, { id: "t2", summary: "Two", acceptance: ["it works"] }]))
        const fromEdn = yield* EdnTasks.readTaskList(NodePath.join(dir, "tasks.edn"))
        const fromJson = yield* EdnTasks.readTaskList(NodePath.join(dir, "tasks.json"))
        assert.deepStrictEqual(fromEdn, fromJson)
        assert.deepStrictEqual(fromEdn.map((t) => t.id), ["t1", "t2"])
      })))

  it.live("a missing, misnamed or broken list is a TaskListError naming the file", () =>
    inTemp((dir) =>
      Effect.gen(function*() {
        NodeFs.writeFileSync(NodePath.join(dir, "tasks.edn"), `[{:id "t1" :summary "One"}`)
        const cases = [
          [NodePath.join(dir, "missing.edn"), /missing\.edn: no such file/],
          [NodePath.join(dir, "tasks.yaml"), /tasks\.yaml: a task list must be a \.json or \.edn file/],
          [NodePath.join(dir, "tasks.edn"), /tasks\.edn: not valid EDN/]
        ] as const
        for (const [path, pattern] of cases) {
          const exit = yield* Effect.exit(EdnTasks.readTaskList(path))
          assert.isTrue(Exit.isFailure(exit))
          if (Exit.isFailure(exit)) assert.match(String(exit.cause), pattern)
        }
      })))
})
