/**
 * One in-memory world for a whole swarm: a `MemoryRepo`, a `MemoryTaskQueueState`, a scripted agent,
 * scripted test/setup commands, prompt files and a collecting event log — and the one `layer` that
 * provides every service the programs need from it.
 *
 * @since 0.1.0
 */
import { Layer } from "effect"
import type { Task } from "../domain/Task.ts"
import type * as Swarm from "../programs/Swarm.ts"
import * as CollectingEventSink from "./CollectingEventSink.ts"
import * as MemoryGit from "./MemoryGit.ts"
import * as MemoryPrompts from "./MemoryPrompts.ts"
import * as MemoryTaskQueue from "./MemoryTaskQueue.ts"
import * as ScriptedAgent from "./ScriptedAgent.ts"
import * as ScriptedCommands from "./ScriptedCommands.ts"

/**
 * Every service a swarm needs.
 *
 * @category models
 * @since 0.1.0
 */
export type Services = Swarm.Services

/**
 * The world's parts, each inspectable.
 *
 * @category models
 * @since 0.1.0
 */
export interface World {
  readonly repo: MemoryGit.MemoryRepo
  readonly queue: MemoryTaskQueue.MemoryTaskQueueState
  readonly agent: ScriptedAgent.ScriptedAgentState
  readonly commands: ScriptedCommands.ScriptedCommandsState
  readonly events: CollectingEventSink.EventLog
  readonly promptFiles: Readonly<Record<string, string>>
}

/**
 * @category models
 * @since 0.1.0
 */
export interface WorldOptions {
  readonly files?: Readonly<Record<string, MemoryGit.FileContent>>
  readonly branch?: string
  readonly tasks?: ReadonlyArray<Task>
  readonly script?: ScriptedAgent.Script
  readonly commands?: ScriptedCommands.CommandScripts
  readonly promptFiles?: Readonly<Record<string, string>>
  readonly observe?: (event: import("../domain/Event.ts").Event) => void
  /** Keep every event in `events` (default true; a simulation only observes them). */
  readonly retainEvents?: boolean
}

/**
 * A fresh world.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeWorld = (options: WorldOptions = {}): World => {
  const repo = MemoryGit.MemoryRepo.make({
    files: options.files ?? { "README.md": "# scratch\n" },
    ...(options.branch === undefined ? {} : { branch: options.branch })
  })
  return {
    repo,
    queue: MemoryTaskQueue.MemoryTaskQueueState.make(options.tasks ?? []),
    agent: new ScriptedAgent.ScriptedAgentState(repo, options.script ?? ScriptedAgent.approve),
    commands: new ScriptedCommands.ScriptedCommandsState(repo, options.commands ?? {}),
    events: new CollectingEventSink.EventLog(options.observe, { retain: options.retainEvents ?? true }),
    promptFiles: options.promptFiles ?? {}
  }
}

/**
 * Every service, over the world.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (world: World): Layer.Layer<Services> =>
  Layer.mergeAll(
    MemoryGit.layer(world.repo),
    MemoryTaskQueue.layer(world.queue),
    ScriptedAgent.layer(world.agent),
    ScriptedCommands.layer(world.commands),
    CollectingEventSink.layer(world.events),
    MemoryPrompts.layer(world.promptFiles)
  )
