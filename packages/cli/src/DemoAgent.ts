/**
 * The built-in scripted agent of `oompa demo` (SPEC F12): it stands in for Codex or Claude so that
 * the demo runs on a fresh machine. Like a real agent it only edits files in the worktree it is
 * given (`request.cwd`), creates tasks by writing JSON files into `.oompa-new-tasks/` there (SPEC
 * F2), and answers reviews with a `VERDICT:` line (SPEC F4). Everything else — claims, commits, the
 * policy gate, the review loop, the test gate, the merge queue — is the real framework on real git,
 * exactly as `oompa swarm` runs it.
 *
 * The script tells one story over the small project of {@link initialFiles}: the planner creates
 * the three {@link tasks}; `add-greeting`'s first version mishandles an empty name, which the
 * reviewer finds by reading the worktree's file, and the fix adds the fallback and a test;
 * `add-port` also writes a `.env` file, which the policy gate catches before any review, and the
 * fix deletes it. Decisions are taken from the worktree's files, not from counters, so the story
 * holds whichever executor claims which task.
 *
 * Each call takes a short real delay (150–600 ms), so the live progress has something to show and
 * the whole demo still ends in a few seconds. A failing file write is a failed call (exit 1), as a
 * crashing agent would be.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Layer, Random } from "effect"
import { Agent, type Event, RepoLayout } from "@oompa/core"
import * as fs from "node:fs"
import * as path from "node:path"

/** Where agents write new tasks inside their worktree (SPEC F2). */
const newTasksFolder = RepoLayout.newTasksFolder

/**
 * The scratch project the script is written for: a README, one module with its test, and the test
 * gate's script, which runs every `test/*.test.mjs` with node (no package.json, no dependencies).
 *
 * @category constants
 * @since 0.1.0
 */
export const initialFiles: Readonly<Record<string, string>> = {
  "README.md": [
    "# oompa demo",
    "",
    "A scratch project made by `oompa demo`: a scripted swarm (a planner, two executors, a reviewer)",
    "adds three small modules here, each through review, the policy gate and the test gate.",
    "",
    "Run the tests with `sh test/run.sh`.",
    ""
  ].join("\n"),
  "src/shout.mjs": "/** Upper-cases a line and adds an exclamation mark. */\nexport const shout = (text) => `${text.toUpperCase()}!`\n",
  "test/shout.test.mjs": "import assert from \"node:assert/strict\"\nimport { shout } from \"../src/shout.mjs\"\n\nassert.equal(shout(\"hi\"), \"HI!\")\n",
  "test/run.sh": [
    "#!/bin/sh",
    "# The test gate: runs every test/*.test.mjs with node; the first failure fails the gate.",
    "set -e",
    "for t in test/*.test.mjs; do",
    "  node \"$t\"",
    "  echo \"ok $t\"",
    "done",
    ""
  ].join("\n")
}

/**
 * The tasks the planner creates, in claim order.
 *
 * @category constants
 * @since 0.1.0
 */
export const tasks = [
  {
    id: "add-greeting",
    summary: "Add greet(name) in src/greeting.mjs",
    description: "greet(\"Ada\") returns \"Hello, Ada!\". Add a test in test/greeting.test.mjs.",
    files: ["src/greeting.mjs", "test/greeting.test.mjs"],
    acceptance: ["greet(\"Ada\") is \"Hello, Ada!\"", "sh test/run.sh passes"],
    priority: 1
  },
  {
    id: "add-farewell",
    summary: "Add farewell(name) in src/farewell.mjs",
    description: "farewell(\"Ada\") returns \"Goodbye, Ada.\". Add a test in test/farewell.test.mjs.",
    files: ["src/farewell.mjs", "test/farewell.test.mjs"],
    acceptance: ["farewell(\"Ada\") is \"Goodbye, Ada.\"", "sh test/run.sh passes"],
    priority: 2
  },
  {
    id: "add-port",
    summary: "Read the server port from PORT in src/config.mjs",
    description: "port(env) returns env.PORT as a number when it is a valid port, else 3000. Add a test.",
    files: ["src/config.mjs", "test/config.test.mjs"],
    acceptance: ["port({}) is 3000", "port({ PORT: \"8080\" }) is 8080", "sh test/run.sh passes"],
    priority: 3
  }
] as const

/** What a call does to the worktree, and what it answers. */
interface Step {
  readonly answer: string
  readonly write?: Readonly<Record<string, string>>
  readonly remove?: ReadonlyArray<string>
}

const testOf = (module: string, names: string, body: ReadonlyArray<string>): string =>
  [`import assert from "node:assert/strict"`, `import { ${names} } from "../src/${module}"`, "", ...body, ""].join("\n")

const greetingFirst = "/** Greets someone by name. */\nexport const greet = (name) => `Hello, ${name}!`\n"
const greetingFixed = "/** Greets someone by name; an empty or blank name greets the world. */\n" +
  "export const greet = (name) => `Hello, ${name.trim() || \"world\"}!`\n"

