/**
 * The worktree environment contract end to end (issue 18), through the bundled CLI with real
 * processes: a `command`-harness agent that records what it was told and starts an HTTP server on
 * `$OOMPA_PORT`; `setup_command` and `teardown_command` that record theirs.
 * Goal: agents, setup and teardown get OOMPA_RUN/WORKER/ITERATION/TASK/WORKTREE/REPO/PORT; two
 * workers' servers listen at once on their own ports; a Ctrl-C still tears every worktree down.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { cleanupAll, git, leftovers, oompa, oompaAsync, runIds, type Scratch, scratchRepo, show, waitFor } from "./helpers.ts"

afterAll(cleanupAll)

const variables = ["OOMPA_RUN", "OOMPA_WORKER", "OOMPA_ITERATION", "OOMPA_TASK", "OOMPA_WORKTREE", "OOMPA_REPO", "OOMPA_PORT"]

/** A shell line that appends the contract's variables, as one JSON object, to `file`. */
const recordTo = (file: string, what: string) =>
  `node -e 'const v = {what: process.argv[1]}; for (const k of ${JSON.stringify(variables)}) v[k] = process.env[k]; require("fs").appendFileSync(process.argv[2], JSON.stringify(v) + "\\n")' ${what} ${file}`

/** Writes `config` (in the scratch's worktrees folder) as oompa.json and commits it with what is staged. */
const configure = (scratch: Scratch, config: Record<string, unknown>) => {
  fs.writeFileSync(path.join(scratch.repo, "oompa.json"), JSON.stringify({ worktrees_dir: scratch.worktrees, ...config }))
  git(scratch.repo, "add", "-A")
  git(scratch.repo, "commit", "-qm", "config")
}

/** A `command`-harness agent: the reviewer approves; the proposer runs `body` (sh) in its worktree. */
const writeAgent = (file: string, body: string) =>
  fs.writeFileSync(file, `#!/bin/sh\nprompt=$(cat)\ncase "$prompt" in\n  *"VERDICT: APPROVED"*) echo "VERDICT: APPROVED"; exit 0 ;;\nesac\n${body}`, { mode: 0o755 })

const readRecords = (file: string): Array<Record<string, string | undefined>> =>
  fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim().split("\n").map((line) => JSON.parse(line) as Record<string, string | undefined>) : []

