/**
 * A remote target (`target.mode: "push"`, issue 20): work lands on a branch of a git remote that
 * others push to as well, and the local branch follows.
 *
 * - Opening fetches the remote's branch into `refs/oompa/target/<branch>` (a ref only oompa writes)
 *   and its merged markers (`refs/oompa/merged/*`) over the local ones, so recovery after a kill -9
 *   between a push and its bookkeeping sees what landed. `mainHead` reads that ref (no network);
 *   `refreshMain` fetches again.
 * - The compare-and-swap is `git push --atomic --force-with-lease=refs/heads/<b>:<expected>` of main
 *   and the markers of what it lands. A lost lease (a teammate pushed) never overwrites: the
 *   remote's head is fetched into a scratch ref (not the one `mainHead` reads: the queue's check would
 *   take that move for an agent's) and, unless it is or descends from `next` (our earlier push
 *   landed, its answer was lost), the swap reports `false` and the queue rebuilds after `refreshMain`.
 * - After a landing the tracking ref and the markers move locally, and the local branch follows
 *   through the local landing (`gitLanding.compareAndSwapMain`: the retired branch goes, the user's
 *   checkout is synced) when it is an ancestor of `next`; local commits not on the remote keep it
 *   where it is (one warning a run).
 * - A host that refuses `refs/oompa/*` (a hook, a hosting service's restrictions) gets the push
 *   again without markers, once a run warned; recovery then reads main's `Oompa-Task` trailers.
 * - Network faults are retried (`defaultRetry`), authentication failures are not; every message
 *   built from git's output or naming the remote has the userinfo of URLs redacted (`redact`), and
 *   git never prompts (`GIT_TERMINAL_PROMPT=0`; authentication is git's own: credential helpers,
 *   the SSH agent).
 * - A remote's name is resolved to its URLs when opening: an agent that rewrites
 *   `remote.<name>.url` in the shared config redirects neither a fetch nor a push.
 *
 * Internal: used by `NodeGit`.
 *
 * @since 0.1.0
 */
// `Errors` is what the declarations of the effects exported here name their failures by.
import type { Errors } from "@oompa/core"
import { Data, Duration, Effect, Schedule, Semaphore } from "effect"
import * as GitCommand from "./gitCommand.ts"
import * as MainChain from "./gitMainChain.ts"
import * as GitRepo from "./gitRepo.ts"

/** How a remote call that failed on the network is retried: `times` more attempts, waiting `base`, then twice as long each time. */
export interface RetryPolicy {
  readonly times: number
  readonly base: Duration.Input
}

/** Four retries, after 0.5, 1, 2 and 4 s. */
export const defaultRetry: RetryPolicy = { times: 4, base: "500 millis" }

/** How long one fetch or push may take before it counts as a network fault (a hung connection). */
const callTimeout = Duration.minutes(5)

/** What the local side of a landing does, given by `NodeGit` (its records, locks and warnings). */
export interface LocalLanding {
  /** Moves the local branch from `from` to `next` (an ancestor of it), retiring `retired` and syncing the user's checkout. */
  readonly follow: (from: string, next: string, retired: string | undefined) => Effect.Effect<boolean, Errors.GitError>
  /** Deletes a branch as `Git.deleteBranch` does. */
  readonly retire: (name: string) => Effect.Effect<void, Errors.GitError>
  readonly warn: (line: string) => Effect.Effect<void>
}

/** The remote target's part of the `Git` service. */
export interface Remote {
  readonly mainHead: Effect.Effect<string, Errors.GitError>
  readonly refreshMain: Effect.Effect<string, Errors.GitError>
  readonly compareAndSwapMain: (local: LocalLanding) => (expected: string, next: string, landed: ReadonlyArray<string>, retired: string | undefined) => Effect.Effect<boolean, Errors.GitError>
  readonly publishBranch: (name: string, sha: string | undefined) => Effect.Effect<void, Errors.GitError>
  readonly fetchBranch: (name: string) => Effect.Effect<string | undefined, Errors.GitError>
}

/** Where the remote's branch is fetched to: oompa's view of the target's head. */
export const trackingRef = (branch: string): string => `refs/oompa/target/${branch}`

