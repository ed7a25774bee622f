/**
 * A node on several processes (`workers` above 1): this file is the primary, worker.ts the proxy
 * processes it forks with node:cluster. The workers share the proxy port (cluster hands them the
 * connections) and judge requests; the primary holds what there must be one of:
 *
 * - the index's source: one sync client (or the `--index` file and its watch), one cache, one set of
 *   heartbeats. Each index it puts in force is written once for the workers (`WorkerIndexFeed`: a
 *   snapshot file in `cacheDir/workers/`, from the index's own arrays) and each worker loads that file
 *   into its own memory; the live changes follow as messages. Processes share no memory under
 *   cluster, so every worker holds a copy of the index, and the primary one more (bench/RESULTS.md
 *   "Multi-core node" has the figures); the primary's has no verdict cache, since it judges nothing.
 * - the sighting sender: workers relay their sightings to it (worker.ts `SightingRelay`), each once.
 * - the admin port: /metrics sums every process's metrics (prom-client's AggregatorRegistry), the
 *   index and sync series being the primary's own; /readyz is ready when every worker has an index;
 *   /healthz fails while no worker runs.
 * - signals: SIGHUP reloads the primary's parts then each worker's; SIGTERM/SIGINT drain every worker,
 *   then stop sync and send the last sightings. A worker that dies is logged and started again.
 */
import cluster, { type Worker } from 'node:cluster'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { AggregatorRegistry, Counter, Gauge, type MetricObjectWithValues, type MetricValue } from 'prom-client'
import type { Logger } from 'pino'
import { createLogger } from '../lib/logger.js'
import { snapshotChunks } from '../protocol/snapshot.js'
import { hashKeyId } from '../protocol/token-hash.js'
import type { Change } from '../protocol/changes.js'
import { buildAdmin } from './admin.js'
import { nodeHashKeyOf, type NodeConfig } from './config.js'
import { IndexFileReloader } from './index-file.js'
import type { LeakIndex } from './leakdb/index.js'
import { writeFileAtomic } from './leakdb/write-file-atomic.js'
import { listenFailure } from './listen-errors.js'
import { createNodeMetrics } from './metrics.js'
import { configFileReloader, Reloads } from './reload.js'
import { routeTemplate, SightingBuffer, SightingSender } from './sightings.js'
import { backoffDelay, SyncClient } from './sync-client.js'
import { IndexHolder, type IndexListener } from './verdict.js'
import { isMessage, type FromWorker, type ToWorker } from './worker-messages.js'

// A drain that takes longer than this is cut short: an orchestrator's kill would come next anyway.
const DRAIN_TIMEOUT_MS = 25_000
// A worker that answers no metrics or reload within this is left out of the answer.
const ASK_TIMEOUT_MS = 5_000
// A worker that dies sooner than this after its start is started again after a growing delay.
const CRASH_LOOP_MS = 10_000

/**
 * Series only the primary tells the truth of: its index and sync state, and its build. The workers'
 * copies (their own index's, with no sync) are left out of the sum; everything else is summed.
 */
const PRIMARY_SERIES: ReadonlySet<string> = new Set([
  'leakgate_build_info', 'leakgate_node_index_entries', 'leakgate_node_index_revision', 'leakgate_node_sync_age_seconds',
  'leakgate_node_sync_errors_total', 'leakgate_node_hash_key_mismatches_total', 'leakgate_node_index_reloads_total',
])

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[]

/**
 * Passes the primary's index on to the workers: each index put in force is written to a file of its
 * own (never changed after, so a worker may read it while the next is written), then announced with
 * the changes applied since its snapshot; later changes are sent as they come. The two newest files
 * are kept, so a worker that was sent one just before the next came can still read it.
 */
export class WorkerIndexFeed implements IndexListener {
  readonly #dir: string
  readonly #logger: Logger
  readonly #broadcast: (m: ToWorker) => void
  #seq = 0
  /** The newest file written, its snapshot's revision. */
  #base: { path: string; older: string | undefined } | undefined
  #writing = false
  /** Changes applied since the snapshot of the index in force, and the revision they bring it to. */
  #sinceBase: Change[] = []
  #revision = 0
  #queue: Promise<void> = Promise.resolve()
  /** The primary's start found no index (no cache): workers may start without one. */
  #noIndex = false

  constructor(dir: string, logger: Logger, broadcast: (m: ToWorker) => void) {
    this.#dir = dir
    this.#logger = logger
    this.#broadcast = broadcast
  }

