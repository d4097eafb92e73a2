/**
 * What the swarm benchmarks share: a git identity that reads no user configuration, and the agent
 * of fixed latency they measure oompa against.
 */
import * as fs from "node:fs"
import * as path from "node:path"

/** Git's variables for a benchmark: no global or system configuration, a fixed identity. */
export const gitEnvironment = {
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_AUTHOR_NAME: "bench",
  GIT_AUTHOR_EMAIL: "bench@localhost",
  GIT_COMMITTER_NAME: "bench",
  GIT_COMMITTER_EMAIL: "bench@localhost"
} as const

/**
 * Writes `<dir>/agent.sh`, an agent for the `command` harness that takes `callMs` per call
 * (sleeping, not computing): the proposer adds a file named by its process id, the reviewer
 * approves. Returns its path.
 */
export const fixedLatencyAgent = (dir: string, callMs: number): string => {
  const script = path.join(dir, "agent.sh")
  fs.writeFileSync(script, `#!/bin/sh
prompt=$(cat)
sleep ${callMs / 1000}
case "$prompt" in
  *"VERDICT: APPROVED"*) echo "Looks right."; echo "VERDICT: APPROVED" ;;
  *) mkdir -p src && echo "work of $$" > "src/work-$$.txt" && echo "Added src/work-$$.txt." ;;
esac
`, { mode: 0o755 })
  return script
}