/** Where a lost lease fetches the remote's head to, to tell a teammate's push from an answer of ours that was lost. */
const probeRef = (branch: string): string => `refs/oompa/probe/${branch}`

const userinfo = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@'"]+@/gi

/** `text` with the userinfo of every URL in it replaced (`https://user:token@host` → `https://***@host`). */
export const redact = (text: string): string => text.replace(userinfo, "$1***@")

// Git's messages (C locale) for a refused login: HTTP 401/403, SSH keys, a prompt it may not show.
const authFailure = /Authentication failed|Permission denied|could not read (Username|Password)|terminal prompts disabled|returned error: 40[13]\b|HTTP 40[13]\b|Invalid username or password/i
// A remote that could not be reached or dropped the connection: worth another try.
const transportFailure = /Could not read from remote|unable to access|timed out|Connection refused|Could not resolve host|Connection reset|Failed to connect|Network is unreachable|No route to host|remote end hung up unexpectedly|early EOF/i
const missingBranch = /couldn't find remote ref/i

/** A call that failed on the network (retried), or ran past `callTimeout`. */
class Transient extends Data.TaggedError("Transient")<{ readonly stderr: string }> {}

/** Whether an output (exit 128, git's `die`) is a network fault. */
/**
 * A worktree being added meanwhile: `git worktree add` writes a placeholder HEAD (the null object id)
 * before its checkout, and a fetch's connectivity check, which walks every worktree's HEAD, fails on
 * it. Seen with a cluster runner adding a worker's worktree while its merge queue fetched; it passes.
 */
const worktreeBeingAdded = /bad object worktrees\/[^\s/]+\/HEAD/

const isTransport = (output: GitCommand.Output): boolean =>
  (output.exitCode !== 0 && worktreeBeingAdded.test(output.stderr)) ||
  (output.exitCode === 128 && !authFailure.test(output.stderr) && !/returned error: 4\d\d/.test(output.stderr) && transportFailure.test(output.stderr))

/** One porcelain line of `git push`: its flag (`!` rejected) and summary, by destination ref. */
interface PushedRef {
  readonly flag: string
  readonly summary: string
}

const parsePorcelain = (stdout: string): ReadonlyMap<string, PushedRef> => {
  const refs = new Map<string, PushedRef>()
  for (const line of stdout.split("\n")) {
    const [flag, spec, summary] = line.split("\t")
    if (flag === undefined || spec === undefined || summary === undefined || flag.length !== 1) continue
    refs.set(spec.slice(spec.lastIndexOf(":") + 1), { flag, summary })
  }
  return refs
}

/** What a push came to. */
type Pushed =
  | { readonly _tag: "Accepted" }
  | { readonly _tag: "LeaseLost" }
  | { readonly _tag: "Refused"; readonly reasons: string }

/**
 * Opens the remote target: resolves `remote` (a configured remote's name, else a URL) to its fetch
 * and push URLs, fetches its branch and markers, and returns the remote's part of the service. An
 * unreachable remote, a refused login, an unknown remote name or a missing branch fail with a
 * `GitError` of operation `remote` naming it.
 */
