/**
 * The progress view as an `EventSink` (SPEC F12): on a terminal, the worker rows redrawn in place
 * under a scrolling log of the events that matter; otherwise plain event lines. Fed by the same
 * events as the run log.
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import { EventSink } from "@oompa/core"
import * as Output from "./Output.ts"
import * as ProgressView from "./ProgressView.ts"

/** Events worth a log line above the live rows on a terminal. */
const loggedOnTerminal = new Set(["SwarmStarted", "PolicyViolated", "VerdictGiven", "MergeResult", "TaskMoved", "Warning", "WorkerFinished"])

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Output.ProgressTerminal) =>
  Layer.sync(EventSink.EventSink, () => {
    let state = ProgressView.initial
    let drawn = 0
    return EventSink.EventSink.of({
      emit: (event) =>
        Effect.sync(() => {
          state = ProgressView.step(state, event)
          const line = ProgressView.plainLine(event, state.startedMs)
          if (!options.tty) {
            if (line !== undefined) options.write(`${line}\n`)
            return
          }
          // Move up over the rows drawn last time, clear them, log the line, redraw the rows.
          let out = drawn > 0 ? `\u001b[${drawn}F\u001b[J` : ""
          if (line !== undefined && loggedOnTerminal.has(event._tag)) out += `${line}\n`
          const rows = event._tag === "SwarmFinished" ? [] : ProgressView.render(state, event.at, options.columns())
          out += rows.map((r) => `${r}\n`).join("")
          drawn = rows.length
          options.write(out)
        })
    })
  })

/**
 * The view on this process's stderr: progress is not the command's result (which goes to stdout),
 * so `oompa swarm > summary.txt` keeps only the summary and a terminal still shows the progress.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerStderr = () => layer(Output.progressTerminal())
