/**
 * The public sources a scan worker follows besides its scan jobs (the control plane's `publicSources`):
 * each source split into its `shards`, of which the worker runs up to `slots` at once under the same
 * leases as `leakgate watch --shards` (shard-pool.ts), so scan workers and watch processes may share a
 * source. On SQLite there are no scan workers: `leakgate watch <source> --shards N` runs them.
 */
import type { Logger } from 'pino'
import { loadRulesFile } from '../detect/rules.js'
import type { Store } from '../store/store.js'
import { PublicSourceRunner } from './runner.js'
import { leaseOwnerName, runShards } from './shard-pool.js'
import { makePublicSource, type PublicSourceSpec } from './source-factory.js'

/** How a worker follows its public sources. */
export interface FollowOptions {
  /** Shards of each source run at once; 0 follows none. */
  slots: number
  leaseSeconds: number
  /** A rules file of the organisation's own token formats. */
  rulesFile?: string
  env: NodeJS.ProcessEnv
  log: Logger
  signal: AbortSignal
}

/**
 * Runs the shards of `sources` until `signal` aborts. Every source is built first, so a wrong option
 * fails at once (a ConfigError) rather than after the worker started.
 */
export async function followPublicSources(store: Store, sources: ReadonlyArray<PublicSourceSpec & { shards: number }>, options: FollowOptions): Promise<void> {
  if (options.slots === 0 || sources.length === 0) return
  const ourRules = options.rulesFile === undefined ? [] : loadRulesFile(options.rulesFile).rules
  const owner = leaseOwnerName()
  const pools = sources.map((spec) => ({ spec, id: makePublicSource(spec, { ourRules, env: options.env, shard: { index: 1, count: spec.shards } }).id }))
  const runner = new PublicSourceRunner(store, { ourRules })
  const { log } = options
  log.info({ sources: pools.map((p) => `${p.id} (${p.spec.shards} shards)`), slots: options.slots, owner }, 'following public sources')
  await Promise.all(pools.map(async ({ spec, id }) => {
    // A pool that stops on an error (a store outage) starts again: the worker's scans run on meanwhile.
    while (!options.signal.aborted) {
      try {
        await runShards(store, runner, {
          sourceId: id, count: spec.shards, slots: options.slots, leaseSeconds: options.leaseSeconds, owner, signal: options.signal,
          makeSource: (shard) => makePublicSource(spec, { ourRules, env: options.env, shard }),
          onReport: (shardId, report) => {
            if ('outcome' in report) log.info({ source: shardId, ...report.outcome }, 'public source batch committed')
            else log.warn({ source: shardId, err: { message: report.error.message }, retryInSeconds: report.retryInSeconds }, 'public source batch failed; the cursor stays')
          },
          onLease: (shardId, event) => log.info({ source: shardId, owner }, `public source shard ${event}`),
        })
        // Every shard ended (a GH Archive range read to its last hour): nothing more to follow.
        return
      } catch (err) {
        log.error({ source: id, err: { message: (err as Error).message } }, 'public source shards stopped; starting again in 10 seconds')
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 10_000)
          options.signal.addEventListener('abort', () => {
            clearTimeout(timer)
            resolve()
          }, { once: true })
        })
      }
    }
  }))
}
