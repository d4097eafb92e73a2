/**
 * `oompa serve [--port N] [--host H]`: the live dashboard of this repository's runs (issue 22).
 * It prints its address and the stop token, and serves until Ctrl-C.
 *
 * @since 0.1.0
 */
import { Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { isIP } from "node:net"
import { UsageError } from "../Errors.ts"
import * as Output from "../Output.ts"
import { currentSession, liveRunId, runs, stopRunning } from "./inspect.ts"

export const serve = Command.make("serve", {
  port: Flag.Int("port").pipe(Flag.withDefault(7777), Flag.withDescription("The port to listen on (0: any free port)")),
  host: Flag.String("host").pipe(
    Flag.optional,
    Flag.withDescription("The address to listen on (default 127.0.0.1). Another address shows your runs, their tasks and the agents' feedback to whoever reaches it: oompa warns")
  )
}, ({ host, port }) =>
  Effect.gen(function*() {
    if (port < 0 || port > 65535) return yield* new UsageError({ message: `serve: --port ${port} is not a port (0 to 65535)` })
    const address = Option.getOrElse(host, () => "127.0.0.1")
    if (address !== "localhost" && isIP(address) === 0) return yield* new UsageError({ message: `serve: --host ${JSON.stringify(address)} is not an IP address (or localhost)` })
    if (!["127.0.0.1", "::1", "localhost"].includes(address)) {
      yield* Output.warnings([`serve: listening on ${address}, not only this machine: whoever reaches it sees every run, task and review here (stopping still takes the token)`])
    }
    const session = yield* currentSession
    const { listen } = yield* Effect.promise(() => import("../report/Dashboard.ts"))
    return yield* listen({
      session,
      address,
      port,
      liveRunId: liveRunId(session),
      runs: runs(session, { _tag: "Newest", count: 50 }),
      stop: stopRunning(session),
      pollMs: 500
    })
  })).pipe(
  Command.withDescription("Serve a live dashboard of this repository's runs on 127.0.0.1 (timelines, tasks, verdicts, cost; updated as a run goes on)"),
  Command.withExamples([
    { command: "oompa serve", description: "http://127.0.0.1:7777/ and a stop token for its Stop button" },
    { command: "oompa serve --port 0", description: "Any free port (printed)" }
  ])
)
