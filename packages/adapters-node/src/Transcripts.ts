/**
 * Transcripts of agent calls (SPEC F3, F9): one JSON file per process oompa started for an agent,
 * under `<runDir>/transcripts/<worker>-<iteration>-<call>-<n>.json`, holding the prompt, the
 * command line, the (capped) output, the exit, the duration and whether the call timed out.
 *
 * Written by `NodeAgent` when a process ends, however it ends (also on timeout and interruption);
 * read back by the CLI (`oompa view`). `n` counts the processes of one worker, iteration and call
 * kind from 1: a second fix in the same iteration, or a retry after a rate limit, gets the next one.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Path, type PlatformError, Schema } from "effect"

/**
 * One transcript.
 *
 * @category models
 * @since 0.1.0
 */
export const Transcript = Schema.Struct({
  worker: Schema.String,
  iteration: Schema.Finite,
  call: Schema.String,
  /** Position among the processes of this worker, iteration and call kind (from 1). */
  n: Schema.Finite,
  /** Attempt within one agent call (from 1): later attempts are retries after a rate limit. */
  attempt: Schema.Finite,
  task: Schema.optionalKey(Schema.String),
  /** `harness:model[:reasoning]`. */
  agent: Schema.String,
  command: Schema.String,
  args: Schema.Array(Schema.String),
  cwd: Schema.String,
  pid: Schema.optionalKey(Schema.Finite),
  prompt: Schema.String,
  stdout: Schema.String,
  stderr: Schema.String,
  /** Bytes the stream produced; the stored text lacks `…DroppedBytes` of them (head and tail kept). */
  stdoutBytes: Schema.Finite,
  stdoutDroppedBytes: Schema.Finite,
  stderrBytes: Schema.Finite,
  stderrDroppedBytes: Schema.Finite,
  /** `null` when the process never exited on its own (timeout, interruption). */
  exitCode: Schema.NullOr(Schema.Finite),
  startedAt: Schema.String,
  durationMs: Schema.Finite,
  timedOut: Schema.Boolean,
  /** The caller stopped the call (its own timeout, or the run ending). */
  interrupted: Schema.Boolean,
  rateLimited: Schema.Boolean,
  sessionId: Schema.optionalKey(Schema.String),
  /** Anything else worth knowing (a prompt the agent did not read, a refusal). */
  notes: Schema.Array(Schema.String)
})
export type Transcript = typeof Transcript.Type

/**
 * The folder of a run's transcripts.
 *
 * @category constants
 * @since 0.1.0
 */
export const folderName = "transcripts"

/**
 * The file name of one transcript: `<worker>-<iteration>-<call>-<n>.json`.
 *
 * @category formatting
 * @since 0.1.0
 */
export const fileName = (key: { readonly worker: string; readonly iteration: number; readonly call: string; readonly n: number }): string =>
  `${key.worker}-${key.iteration}-${key.call}-${key.n}.json`

/**
 * Writes a transcript into `<runDir>/transcripts/`, whole or not at all (temporary file, then
 * rename), and returns its path.
 *
 * @category writing
 * @since 0.1.0
 */
export const write = Effect.fn("Transcripts.write")(function*(runDir: string, transcript: Transcript): Effect.fn.Return<
  string,
  PlatformError.PlatformError,
  FileSystem.FileSystem | Path.Path
> {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const folder = path.join(runDir, folderName)
  yield* fs.makeDirectory(folder, { recursive: true })
  const target = path.join(folder, fileName(transcript))
  const temporary = `${target}.tmp`
  yield* fs.writeFileString(temporary, `${JSON.stringify(transcript, null, 2)}\n`)
  yield* fs.rename(temporary, target)
  return target
})

const decode = Schema.decodeUnknownEffect(Schema.fromJsonString(Transcript))

/**
 * Reads one transcript file back.
 *
 * @category reading
 * @since 0.1.0
 */
export const read = Effect.fn("Transcripts.read")(function*(file: string) {
  const fs = yield* FileSystem.FileSystem
  const text = yield* fs.readFileString(file)
  return yield* decode(text)
})