/** The proposer's work for each task; a task the script does not know gets no change. */
const proposals: Readonly<Record<string, Step>> = {
  "add-greeting": {
    answer: "Added greet(name) in src/greeting.mjs with a test.",
    write: {
      "src/greeting.mjs": greetingFirst,
      "test/greeting.test.mjs": testOf("greeting.mjs", "greet", ["assert.equal(greet(\"Ada\"), \"Hello, Ada!\")"])
    }
  },
  "add-farewell": {
    answer: "Added farewell(name) in src/farewell.mjs with a test.",
    write: {
      "src/farewell.mjs": "/** Says goodbye to someone by name. */\nexport const farewell = (name) => `Goodbye, ${name}.`\n",
      "test/farewell.test.mjs": testOf("farewell.mjs", "farewell", ["assert.equal(farewell(\"Ada\"), \"Goodbye, Ada.\")"])
    }
  },
  "add-port": {
    // The .env file is the slip the policy gate exists for: it never reaches a reviewer.
    answer: "Added port(env) in src/config.mjs with a test, and a .env with PORT=3000 for local runs.",
    write: {
      "src/config.mjs": [
        "/** The server port: PORT when it is a valid port number, else 3000. */",
        "export const port = (env = process.env) => {",
        "  const value = Number(env.PORT)",
        "  return Number.isInteger(value) && value > 0 && value < 65536 ? value : 3000",
        "}",
        ""
      ].join("\n"),
      "test/config.test.mjs": testOf("config.mjs", "port", [
        "assert.equal(port({}), 3000)",
        "assert.equal(port({ PORT: \"8080\" }), 8080)",
        "assert.equal(port({ PORT: \"eighty\" }), 3000)"
      ]),
      ".env": "PORT=3000\n"
    }
  }
}

const exists = (cwd: string, file: string): boolean => fs.existsSync(path.join(cwd, file))
const read = (cwd: string, file: string): string => (exists(cwd, file) ? fs.readFileSync(path.join(cwd, file), "utf8") : "")

/** The planner writes one JSON file per task into its worktree's outbox. */
const plan = (): Step => ({
  answer: `Planned ${tasks.length} tasks: ${tasks.map((t) => t.id).join(", ")}.`,
  write: Object.fromEntries(tasks.map((task) => [`${newTasksFolder}/${task.id}.json`, `${JSON.stringify(task, null, 2)}\n`]))
})

/** Fixes whatever the worktree shows is wrong: the `.env` slip first, then the empty name. */
const fix = (cwd: string): Step => {
  if (exists(cwd, ".env")) return { answer: "Deleted .env: the port comes from the environment, with 3000 as the default.", remove: [".env"] }
  if (exists(cwd, "src/greeting.mjs") && !read(cwd, "src/greeting.mjs").includes("world")) {
    return {
      answer: "greet now falls back to \"world\" for an empty or blank name; added tests for both.",
      write: {
        "src/greeting.mjs": greetingFixed,
        "test/greeting.test.mjs": testOf("greeting.mjs", "greet", [
          "assert.equal(greet(\"Ada\"), \"Hello, Ada!\")",
          "assert.equal(greet(\"\"), \"Hello, world!\")",
          "assert.equal(greet(\"  \"), \"Hello, world!\")"
        ])
      }
    }
  }
  return { answer: "Nothing left to fix." }
}

/** Reviews the worktree as it is: a greeting without an empty-name fallback goes back once. */
const review = (cwd: string): Step => {
  const greeting = read(cwd, "src/greeting.mjs")
  if (greeting !== "" && !greeting.includes("world")) {
    return {
      answer: [
        "The greeting works for names, but not for an empty one.",
        "",
        "VERDICT: NEEDS_CHANGES",
        "- greet(\"\") says \"Hello, !\": greet \"world\" when the name is empty or blank",
        "- add a test for the empty name"
      ].join("\n")
    }
  }
  return { answer: "Small, focused change with a test; matches the task.\n\nVERDICT: APPROVED" }
}

const stepOf = (request: Agent.AgentRequest): Step => {
  switch (request.call) {
    case "plan":
      return plan()
    case "propose":
      return proposals[request.task ?? ""] ?? { answer: "No task I know of; nothing to do." }
    case "fix":
      return fix(request.cwd)
    case "review":
      return review(request.cwd)
    case "resolve-conflict":
      return { answer: "No conflict markers left to resolve." }
  }
}

/** Applies a step's edits inside the worktree (synchronous: a handful of small files). */
const apply = (cwd: string, step: Step): void => {
  for (const [file, content] of Object.entries(step.write ?? {})) {
    fs.mkdirSync(path.dirname(path.join(cwd, file)), { recursive: true })
    fs.writeFileSync(path.join(cwd, file), content)
  }
  for (const file of step.remove ?? []) fs.rmSync(path.join(cwd, file), { force: true })
}

/** Real delays per call kind, in ms: long enough to watch, short enough for a demo of seconds. */
const delays: Readonly<Record<Event.AgentCallKind, readonly [number, number]>> = {
  plan: [450, 600],
  propose: [350, 600],
  fix: [250, 450],
  review: [200, 400],
  "resolve-conflict": [150, 300]
}

/**
 * The scripted agent as the `Agent` service.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (): Agent.Agent["Service"] => Agent.Agent.of({
  run: (request) =>
    Effect.gen(function*() {
      const startedMs = yield* Clock.currentTimeMillis
      const [min, max] = delays[request.call]
      yield* Effect.sleep(yield* Random.nextIntBetween(min, max))
      const outcome = yield* Effect.result(Effect.try({
        try: () => {
          const step = stepOf(request)
          apply(request.cwd, step)
          return step.answer
        },
        catch: (cause) => (cause instanceof Error ? cause.message : String(cause))
      }))
      const durationMs = (yield* Clock.currentTimeMillis) - startedMs
      return outcome._tag === "Success"
        ? { exitCode: 0, answer: outcome.success, stderr: "", durationMs, timedOut: false }
        : { exitCode: 1, answer: "", stderr: `demo agent: ${outcome.failure}`, durationMs, timedOut: false }
    })
})

/**
 * The scripted agent, to replace `NodeAgent` in `NodeServices.layer`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: Layer.Layer<Agent.Agent> = Layer.sync(Agent.Agent, make)