  swapped(index: LeakIndex, sinceBase: readonly Change[]): void {
    const seq = ++this.#seq
    this.#sinceBase = [...sinceBase]
    this.#revision = index.revision
    this.#writing = true
    this.#queue = this.#queue.then(() => this.#write(index, seq)).catch((err: unknown) => {
      const e = err as { code?: string; message?: string }
      this.#logger.error({ err: { code: e.code, message: e.message }, dir: this.#dir }, 'cannot write the index for the workers; they keep the index in force')
    })
  }

  changed(changes: readonly Change[], revision: number): void {
    this.#sinceBase.push(...changes)
    this.#revision = revision
    // While a file is written, the changes wait in `sinceBase`: they go with its announcement.
    if (!this.#writing && this.#base !== undefined) this.#broadcast({ t: 'changes', changes, revision })
  }

  /** The primary's start is over and found no index: workers waiting for one start without. */
  noIndex(): void {
    this.#noIndex = true
    if (this.#base === undefined && !this.#writing) this.#broadcast({ t: 'no-index' })
  }

  /** What a worker that just started is sent: the index in force, or that there is none; nothing while a file is written (its announcement follows). */
  greeting(): ToWorker | undefined {
    if (this.#writing) return undefined
    if (this.#base !== undefined) return this.#announcement(this.#base.path)
    return this.#noIndex ? { t: 'no-index' } : undefined
  }

  /** Removes the files written (at stop). */
  async close(): Promise<void> {
    this.#seq++
    await this.#queue
    const { path, older } = this.#base ?? {}
    for (const p of [path, older]) if (p !== undefined) await rm(p, { force: true })
  }

  #announcement(path: string): ToWorker {
    return { t: 'base', path, revision: this.#revision, changes: this.#sinceBase.slice() }
  }

  async #write(index: LeakIndex, seq: number): Promise<void> {
    if (seq !== this.#seq) return // a newer index came meanwhile: write that one instead
    await mkdir(this.#dir, { recursive: true })
    const path = join(this.#dir, `index-${process.pid}-${seq}.snapshot`)
    await writeFileAtomic(path, snapshotChunks(index.base))
    if (seq !== this.#seq) {
      await rm(path, { force: true })
      return
    }
    const previous = this.#base
    this.#base = { path, older: previous?.path }
    this.#writing = false
    this.#broadcast(this.#announcement(path))
    if (previous?.older !== undefined) await rm(previous.older, { force: true })
  }
}

/** What the primary knows of one worker. */
interface WorkerState {
  readonly worker: Worker
  readonly pid: number
  readonly startedAt: number
  /** It said hello: its handlers are set, it gets what is broadcast. */
  greeted: boolean
  listening: boolean
  revision: number | undefined
  entries: number
}

/** Runs the primary of a node of `count` proxy processes; resolves -1 (it keeps running) or 1 when it could not start. */
export async function runPrimary(config: Readonly<NodeConfig>, count: number, deps: { version: string; rereadConfig?: () => Readonly<NodeConfig> }): Promise<number> {
  const logger = createLogger(config.logLevel, 'leakgate-node').child({ role: 'primary' }, {
    serializers: { req: (req: { id?: unknown; method?: string; url?: string }) => ({ id: req.id, method: req.method, route: routeTemplate(req.url ?? '/') }) },
  })
  const hashKey = nodeHashKeyOf(config)
  // No verdict cache: the primary judges no request.
  const indexOptions = { cacheSize: 0, falsePositiveRate: config.falsePositiveRate, ...(hashKey === undefined ? {} : { hashKey }) }
  const holder = new IndexHolder()
  const metrics = createNodeMetrics(holder, deps.version)
  const { counters } = metrics
  const workers = new Map<number, WorkerState>()
  // Only to workers that said hello: one that has not has no handler yet, and its greeting brings it up to date.
  const broadcast = (m: ToWorker): void => {
    for (const s of workers.values()) if (s.greeted) tell(s.worker, m)
  }
  // Files a primary killed before its stop could remove them.
  await rm(join(config.cacheDir, 'workers'), { recursive: true, force: true })
  const feed = new WorkerIndexFeed(join(config.cacheDir, 'workers'), logger, broadcast)
  holder.listener = feed

  const indexFile = config.index === undefined ? undefined : new IndexFileReloader({ path: config.index, indexOptions, holder, counters, logger })
  if (indexFile !== undefined) {
    const index = indexFile.readNow()
    holder.swap(index)
    logger.info({ file: config.index, revision: index.revision, indexEntries: index.size }, 'enforcing the index file; no control plane')
  }
  const { controlPlane, nodeKey, nodeId } = config
  const sync = indexFile !== undefined ? undefined : new SyncClient({
    controlPlane, nodeKey, nodeId,
    hashKeyId: hashKey === undefined ? undefined : hashKeyId(hashKey),
    version: deps.version,
    cacheDir: config.cacheDir,
    waitSeconds: config.syncWaitSeconds,
    heartbeatMs: config.heartbeatMs,
    persistDebounceMs: config.persistDebounceMs,
    indexOptions, holder, counters, logger,
  })
  const sightings = new SightingBuffer(config.sightingBufferSize, counters)
  const sender = sync === undefined ? undefined : new SightingSender({ buffer: sightings, controlPlane, nodeKey, nodeId, batchSize: config.sightingBatchSize, flushMs: config.sightingFlushMs, counters, logger })

  let restarts = 0
  new Gauge({ name: 'leakgate_node_workers', help: 'Proxy processes listening (LEAKGATE_WORKERS); fewer than asked while one is started again', registers: [metrics.registry], collect() { this.set([...workers.values()].filter((s) => s.listening).length) } })
  let reportedRestarts = 0
  new Counter({ name: 'leakgate_node_worker_restarts_total', help: 'Proxy processes that died and were started again', registers: [metrics.registry], collect() { this.inc(restarts - reportedRestarts); reportedRestarts = restarts } })

  // Questions to workers (metrics, reload) and their answers, by id.
  let asked = 0
  const answers = new Map<number, (m: FromWorker) => void>()
  const ask = <T extends FromWorker>(s: WorkerState, question: (id: number) => ToWorker): Promise<T | undefined> =>
    new Promise((resolve) => {
      const id = ++asked
      const timer = setTimeout(() => {
        answers.delete(id)
        resolve(undefined)
      }, ASK_TIMEOUT_MS)
      answers.set(id, (m) => {
        clearTimeout(timer)
        answers.delete(id)
        resolve(m as T)
      })
      if (!tell(s.worker, question(id))) {
        clearTimeout(timer)
        answers.delete(id)
        resolve(undefined)
      }
    })

  let closing = false
  let started = false
  let failedStart: ((code: number) => void) | undefined
  const startFailed = new Promise<number>((resolve) => (failedStart = resolve))
  let crashes = 0
  /** A worker could not start: the node exits, and says so once. */
  let failing = false

  const fork = (): void => {
    const worker = cluster.fork()
    const pid = worker.process.pid ?? 0
    const state: WorkerState = { worker, pid, startedAt: Date.now(), greeted: false, listening: false, revision: undefined, entries: 0 }
    workers.set(worker.id, state)
    // Over once the process has exited and its channel is read to the end (its last sightings with it).
    const ended = Promise.all([new Promise((r) => worker.once('exit', r)), new Promise((r) => worker.once('disconnect', r))]).then(() => {})
    endings.add(ended)
    void ended.then(() => endings.delete(ended))
    worker.on('message', (m: unknown) => {
      if (!isMessage<FromWorker>(m)) return
      switch (m.t) {
        case 'hello': {
          state.greeted = true
          const greeting = feed.greeting()
          if (greeting !== undefined) tell(worker, greeting)
          break
        }
        case 'listening':
          state.listening = true
          crashes = 0
          if (!started && [...workers.values()].filter((s) => s.listening).length >= count) {
            started = true
            logger.info({ mode: config.mode, proxy: m.proxy, checks: m.checks, admin: admin.addresses()[0], upstream: config.upstream, nodeId: config.nodeId, workers: count }, 'leakgate node listening')
          } else if (started) {
            logger.info({ worker: pid }, 'worker listening')
          }
          break
        case 'listen-failed':
          if (!started && !failing) {
            failing = true
            const { fields, msg } = listenFailure(m.key, config, m.err)
            logger.fatal(fields, msg)
            failedStart?.(1)
          }
          break
        case 'index':
          state.revision = m.revision
          state.entries = m.entries
          break
        case 'sightings':
          for (const s of m.items) sightings.push(s)
          break
        case 'metrics':
        case 'reloaded':
          answers.get(m.id)?.(m)
          break
      }
    })
    worker.on('exit', (code, signal) => {
      workers.delete(worker.id)
      void retire(worker.id)
      if (closing || failing) return
      if (!started && !state.listening) {
        // Not one worker listens yet: a worker that cannot start is a node that cannot start.
        failing = true
        logger.fatal({ worker: pid, code, signal }, 'a worker exited before listening; exiting')
        failedStart?.(1)
        return
      }
      restarts++
      const quick = Date.now() - state.startedAt < CRASH_LOOP_MS
      const delay = quick ? backoffDelay(crashes++, 250, 30_000) : 0
      logger.error({ worker: pid, code, signal, restartInMs: Math.round(delay) }, 'a worker exited; starting another')
      setTimeout(() => {
        if (!closing) fork()
      }, delay).unref()
    })
  }
  const endings = new Set<Promise<void>>()

  // A dead worker's counters, as last scraped, stay in the sums: without them a restart would make
  // every summed counter go down, which Prometheus reads as a reset of the whole series.
  const lastSeen = new Map<number, MetricsJson>()
  let retired: MetricsJson = []
  const retire = async (id: number): Promise<void> => {
    const last = lastSeen.get(id)
    lastSeen.delete(id)
    if (last === undefined) return
    const counters = last.filter((m) => ['counter', 'histogram'].includes(String(m.type)))
    retired = await AggregatorRegistry.aggregate([retired, counters]).getMetricsAsJSON()
  }
  const listening = (): WorkerState[] => [...workers.values()].filter((s) => s.listening)
  const admin = buildAdmin(logger, metrics, holder, () => closing, {
    health: () => ({ ok: !started || workers.size > 0, workers: { running: workers.size, listening: listening().length, asked: count } }),
    readiness() {
      const each = [...workers.values()].map((s) => ({ pid: s.pid, listening: s.listening, revision: s.revision ?? null }))
      const current = holder.current?.revision
      const ready = listening().filter((s) => s.revision !== undefined).length
      const notReady = ready < count ? `${ready} of ${count} workers listen with an index` : undefined
      return { notReady, workers: { asked: count, ready, revision: current ?? null, each } }
    },
    async metrics() {
      const own = await metrics.registry.getMetricsAsJSON()
      const states = listening()
      const theirs = await Promise.all(states.map((s) => ask<Extract<FromWorker, { t: 'metrics' }>>(s, (id) => ({ t: 'metrics', id }))))
      const lists: MetricsJson[] = [own, retired]
      theirs.forEach((answer, i) => {
        if (answer === undefined) return
        const list = answer.metrics.filter((m) => !PRIMARY_SERIES.has(m.name))
        lastSeen.set((states[i] as WorkerState).worker.id, list)
        lists.push(list)
      })
      return AggregatorRegistry.aggregate(lists).metrics()
    },
  })

  const reloads = new Reloads(logger)
  if (indexFile !== undefined) reloads.list.push({ name: 'index file', reload: async () => ({ ...(await indexFile.reload()) }) })
  if (deps.rereadConfig !== undefined) reloads.list.push(configFileReloader(config, deps.rereadConfig, logger))
  reloads.list.push({
    name: 'workers',
    async reload() {
      const outcomes = await Promise.all(listening().map(async (s) => ({ pid: s.pid, answer: await ask<Extract<FromWorker, { t: 'reloaded' }>>(s, (id) => ({ t: 'reload', id })) })))
      const failed = outcomes.filter((o) => o.answer === undefined || o.answer.outcomes.some((r) => !r.ok)).map((o) => o.pid)
      if (failed.length > 0) throw new Error(`workers ${failed.join(', ')} did not reload everything (their own lines say what)`)
      return { workers: outcomes.length }
    },
  })

  const shutdown = (signal: string, code = 0): void => {
    if (closing) return
    closing = true
    logger.info({ signal }, 'draining requests in flight, then exiting')
    const timer = setTimeout(() => {
      logger.error('drain took too long; exiting')
      for (const s of workers.values()) s.worker.process.kill('SIGKILL')
      process.exit(1)
    }, DRAIN_TIMEOUT_MS)
    timer.unref()
    broadcast({ t: 'drain' })
    void (async () => {
      try {
        // The workers relay their last sightings before they exit; the sender sends them after.
        await Promise.all([...endings])
        indexFile?.close()
        await sync?.stop()
        await sender?.stop()
        await admin.close()
        await feed.close()
        logger.info('stopped')
        logger.flush?.()
        process.exit(code)
      } catch (err) {
        logger.error({ err: { message: (err as Error).message } }, 'error while stopping')
        process.exit(1)
      }
    })()
  }
  process.once('SIGTERM', () => shutdown('SIGTERM'))
  process.once('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGHUP', () => {
    if (closing) return
    logger.info({ signal: 'SIGHUP' }, 'reloading what can change without a restart')
    void reloads.run('SIGHUP')
  })

  try {
    await admin.listen({ port: config.adminPort, host: config.adminHost })
  } catch (err) {
    const e = err as { code?: string; message?: string }
    const { fields, msg } = listenFailure('adminPort', config, { code: e.code, message: e.message })
    logger.fatal(fields, msg)
    logger.flush?.()
    return 1
  }
  // Workers start while the cache loads: they wait for the index the primary sends them.
  // No stdin for the workers: they read none, and an inherited one the primary's shell holds made tsx's loader hang.
  cluster.setupPrimary({ stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  for (let i = 0; i < count; i++) fork()
  if (sync !== undefined) {
    await sync.ready
    if (holder.current === undefined) feed.noIndex()
    sync.start()
    sender?.start()
  }
  indexFile?.watch()
  void startFailed.then((code) => shutdown('failed start', code))
  return -1
}

/** Sends a message to a worker; false when its channel is closed. */
function tell(worker: Worker, m: ToWorker): boolean {
  if (!worker.isConnected()) return false
  try {
    return worker.send(m)
  } catch {
    return false
  }
}
