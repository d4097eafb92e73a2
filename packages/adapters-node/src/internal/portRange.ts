/**
 * The run's ports (the worktree environment contract, issue 18): the first block of `count`
 * consecutive ports from `start` that are all free on 127.0.0.1 when the run starts, so the dev
 * servers of a run do not collide with what already listens there (another run's included). Within
 * the run, each worker owns its slice of the block (`WorktreeEnvironment.firstPort`).
 *
 * Internal: used by `SwarmRun`.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import * as net from "node:net"

const portMax = 65_535

/** Whether `port` can be listened on at 127.0.0.1 right now. */
const isFree = (port: number): Promise<boolean> =>
  new Promise((done) => {
    const server = net.createServer()
    server.once("error", () => done(false))
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => server.close(() => done(true)))
  })

/** The first port of a free block of `count`, from `start`; `start` itself when none is free (nothing better to offer). */
export const findFreeBlock = (count: number, start: number): Effect.Effect<number> =>
  Effect.promise(async () => {
    for (let base = start; base + count - 1 <= portMax; ) {
      let taken = -1
      for (let port = base; port < base + count && taken < 0; port++) if (!(await isFree(port))) taken = port
      if (taken < 0) return base
      base = taken + 1
    }
    return start
  })

/** A port of 127.0.0.1 nothing listens on now, chosen by the system (two calls rarely agree). */
export const anyFreePort: Effect.Effect<number> = Effect.promise(() =>
  new Promise<number>((done, fail) => {
    const server = net.createServer()
    server.once("error", fail)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => done(port))
    })
  }))
