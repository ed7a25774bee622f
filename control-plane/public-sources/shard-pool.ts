/**
 * Runs shards of one public source under leases, so that any number of workers (`leakgate watch
 * --shards`, scan workers) split a source among themselves without a coordinator: each takes up to
 * `slots` shards whose lease is free or past (store/public-sources.ts `takeLease`, one guarded
 * statement), renews the lease before each batch and on a timer while a batch or a wait runs, and
 * frees it when it stops. A worker killed with -9 frees nothing: its shards are taken by others once
 * their leases run out, and resume from their committed cursors. A worker that was too slow to renew
 * (its lease was taken) stops the shard; its batch in flight, if it commits after the new holder's,
 * is refused by the cursor's version (runner.ts), so a batch is kept once.
 */
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { Store } from '../store/store.js'
import type { PublicSourceRunner, WatchReport } from './runner.js'
import { watch } from './runner.js'
import { checkShard, DEFAULT_LEASE_SECONDS, shardCursorId, type ShardSpec } from './shard.js'
import type { PublicSource } from './source.js'

export { DEFAULT_LEASE_SECONDS }

/** How to run the shards of one source. */
export interface ShardPoolOptions {
  /** The source's own id (`gharchive`): the shards' cursor rows are `<id>#<k>/<count>`. */
  sourceId: string
  /** How many shards the source is split into (fixed once it runs: another count starts other cursors). */
  count: number
  /** How many shards this worker runs at once (default 1). */
  slots?: number
  /** The source reading shard `shard` (its `id` the `sourceId`, its `shard` the one given). */
  makeSource: (shard: ShardSpec) => PublicSource
  /** Seconds a lease holds unless renewed (default 60). */
  leaseSeconds?: number
  /** This worker's name in the leases (default host, pid and a random part). */
  owner?: string
  /** Exit once no shard is left to take and those run have nothing more now. */
  once?: boolean
  signal: AbortSignal
  /** Each batch's outcome or failure, with the shard's cursor id. */
  onReport?: (shardId: string, report: WatchReport) => void
  /** A shard taken, released (it stopped or ended) or lost (another worker took it). */
  onLease?: (shardId: string, event: 'taken' | 'released' | 'lost') => void
}

/** A worker's name for its leases: unique among workers, readable in the console. */
export function leaseOwnerName(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`
}

/**
 * Runs shards of a source under leases until `signal` aborts, or with `once` until none is left to
 * take. Rejects only when, with `once`, a shard it ran failed (after running the others).
 */
export async function runShards(store: Store, runner: PublicSourceRunner, options: ShardPoolOptions): Promise<void> {
  const count = checkShard({ index: 1, count: options.count })!.count
  const slots = options.slots ?? 1
  if (!Number.isInteger(slots) || slots < 1) throw new TypeError(`slots must be a positive integer, got ${slots}`)
  const leaseMs = (options.leaseSeconds ?? DEFAULT_LEASE_SECONDS) * 1000
  if (!(leaseMs >= 1000)) throw new TypeError(`the lease must be at least 1 second, got ${options.leaseSeconds}`)
  const owner = options.owner ?? leaseOwnerName()
  const repo = store.publicSources
  const running = new Map<number, Promise<void>>()
  // Shards this worker saw end (a last hour read) or, with `once`, have nothing more: not taken again.
  const done = new Set<number>()
  let failed: Error | undefined
  // Workers started together begin their search at different shards, so they rarely ask for the same one.
  const start = randomBytes(4).readUInt32BE(0) % count

  const runOne = async (index: number): Promise<void> => {
    const shard = { index, count }
    const id = shardCursorId(options.sourceId, shard)
    const stop = new AbortController()
    const onAbort = (): void => stop.abort()
    options.signal.addEventListener('abort', onAbort, { once: true })
    let lost = false
    let ended = false
    let batches = 0
    const renew = async (): Promise<boolean> => {
      if (lost) return false
      if (await repo.renewLease(id, owner, new Date(Date.now() + leaseMs).toISOString())) return true
      lost = true
      stop.abort()
      return false
    }
    // Renewed a third of the lease apart: two renewals may fail (a slow store) before it runs out.
    const timer = setInterval(() => {
      renew().catch(() => undefined)
    }, Math.max(200, Math.floor(leaseMs / 3)))
    try {
      const source = options.makeSource(shard)
      await watch(runner, source, {
        signal: stop.signal,
        ...(options.once === true ? { once: true } : {}),
        nextPollAt: async () => {
          const state = (await repo.cursor(id))?.state
          // Past its end (GH Archive's last hour read): the shard is done, not waited on until its next poll.
          if (state?.finished === true) {
            ended = true
            stop.abort()
          }
          return state?.nextPollAt as string | undefined
        },
        ...(options.onReport === undefined ? {} : { onReport: (report: WatchReport) => options.onReport!(id, report) }),
        keepGoing: async () => {
          if (!await renew()) return false
          // A source with an end (GH Archive up to a last hour) says so in its state once past it; not
          // before this run's first batch, since the state may be an earlier run's with another end.
          ended = batches++ > 0 && (await repo.cursor(id))?.state.finished === true
          return !ended
        },
      })
      if (ended || (options.once === true && !lost && !options.signal.aborted)) done.add(index)
    } catch (err) {
      // Only with `once`: the shard failed; the others run on, and the worker exits with the failure.
      failed = err as Error
      done.add(index)
    } finally {
      clearInterval(timer)
      options.signal.removeEventListener('abort', onAbort)
      if (lost) {
        options.onLease?.(id, 'lost')
      } else {
        await repo.releaseLease(id, owner).catch(() => undefined)
        options.onLease?.(id, 'released')
      }
    }
  }

  const takeFree = async (): Promise<void> => {
    if (running.size >= slots) return
    // One read of the rows first: only shards that look free are asked for (a write each), so many
    // workers looking every few seconds while all shards are held write nothing.
    const held = new Map((await repo.list()).map((r) => [r.sourceId, r]))
    for (let i = 0; i < count && running.size < slots && !options.signal.aborted; i++) {
      const index = ((start + i) % count) + 1
      if (running.has(index) || done.has(index)) continue
      const now = Date.now()
      const id = shardCursorId(options.sourceId, { index, count })
      const row = held.get(id)
      if (row?.leaseOwner != null && row.leaseOwner !== owner && row.leaseUntil !== null && Date.parse(row.leaseUntil) > now) continue
      if (!await repo.takeLease(id, owner, new Date(now + leaseMs).toISOString(), new Date(now).toISOString())) continue
      options.onLease?.(id, 'taken')
      running.set(index, runOne(index).finally(() => running.delete(index)))
    }
  }

  // Look for free shards (a stopped or killed worker's, once its lease ran out) this often.
  const lookMs = Math.min(5000, Math.max(200, Math.floor(leaseMs / 2)))
  while (!options.signal.aborted) {
    await takeFree()
    if (running.size === 0 && (options.once === true || done.size === count)) break
    await new Promise<void>((resolve) => {
      const timer = setTimeout(finish, lookMs)
      function finish(): void {
        clearTimeout(timer)
        options.signal.removeEventListener('abort', finish)
        resolve()
      }
      options.signal.addEventListener('abort', finish, { once: true })
      for (const p of running.values()) p.then(finish, finish)
    })
  }
  await Promise.allSettled([...running.values()])
  if (failed !== undefined) throw failed
}
