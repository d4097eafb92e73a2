/**
 * What runners of one swarm say to each other (issue 21), as Effect Cluster entities: the
 * `Worker` entity runs iterations, the `MergeQueue` entity lands approved work on the hub.
 *
 * - `Worker`, one per worker slot (entity id `<run>/<worker>`): `RunIteration` runs iteration n of
 *   that worker on whichever runner holds the slot's shard, in that runner's clone and worktree.
 * - `MergeQueue`, one per run (entity id `<run>`): one runner holds it, so the run has one queue;
 *   when that runner dies its shard, and the queue, move to another, which starts from the hub.
 *
 * Both messages are persisted (`ClusterSchema.Persisted`): delivery is at least once, and a message
 * whose runner died is delivered again to the shard's next owner. What makes that safe is written
 * where each side effect happens (the claim, the landing); the primary keys make a copy of a
 * message that was answered get the stored answer.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { ClusterSchema, Entity } from "effect/cluster"
import { Rpc } from "effect/rpc"
import type { MergeQueue } from "@oompa/core"

/**
 * What the driver learns of one iteration: enough to decide the worker's next step as
 * `Worker.run` does on one machine.
 *
 * @category models
 * @since 0.1.0
 */
export const IterationSummary = Schema.Struct({
  /** An iteration outcome, or `nothing-to-claim` (no iteration ran). */
  outcome: Schema.String,
  task: Schema.optional(Schema.String),
  done: Schema.Boolean,
  setupFailed: Schema.Boolean,
  mergedSha: Schema.optional(Schema.String),
  taskMovedTo: Schema.optional(Schema.String),
  detail: Schema.optional(Schema.String),
  /** The runner that ran it (`host:port`). */
  runner: Schema.String
})
export type IterationSummary = typeof IterationSummary.Type

/**
 * Runs iteration `iteration` of `worker` in run `run`. `step` counts the worker's messages: a look
 * that found nothing to claim is not an iteration, and the next look is a new message.
 *
 * @category rpcs
 * @since 0.1.0
 */
export const RunIteration = Rpc.make("RunIteration", {
  payload: { run: Schema.String, worker: Schema.String, iteration: Schema.Number, step: Schema.Number },
  success: IterationSummary,
  primaryKey: (p) => `${p.run}/${p.worker}/${p.step}`
}).annotate(ClusterSchema.Persisted, true)

/**
 * The worker ended: the runner holding its slot releases its worktree.
 *
 * @category rpcs
 * @since 0.1.0
 */
export const EndWorker = Rpc.make("EndWorker", {
  payload: { run: Schema.String, worker: Schema.String }
})

/**
 * @category entities
 * @since 0.1.0
 */
export const Worker = Entity.make("Worker", [RunIteration, EndWorker])

/** The entity id of a worker slot. */
export const workerEntityId = (run: string, worker: string): string => `${run}/${worker}`

const SubmissionSchema = Schema.Struct({
  worker: Schema.String,
  iteration: Schema.Number,
  number: Schema.optional(Schema.Number),
  branch: Schema.String,
  base: Schema.String,
  head: Schema.String,
  message: Schema.String,
  task: Schema.optional(Schema.String),
  description: Schema.optional(Schema.String)
})

const timed = { waitedMs: Schema.Number, testMs: Schema.Number }
const ForeignMoveSchema = Schema.Struct({ from: Schema.String, to: Schema.String, worker: Schema.optional(Schema.String), iteration: Schema.optional(Schema.Number) })

/**
 * `MergeQueue.MergeOutcome` on the wire.
 *
 * @category models
 * @since 0.1.0
 */
export const MergeOutcomeSchema = Schema.Union([
  Schema.TaggedStruct("Merged", { sha: Schema.String, previous: Schema.String, ...timed }),
  Schema.TaggedStruct("Conflict", { files: Schema.Array(Schema.String), ...timed }),
  Schema.TaggedStruct("TestFailed", { sha: Schema.String, output: Schema.String, ...timed }),
  Schema.TaggedStruct("PolicyFailed", { sha: Schema.String, violations: Schema.Array(Schema.String), ...timed }),
  Schema.TaggedStruct("DryRun", { sha: Schema.String, previous: Schema.String, ...timed }),
  Schema.TaggedStruct("MainMoved", { move: ForeignMoveSchema, ...timed }),
  Schema.TaggedStruct("ChangesRequested", { sha: Schema.String, feedback: Schema.String, ...timed }),
  Schema.TaggedStruct("Closed", { sha: Schema.String, reason: Schema.String, ...timed })
])

/**
 * The queue could not decide a submission (git or the test command failed): its message.
 *
 * @category errors
 * @since 0.1.0
 */
export class SubmitFailed extends Schema.TaggedError<SubmitFailed>()("SubmitFailed", { message: Schema.String }) {}

/**
 * Queues `submission` of run `run` and answers its outcome. The approved commit travels by the
 * hub: the submitting runner pushed it to `candidate` first.
 *
 * @category rpcs
 * @since 0.1.0
 */
export const Submit = Rpc.make("Submit", {
  payload: { run: Schema.String, candidate: Schema.String, submission: SubmissionSchema },
  success: MergeOutcomeSchema,
  error: SubmitFailed,
  primaryKey: (p) => `${p.run}/${p.submission.worker}/${p.submission.iteration}/${p.submission.number ?? 1}/${p.submission.head}`
}).annotate(ClusterSchema.Persisted, true)

/**
 * @category entities
 * @since 0.1.0
 */
export const MergeQueueEntity = Entity.make("MergeQueue", [Submit])

/** The hub branch a submission's commit travels by. */
export const candidateBranch = (run: string, submission: MergeQueue.Submission): string =>
  `oompa-candidates/${run}/${submission.worker}-${submission.iteration}-${submission.number ?? 1}`
