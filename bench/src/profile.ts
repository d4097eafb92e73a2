/**
 * CPU profile of a piece of work, reduced to its top entries by self time — printed by a benchmark
 * when it falls below its target, so the report says where the time went.
 */
import { Session } from "node:inspector/promises"

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  readonly hitCount?: number
}

export const topEntries = async (work: () => Promise<unknown>, count = 15): Promise<Array<string>> => {
  const session = new Session()
  session.connect()
  await session.post("Profiler.enable")
  await session.post("Profiler.start")
  await work()
  const { profile } = await session.post("Profiler.stop")
  session.disconnect()
  const nodes = profile.nodes as ReadonlyArray<ProfileNode>
  const total = nodes.reduce((sum, n) => sum + (n.hitCount ?? 0), 0) || 1
  const bySite = new Map<string, number>()
  for (const node of nodes) {
    const { functionName, url, lineNumber } = node.callFrame
    const site = `${functionName || "(anonymous)"} ${url.replace(/^.*\/(node_modules|packages)\//, "$1/")}:${lineNumber + 1}`
    bySite.set(site, (bySite.get(site) ?? 0) + (node.hitCount ?? 0))
  }
  return [...bySite.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([site, hits]) => `${((100 * hits) / total).toFixed(1).padStart(5)}%  ${site}`)
}
