/**
 * @oompa/adapters-node: the real layers for @oompa/core on Node.
 *
 * @since 0.1.0
 */
export * as CheckoutSync from "./CheckoutSync.ts"
export * as EdnTasks from "./EdnTasks.ts"
export * as FsPrompts from "./FsPrompts.ts"
export * as FsTaskQueue from "./FsTaskQueue.ts"
export * as GitHubIssuesTaskQueue from "./GitHubIssuesTaskQueue.ts"
export * as GitHubPullRequests from "./GitHubPullRequests.ts"
export * as HarnessCheck from "./HarnessCheck.ts"
export * as Harnesses from "./Harnesses.ts"
export * as JsonlEventLog from "./JsonlEventLog.ts"
export * as NodeAgent from "./NodeAgent.ts"
export * as NodeCommandRunner from "./NodeCommandRunner.ts"
export * as NodeGit from "./NodeGit.ts"
export * as NodeServices from "./NodeServices.ts"
export * as Pricing from "./Pricing.ts"
export * as ProcessOwner from "./ProcessOwner.ts"
export * as RunLock from "./RunLock.ts"
export * as RunPaths from "./RunPaths.ts"
export * as SimulationSweep from "./SimulationSweep.ts"
export * as Transcripts from "./Transcripts.ts"
export * as DiskRecovery from "./DiskRecovery.ts"
export * as Project from "./Project.ts"
export * as SwarmRun from "./SwarmRun.ts"
export { runPromise as runSwarm } from "./SwarmRun.ts"