export const open = Effect.fn("GitRemote.open")(function*(repo: GitRepo.Repo, remote: string, retry: RetryPolicy = defaultRetry) {
  const shown = redact(remote)
  const branch = repo.targetBranch
  const tracking = trackingRef(branch)
  const mainRef = `refs/heads/${branch}`
  const remoteLock = yield* Semaphore.make(1)
  let markersRefused = false
  let divergedWarned = false

  const error = (message: string): Errors.GitError => GitRepo.gitError("remote", "failed", message)
  const gitMessage = (output: GitCommand.Output): string => redact(GitCommand.firstLines(output.stderr))

  // A remote's name is resolved to its URLs once: an agent of the run can rewrite the repository's
  // config (`remote.origin.url`), and fetches and pushes must not follow it elsewhere.
  const urls = yield* Effect.gen(function*() {
    if (!/^[\w.-]+$/.test(remote)) return { fetch: remote, push: remote }
    const urlOf = (push: boolean) => repo.git.run("remote", { cwd: repo.root, args: ["remote", "get-url", ...(push ? ["--push"] : []), "--", remote] })
    const [fetched, pushed] = yield* Effect.all([urlOf(false), urlOf(true)])
    if (fetched.exitCode !== 0 || pushed.exitCode !== 0) {
      // A typo would otherwise be taken for a path and retried as an unreachable remote.
      return yield* error(`no git remote named ${remote} (git remote -v lists them); target.remote is a remote's name or a URL`)
    }
    return { fetch: GitCommand.text(fetched.stdout).trim(), push: GitCommand.text(pushed.stdout).trim() }
  })

  /** Runs a network call with `GIT_TERMINAL_PROMPT=0`, retrying network faults; fails on a refused login or after the last retry. */
  const networkCall = (what: string, args: ReadonlyArray<string>) => {
    let attempts = 0
    const once = Effect.suspend(() => {
      attempts++
      return repo.git.run("remote", { cwd: repo.root, args, env: { GIT_TERMINAL_PROMPT: "0" } })
    }).pipe(
      // A git that could not start names its arguments, the URL among them.
      Effect.mapError((e) => GitRepo.gitError(e.operation, e.reason, redact(e.message))),
      Effect.timeoutOrElse({ duration: callTimeout, orElse: () => Effect.fail(new Transient({ stderr: `git ${what} timed out after ${Duration.format(callTimeout)}` })) }),
      Effect.flatMap((output) => isTransport(output) ? Effect.fail(new Transient({ stderr: output.stderr })) : Effect.succeed(output))
    )
    return once.pipe(
      Effect.retry({ schedule: Schedule.exponential(retry.base), times: retry.times, while: (e) => e._tag === "Transient" }),
      Effect.catchTag("Transient", (e) =>
        Effect.fail(error(`cannot reach the remote ${shown} (git ${what}, ${attempts} attempts): ${redact(GitCommand.firstLines(e.stderr))}`))),
      Effect.flatMap((output) =>
        output.exitCode === 128 && authFailure.test(output.stderr)
          ? Effect.fail(error(`authentication to the remote ${shown} failed (git ${what}; oompa uses git's own credentials and never prompts: check the credential helper or SSH agent): ${gitMessage(output)}`))
          : Effect.succeed(output))
    )
  }

  /** Fetches the remote's branch into `destination`, with the markers when asked. */
  const fetch = (destination: string, markers: boolean) =>
    Effect.gen(function*() {
      const output = yield* networkCall("fetch", [
        "fetch", "--quiet", "--no-tags", "--no-prune", "--no-recurse-submodules", "--no-write-fetch-head", "--", urls.fetch,
        `+${mainRef}:${destination}`,
        ...(markers ? ["+refs/oompa/merged/*:refs/oompa/merged/*"] : [])
      ])
      if (output.exitCode === 0) return
      if (missingBranch.test(output.stderr)) {
        return yield* error(`the remote ${shown} has no branch ${branch}: push it there first (git push ${shown} ${branch}), or name the remote's branch in oompa.json (target.branch)`)
      }
      return yield* error(`git fetch from the remote ${shown} exited with ${output.exitCode}: ${gitMessage(output)}`)
    })

  const readRef = (ref: string) =>
    Effect.flatMap(GitRepo.resolveRef(repo.commonDir, ref), (sha) =>
      sha === undefined
        ? Effect.fail(GitRepo.gitError("mainHead", "missing-object", `${ref}, oompa's copy of ${branch} on ${shown}, is missing`))
        : Effect.succeed(sha))

  const mainHead = readRef(tracking)

  /** The remote's head of the branch as the remote answers (git's output), before any ref holds it. */
  const remoteHead = Effect.gen(function*() {
    const output = yield* networkCall("ls-remote", ["ls-remote", "--", urls.fetch, mainRef])
    if (output.exitCode !== 0) return yield* error(`git ls-remote of the remote ${shown} exited with ${output.exitCode}: ${gitMessage(output)}`)
    const sha = GitCommand.text(output.stdout).split("\n").map((line) => line.split("\t")).find(([, ref]) => ref === mainRef)?.[0]
    return sha !== undefined && /^[0-9a-f]{40,64}$/.test(sha) ? sha : yield* error(`the remote ${shown} has no branch ${branch}`)
  })

  /**
   * Fetches the remote's branch and answers its head as the remote gave it, not as the tracking ref
   * reads afterwards: an agent sharing this repository's refs can rewrite that ref between the
   * fetch and a read, and what main holds completes tasks (`Recovery.landingOnMain`). The ref is
   * set to the answer; a later rewrite is a foreign move the queue's check halts on.
   */
  const refreshMain = remoteLock.withPermit(Effect.gen(function*() {
    for (let attempt = 1; ; attempt++) {
      const head = yield* remoteHead
      yield* fetch(tracking, true)
      // Fetched with it, unless the remote's branch was rewritten in between: then ask again.
      const present = yield* repo.git.run("refreshMain", { cwd: repo.root, args: ["cat-file", "-e", `${head}^{commit}`] })
      if (present.exitCode === 0) {
        yield* repo.git.ok("refreshMain", { cwd: repo.root, args: ["update-ref", "-m", "oompa: the remote's head", tracking, head] })
        return head
      }
      if (attempt >= 3) return yield* error(`the remote ${shown}'s ${branch} kept moving while fetched`)
    }
  }))

  /** Pushes main (and the markers of `landed`) with the lease on `expected`. */
  const push = (expected: string, next: string, landed: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const markerRefs = landed.map((task) => `refs/oompa/merged/${task}`)
      const output = yield* networkCall("push", [
        "push", "--atomic", "--porcelain", "--no-follow-tags", "--no-signed", "--recurse-submodules=no",
        `--force-with-lease=${mainRef}:${expected}`, "--", urls.push,
        `${next}:${mainRef}`,
        ...markerRefs.map((ref) => `+${next}:${ref}`)
      ])
      const refs = parsePorcelain(GitCommand.text(output.stdout))
      const main = refs.get(mainRef)
      if (output.exitCode === 0 && (main === undefined || main.flag !== "!")) return { _tag: "Accepted" } satisfies Pushed
      if (main?.flag === "!" && /stale info/.test(main.summary)) return { _tag: "LeaseLost" } satisfies Pushed
      const refused = [...refs].filter(([, ref]) => ref.flag === "!" && /remote rejected/.test(ref.summary))
      if (refused.length > 0) {
        return { _tag: "Refused", reasons: redact(refused.map(([ref, r]) => `${ref} ${r.summary}`).join("; ")) } satisfies Pushed
      }
      return yield* error(`git push to the remote ${shown} exited with ${output.exitCode}: ${gitMessage(output)}${main === undefined ? "" : ` (${main.summary})`}`)
    })

  /** The local side of a landing that the remote accepted: the tracking ref and markers, then the local branch. */
  const bookkeeping = (local: LocalLanding, expected: string, next: string, landed: ReadonlyArray<string>, retired: string | undefined) =>
    Effect.gen(function*() {
      if (landed.length > 0) {
        yield* repo.git.ok("compareAndSwapMain", {
          cwd: repo.root,
          args: ["update-ref", "-m", `oompa ${repo.runId}: pushed to ${shown}`, "--stdin"],
          stdin: ["start", ...landed.map((task) => `update refs/oompa/merged/${task} ${next}`), "prepare", "commit", ""].join("\n")
        })
      }
      // oompa's ref of the remote follows only from where oompa left it: an agent's move of it stays, for the queue to report.
      yield* repo.git.ok("compareAndSwapMain", { cwd: repo.root, args: ["update-ref", "-m", `oompa ${repo.runId}: pushed to ${shown}`, tracking, next, expected] }, [0, 1, 128])
      const localHead = yield* GitRepo.resolveRef(repo.commonDir, mainRef)
      const follows = localHead !== undefined && (localHead === expected || (yield* GitRepo.isAncestor(repo, localHead, next)))
      // The remote has landed: whatever the local side meets is a warning, the swap still succeeded.
      const localSide = follows
        ? Effect.asVoid(local.follow(localHead, next, retired))
        : Effect.gen(function*() {
          if (!divergedWarned) {
            divergedWarned = true
            yield* local.warn(`warning: your local ${branch} has commits that are not on ${shown}; oompa lands on ${shown} and leaves your ${branch} where it is (git pull --rebase brings it up to date)`)
          }
          if (retired !== undefined) yield* local.retire(retired)
        })
      yield* localSide.pipe(Effect.catchTag("GitError", (e) => local.warn(`warning: ${shown} has ${next.slice(0, 12)}, but updating the local ${branch} failed: ${redact(e.message.split("\n")[0] ?? "")}`)))
      if (MainChain.ordered(repo.mainChain, expected, next) !== true) MainChain.recordMainMove(repo.mainChain, expected, next)
    })

  const compareAndSwapMain = (local: LocalLanding) => (expected: string, next: string, landed: ReadonlyArray<string>, retired: string | undefined) =>
    remoteLock.withPermit(Effect.gen(function*() {
      if (!(yield* GitRepo.isAncestor(repo, expected, next))) {
        return yield* Effect.die(new Error(`NodeGit.compareAndSwapMain: ${next} does not descend from ${expected}; main only moves forward`))
      }
      let pushed = yield* push(expected, next, markersRefused ? [] : landed)
      if (pushed._tag === "Refused" && landed.length > 0 && !markersRefused) {
        const without = yield* push(expected, next, [])
        if (without._tag === "Accepted") {
          markersRefused = true
          yield* local.warn(`warning: ${shown} refused oompa's refs/oompa/merged/* markers (${pushed.reasons}); landing without them for this run: recovery reads the Oompa-Task trailers on ${branch} instead`)
        }
        pushed = without
      }
      if (pushed._tag === "Refused") return yield* error(`the remote ${shown} refused the push to ${branch}: ${pushed.reasons}`)
      if (pushed._tag === "LeaseLost") {
        // Not into the tracking ref: until `refreshMain`, the queue's view of main stays where it left it.
        yield* fetch(probeRef(branch), false)
        const now = yield* readRef(probeRef(branch))
        // Read once: the probe leaves nothing behind.
        yield* repo.git.ok("compareAndSwapMain", { cwd: repo.root, args: ["update-ref", "-d", probeRef(branch), now] })
        // Our own push landed before (its answer was lost), perhaps with a teammate's on top: no second landing.
        if (now !== next && !(yield* GitRepo.isAncestor(repo, next, now))) return false
      }
      yield* bookkeeping(local, expected, next, landed, retired)
      return true
    }))

  /**
   * Points the remote's branch `name` at `sha`, whatever it held (a branch only oompa pushes to:
   * `oompa/<task>` of a pull request), or deletes it (`sha` undefined; a missing one is no error).
   */
  const publishBranch = (name: string, sha: string | undefined) =>
    Effect.gen(function*() {
      const ref = `refs/heads/${name}`
      const output = yield* networkCall("push", [
        "push", "--porcelain", "--no-follow-tags", "--no-signed", "--recurse-submodules=no", "--", urls.push,
        sha === undefined ? `:${ref}` : `+${sha}:${ref}`
      ])
      if (output.exitCode === 0) return
      if (sha === undefined && /remote ref does not exist/.test(output.stderr)) return
      return yield* error(`git push of ${name} to the remote ${shown} exited with ${output.exitCode}: ${gitMessage(output)}`)
    })

  /** Fetches the remote's branch `name` (its commits come with it); its commit, or undefined when it has none. */
  const fetchBranch = (name: string) =>
    Effect.gen(function*() {
      const local = `refs/oompa/fetched/${name}`
      const output = yield* networkCall("fetch", [
        "fetch", "--quiet", "--no-tags", "--no-prune", "--no-recurse-submodules", "--no-write-fetch-head", "--", urls.fetch,
        `+refs/heads/${name}:${local}`
      ])
      if (output.exitCode !== 0) {
        if (missingBranch.test(output.stderr)) return undefined
        return yield* error(`git fetch of ${name} from the remote ${shown} exited with ${output.exitCode}: ${gitMessage(output)}`)
      }
      const sha = yield* readRef(local)
      // Read once: the commits stay, the ref does not.
      yield* repo.git.ok("fetchBranch", { cwd: repo.root, args: ["update-ref", "-d", local, sha] })
      return sha
    })

  yield* remoteLock.withPermit(fetch(tracking, true))
  yield* mainHead
  return { mainHead, refreshMain, compareAndSwapMain, publishBranch, fetchBranch } satisfies Remote
})
