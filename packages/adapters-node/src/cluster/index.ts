/**
 * One swarm over many machines (issue 21), on Effect Cluster with PostgreSQL: the runners, the
 * driver, the task queue in PostgreSQL, and a private PostgreSQL for one machine. A separate entry
 * (`@oompa/adapters-node/cluster`): only cluster runs load it and its database client.
 *
 * @since 0.1.0
 */
export * as ClusterBudget from "./ClusterBudget.ts"
export * as ClusterEventLog from "./ClusterEventLog.ts"
export * as ClusterRunner from "./ClusterRunner.ts"
export * as ClusterStatus from "./ClusterStatus.ts"
export * as ClusterSwarm from "./ClusterSwarm.ts"
export * as ClusterTaskQueue from "./ClusterTaskQueue.ts"
export * as LocalPostgres from "./LocalPostgres.ts"
export * as Protocol from "./Protocol.ts"
