/**
 * How the memory repository fails. Its operations are synchronous and throw: a `GitError` for what
 * real git would refuse (an unknown commit, a missing workspace, a bad path or branch name), which
 * the service turns into the typed failure, and a plain `Error` for a defect (a broken invariant of
 * the fake or of its caller), which the service turns into a defect.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { GitError, type GitErrorReason } from "../../services/Errors.ts"

/** Throws the `GitError` of `operation`. */
export const failWith = (operation: string, message: string, reason: GitErrorReason = "failed"): never => {
  throw new GitError({ operation, reason, message })
}

/** A synchronous operation as an Effect: a thrown `GitError` is the typed failure; anything else thrown is a defect. */
export const attempt = <A>(thunk: () => A): Effect.Effect<A, GitError> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(thunk())
    } catch (error) {
      return error instanceof GitError ? Effect.fail(error) : Effect.die(error)
    }
  })