describe("the worktree environment contract", () => {
  it("agents, setup and teardown are told the contract's variables; two workers' servers listen at once on their own ports", () => {
    const scratch = scratchRepo({ pending: [{ id: "alpha", summary: "x" }, { id: "beta", summary: "y" }] })
    const records = path.join(scratch.state, "env.jsonl")
    const agent = path.join(scratch.root, "agent.sh")
    // The proposer: records its variables, starts a server on $OOMPA_PORT, and waits until the
    // other worker's server is up too (both listening at once), then writes its file.
    writeAgent(agent, `${recordTo(records, "agent")}
node -e '
  const http = require("http"), fs = require("fs")
  const port = Number(process.env.OOMPA_PORT), dir = process.argv[1]
  const server = http.createServer((_req, res) => res.end(process.env.OOMPA_WORKER))
  server.on("error", (e) => { fs.writeFileSync(dir + "/server-" + process.env.OOMPA_WORKER, "error " + e.code); process.exit(1) })
  server.listen(port, "127.0.0.1", () => {
    fs.writeFileSync(dir + "/up-" + process.env.OOMPA_WORKER, String(port))
    const deadline = Date.now() + 20000
    const wait = () => {
      const up = fs.readdirSync(dir).filter((f) => f.startsWith("up-"))
      if (up.length >= 2 || Date.now() > deadline) {
        // Ask every server that is up who it is: each answers with its own worker.
        Promise.all(up.map((f) => fetch("http://127.0.0.1:" + fs.readFileSync(dir + "/" + f, "utf8")).then((r) => r.text()).then((t) => f.slice(3) + "=" + t)))
          .catch((e) => ["fetch failed: " + e.message])
          .then((seen) => {
            fs.writeFileSync(dir + "/server-" + process.env.OOMPA_WORKER, seen.sort().join(","))
            // Up until the other worker has asked too.
            const done = () => fs.readdirSync(dir).filter((f) => f.startsWith("server-")).length >= up.length || Date.now() > deadline
            const close = () => done() ? server.close() : setTimeout(close, 50)
            close()
          })
      } else setTimeout(wait, 50)
    }
    wait()
  })
' ${scratch.state}
mkdir -p src && echo "$OOMPA_TASK" > "src/$OOMPA_TASK.txt"
echo done
`)
    configure(scratch, {
      workers: [{ model: "command:env", role: "executor", count: 2, iterations: 1 }],
      review_model: "command:env",
      harnesses: { command: { command: agent } },
      setup_command: recordTo(records, "setup"),
      teardown_command: recordTo(records, "teardown"),
      worktree: { ports_per_worker: 3 },
      max_wait_for_tasks: 0
    })
    const run = oompa(scratch, ["swarm"], { timeoutMs: 90_000 })
    assert.strictEqual(run.status, 0, show(run))
    const runId = runIds(scratch)[0]!
    const seen = readRecords(records)
    const byWhat = (what: string) => seen.filter((r) => r["what"] === what)
    assert.strictEqual(byWhat("agent").length, 2, JSON.stringify(seen))
    assert.strictEqual(byWhat("setup").length, 2)
    assert.strictEqual(byWhat("teardown").length, 2)
    for (const record of seen) {
      assert.strictEqual(record["OOMPA_RUN"], runId)
      assert.strictEqual(record["OOMPA_REPO"], scratch.repo)
      assert.strictEqual(record["OOMPA_WORKTREE"], path.join(scratch.worktrees, record["OOMPA_WORKER"]!))
      assert.match(record["OOMPA_PORT"]!, /^\d+$/)
    }
    for (const record of [...byWhat("agent"), ...byWhat("setup")]) assert.strictEqual(record["OOMPA_ITERATION"], "1")
    assert.deepStrictEqual(byWhat("agent").map((r) => r["OOMPA_TASK"]).sort(), ["alpha", "beta"])
    for (const record of byWhat("teardown")) assert.isUndefined(record["OOMPA_ITERATION"])
    // Disjoint ranges of three ports.
    const ports = byWhat("agent").map((r) => Number(r["OOMPA_PORT"])).sort((a, b) => a - b)
    assert.isAtLeast(ports[1]! - ports[0]!, 3)
    // Both servers were up at once, each on its own port, answering as its own worker.
    for (const worker of ["w0", "w1"]) {
      assert.strictEqual(fs.readFileSync(path.join(scratch.state, `server-${worker}`), "utf8"), "w0=w0,w1=w1")
    }
    assert.deepStrictEqual(git(scratch.repo, "ls-tree", "--name-only", "main", "src/").trim().split("\n").sort(), ["src/alpha.txt", "src/beta.txt"])
    assert.strictEqual(leftovers(scratch).worktrees, 1)
  }, 120_000)

  it("Ctrl-C while the agents work: every worktree is torn down before it is removed", async () => {
    const scratch = scratchRepo({ pending: [{ id: "slow-a", summary: "x" }, { id: "slow-b", summary: "y" }] })
    const records = path.join(scratch.state, "env.jsonl")
    const started = path.join(scratch.state, "started")
    const agent = path.join(scratch.root, "agent.sh")
    fs.writeFileSync(agent, `#!/bin/sh\ncat > /dev/null\necho "$OOMPA_WORKER" >> ${started}\nsleep 60\n`, { mode: 0o755 })
    configure(scratch, {
      workers: [{ model: "command:slow", role: "executor", count: 2, iterations: 1 }],
      review_model: "command:slow",
      harnesses: { command: { command: agent } },
      teardown_command: `${recordTo(records, "teardown")} && test -d "$OOMPA_WORKTREE"`,
      max_wait_for_tasks: 0
    })
    const run = oompaAsync(scratch, ["swarm"])
    await waitFor("both agents", () => fs.existsSync(started) && fs.readFileSync(started, "utf8").trim().split("\n").length === 2)
    run.child.kill("SIGINT")
    const exited = await run.exited
    assert.strictEqual(exited.status, 130, `${exited.stdout}\n${exited.stderr}`)
    const teardowns = readRecords(records)
    assert.deepStrictEqual(teardowns.map((r) => r["OOMPA_WORKER"]).sort(), ["w0", "w1"])
    // The teardown found its worktree (test -d passed: no warning about it).
    assert.notInclude(exited.stderr, "teardown_command failed")
    assert.strictEqual(leftovers(scratch).worktrees, 1)
  }, 120_000)

  it("setup_command runs once per worktree: what it created and git ignores stays for every iteration and never lands; a deleted output or a changed input runs it again", () => {
    const scratch = scratchRepo({
      files: { ".gitignore": "node_modules/\ngenerated.txt\n", "package-lock.json": "{\"lockfileVersion\": 3}\n" },
      pending: ["one", "two", "three", "four"].map((id, i) => ({ id, summary: id, priority: i }))
    })
    const seen = path.join(scratch.state, "seen.txt")
    const setups = path.join(scratch.state, "setups.txt")
    const agent = path.join(scratch.root, "agent.sh")
    // The proposer notes whether the setup's outputs are there; task one deletes node_modules/, task three bumps the lock file.
    writeAgent(agent, `echo "$OOMPA_TASK $(test -f node_modules/dep/index.js && echo modules) $(test -f generated.txt && echo generated)" >> ${seen}
if [ "$OOMPA_TASK" = one ]; then rm -rf node_modules; fi
if [ "$OOMPA_TASK" = three ]; then echo '{"lockfileVersion": 3, "bumped": true}' > package-lock.json; fi
mkdir -p src && echo "$OOMPA_TASK" > "src/$OOMPA_TASK.txt"
echo done
`)
    configure(scratch, {
      workers: [{ model: "command:setup", role: "executor", iterations: 4 }],
      review_model: "command:setup",
      harnesses: { command: { command: agent } },
      setup_command: `echo "$OOMPA_ITERATION" >> ${setups} && mkdir -p node_modules/dep && echo 'module.exports = 1' > node_modules/dep/index.js && echo generated > generated.txt`,
      worktree: { setup_inputs: ["package-lock.json"] },
      max_wait_for_tasks: 0
    })
    const run = oompa(scratch, ["swarm"], { timeoutMs: 90_000 })
    assert.strictEqual(run.status, 0, show(run))
    assert.deepStrictEqual(fs.readFileSync(seen, "utf8").trim().split("\n"), ["one modules generated", "two modules generated", "three modules generated", "four modules generated"])
    // For the fresh worktree; again after task one's agent deleted node_modules/; not for task three;
    // again after task three changed package-lock.json on main.
    assert.deepStrictEqual(fs.readFileSync(setups, "utf8").trim().split("\n"), ["1", "2", "4"])
    const landed = git(scratch.repo, "ls-tree", "-r", "--name-only", "main").trim().split("\n")
    assert.notInclude(landed, "generated.txt")
    assert.isFalse(landed.some((file) => file.startsWith("node_modules/")))
    assert.includeMembers(landed, ["src/one.txt", "src/two.txt", "src/three.txt", "src/four.txt"])
  }, 120_000)

  it("a project that needs npm ci and a copied .env runs its tests under an agent; the .env (copied) and the certificate (linked) never reach a commit", () => {
    // A project with one (local) dependency: its tests need `npm ci` and the .env.
    const scratch = scratchRepo({
      files: {
        ".gitignore": "node_modules/\n.env\ncerts/\nconfig/master.key\n",
        "package.json": JSON.stringify({ name: "app", version: "1.0.0", scripts: { test: "node test.js" }, dependencies: { greeting: "file:greeting" } }),
        "greeting/package.json": JSON.stringify({ name: "greeting", version: "1.0.0", main: "index.js" }),
        "greeting/index.js": "module.exports = 'project tests pass'\n",
        "test.js": "const env = require('fs').readFileSync('.env', 'utf8'); if (!/SECRET=s3cr3t/.test(env)) { console.error('no SECRET'); process.exit(1) }\nconsole.log(require('greeting'))\n"
      },
      pending: [{ id: "feature", summary: "x" }]
    })
    execFileSync("npm", ["install", "--package-lock-only", "--offline", "--no-audit", "--no-fund"], { cwd: scratch.repo, stdio: "ignore" })
    git(scratch.repo, "add", "package-lock.json")
    git(scratch.repo, "commit", "-qm", "lock")
    fs.writeFileSync(path.join(scratch.repo, ".env"), "SECRET=s3cr3t\n")
    fs.mkdirSync(path.join(scratch.repo, "config"))
    fs.writeFileSync(path.join(scratch.repo, "config/master.key"), "k3y\n")
    fs.mkdirSync(path.join(scratch.repo, "certs"))
    fs.writeFileSync(path.join(scratch.repo, "certs/dev.pem"), "-----BEGIN CERTIFICATE-----\n")
    const seen = path.join(scratch.state, "agent.txt")
    const agent = path.join(scratch.root, "agent.sh")
    // The proposer runs the project's tests, then tries to smuggle the .env into its change.
    writeAgent(agent, `npm test > ${scratch.state}/npm-test.txt 2>&1; echo "test exit $?" >> ${seen}
test -L certs/dev.pem && echo "linked $(cat certs/dev.pem)" >> ${seen}
test -e node_modules/greeting && echo "installed" >> ${seen}
echo "STOLEN=1" >> .env
echo "stolen" >> config/master.key
printf 'node_modules/\\n' > .gitignore
git add -f .env config/master.key 2>/dev/null
mkdir -p src && echo feature > src/feature.txt
echo done
`)
    configure(scratch, {
      workers: [{ model: "command:app", role: "executor", iterations: 1 }],
      review_model: "command:app",
      harnesses: { command: { command: agent } },
      setup_command: "npm ci --offline --no-audit --no-fund",
      worktree: { copy: [".env", "config/master.key"], link: ["certs/*.pem"], setup_inputs: ["package-lock.json"] },
      max_wait_for_tasks: 0
    })
    const run = oompa(scratch, ["swarm"], { timeoutMs: 90_000 })
    assert.strictEqual(run.status, 0, show(run))
    assert.deepStrictEqual(fs.readFileSync(seen, "utf8").trim().split("\n"), ["test exit 0", "linked -----BEGIN CERTIFICATE-----", "installed"])
    assert.include(fs.readFileSync(path.join(scratch.state, "npm-test.txt"), "utf8"), "project tests pass")
    // Nothing reachable from main holds the .env or the certificate.
    const everything = git(scratch.repo, "log", "--all", "--format=", "--name-only", "main").split("\n")
    assert.notInclude(everything, ".env")
    assert.notInclude(everything, "certs/dev.pem")
    assert.notInclude(everything, "config/master.key", "a copied file the agent force-added landed")
    assert.include(everything, "src/feature.txt")
    // The user's own .env is untouched.
    assert.strictEqual(fs.readFileSync(path.join(scratch.repo, ".env"), "utf8"), "SECRET=s3cr3t\n")
  }, 120_000)

  it("worktree.copy naming a file git does not ignore: exit 2 naming the field and the file, nothing started", () => {
    const scratch = scratchRepo({ files: { "config/local.json": "{}\n" }, pending: [{ id: "t", summary: "x" }] })
    configure(scratch, {
      workers: [{ model: "command:x", role: "executor", iterations: 1 }],
      harnesses: { command: { command: "true" } },
      worktree: { copy: ["config/*.json"] }
    })
    const run = oompa(scratch, ["swarm"])
    assert.strictEqual(run.status, 2, show(run))
    assert.include(run.stderr, "worktree.copy: config/local.json is not a file git ignores")
    assert.deepStrictEqual(fs.readdirSync(path.join(scratch.repo, "tasks/pending")), ["t.json"])
  }, 60_000)
})
