/**
 * One proxy process of a multi-process node (`workers` above 1; the primary is workers.ts). It is the
 * single-process node (app.ts) with two parts swapped: its index comes from the primary (`WorkerFeed`:
 * a snapshot file to load, then the changes as messages) instead of a sync client, and its sightings go
 * to the primary (`SightingRelay`), which sends them to the control plane with the others'. It has no
 * admin port: the primary's answers for every process.
 */
import type { AddressInfo } from 'node:net'
import type { Logger } from 'pino'
import { buildNode, type BackgroundPart, type LeakgateNode } from './app.js'
import { nodeHashKeyOf, type NodeConfig } from './config.js'
import type { PortOption } from './listen-errors.js'
import { LeakIndex, type IndexOptions } from './leakdb/index.js'
import type { NodeCounters } from './metrics.js'
import type { SightingBuffer } from './sightings.js'
import type { IndexHolder } from './verdict.js'
import type { Change } from '../protocol/changes.js'
import { isMessage, type FromWorker, type ToWorker } from './worker-messages.js'

// Sightings wait at most this long in a worker: the primary batches them for the control plane anyway.
const RELAY_MS = 100
const RELAY_BATCH = 1000

function send(message: FromWorker): Promise<boolean> {
  return new Promise((resolve) => {
    if (process.send === undefined || !process.connected) {
      resolve(false)
      return
    }
    process.send(message, undefined, {}, (err) => resolve(err === null || err === undefined))
  })
}

/**
 * Keeps a worker's holder on the primary's index. A base is loaded from its file in the background
 * (the event loop free between chunks, as the cache is) and put in force whole; changes that arrive
 * during the load are applied to it before the swap, so none is missed.
 */
export class WorkerFeed implements BackgroundPart {
  readonly #holder: IndexHolder
  readonly #options: IndexOptions
  readonly #logger: Logger
  readonly ready: Promise<void>
  #settle: () => void = () => {}
  /** The base being loaded, and the changes received since it was sent. */
  #loading: { path: string; changes: { changes: readonly Change[]; revision: number }[] } | undefined
  #stopped = false

  constructor(holder: IndexHolder, options: IndexOptions, logger: Logger) {
    this.#holder = holder
    this.#options = options
    this.#logger = logger
    this.ready = new Promise((resolve) => (this.#settle = resolve))
  }

  start(): void {}

  async stop(): Promise<void> {
    this.#stopped = true
  }

  /** Takes a message from the primary; answers whether it was the feed's. */
  handle(m: ToWorker): boolean {
    if (m.t === 'no-index') {
      this.#settle()
      return true
    }
    if (m.t === 'base') {
      void this.#load(m)
      return true
    }
    if (m.t === 'changes') {
      if (this.#loading !== undefined) this.#loading.changes.push(m)
      else this.#apply(m.changes, m.revision)
      return true
    }
    return false
  }

  async #load(m: Extract<ToWorker, { t: 'base' }>): Promise<void> {
    const loading = { path: m.path, changes: [{ changes: m.changes, revision: m.revision }] }
    this.#loading = loading
    let index: LeakIndex
    try {
      index = await LeakIndex.fromFile(m.path, this.#options)
    } catch (err) {
      // A newer base deleted this one's file before it was read: that one is on its way.
      if (this.#loading !== loading || this.#stopped) return
      this.#loading = undefined
      const e = err as { code?: string; message?: string }
      this.#logger.error({ err: { code: e.code, message: e.message }, file: m.path }, 'cannot load the index the primary wrote; keeping the index in force')
      this.#settle()
      return
    }
    if (this.#loading !== loading || this.#stopped) return
    this.#loading = undefined
    try {
      for (const batch of loading.changes) index.applyChanges(batch.changes, batch.revision)
    } catch (err) {
      // The primary applied the same batches to the same snapshot: a refusal here is a fault of ours.
      const e = err as { code?: string; message?: string }
      this.#logger.error({ err: { code: e.code, message: e.message } }, 'changes from the primary refused')
    }
    this.#holder.swap(index)
    this.#settle()
    void send({ t: 'index', revision: index.revision, entries: index.size })
  }

  #apply(changes: readonly Change[], revision: number): void {
    // A worker's index is always one the primary fed it, loaded (never a file read in place).
    const index = this.#holder.current
    if (!(index instanceof LeakIndex)) return
    try {
      index.applyChanges(changes, revision)
    } catch (err) {
      const e = err as { code?: string; message?: string }
      this.#logger.error({ err: { code: e.code, message: e.message } }, 'changes from the primary refused')
      return
    }
    void send({ t: 'index', revision: index.revision, entries: index.size })
  }
}

/** Moves a worker's sightings to the primary every `RELAY_MS`; what the channel refuses is put back. */
export class SightingRelay implements BackgroundPart {
  readonly #buffer: SightingBuffer
  readonly #counters: NodeCounters
  #timer: NodeJS.Timeout | undefined
  #sending: Promise<void> = Promise.resolve()

  constructor(buffer: SightingBuffer, counters: NodeCounters) {
    this.#buffer = buffer
    this.#counters = counters
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.flush(), RELAY_MS)
    this.#timer.unref()
  }

  /** Sends what waits; one send at a time, so sightings keep their order. */
  flush(): Promise<void> {
    this.#sending = this.#sending.then(async () => {
      while (this.#buffer.size > 0) {
        const items = this.#buffer.take(RELAY_BATCH)
        if (!(await send({ t: 'sightings', items }))) {
          this.#buffer.giveBack(items)
          return
        }
      }
    })
    return this.#sending
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer)
    await this.flush()
    // The primary is gone: these can no longer reach the control plane.
    this.#counters.sightingsDropped += this.#buffer.take(this.#buffer.size).length
  }
}

/** Runs a worker: builds its node, listens once the primary's index is in, and answers the primary's messages; resolves -1 (it keeps running). */
export async function runWorker(config: Readonly<NodeConfig>, deps: { version: string; rereadConfig?: () => Readonly<NodeConfig> }): Promise<number> {
  const hashKey = nodeHashKeyOf(config)
  const indexOptions = { cacheSize: config.cacheSize, falsePositiveRate: config.falsePositiveRate, ...(hashKey === undefined ? {} : { hashKey }) }
  let feed: WorkerFeed | undefined
  const node: LeakgateNode = buildNode(config, {
    version: deps.version,
    logFields: { worker: process.pid },
    ...(deps.rereadConfig === undefined ? {} : { rereadConfig: deps.rereadConfig }),
    feed: ({ holder, logger }) => (feed = new WorkerFeed(holder, indexOptions, logger)),
    sightingRelay: (buffer, counters) => new SightingRelay(buffer, counters),
  })
  const { logger } = node

  let closing = false
  const drain = (why: string): void => {
    if (closing) return
    closing = true
    logger.info({ why }, 'worker draining requests in flight, then exiting')
    node.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err: { message: (err as Error).message } }, 'error while stopping')
        process.exit(1)
      },
    )
  }
  // A signal sent to the whole group (Ctrl-C) reaches the workers too; the primary drains them anyway.
  process.once('SIGTERM', () => drain('SIGTERM'))
  process.once('SIGINT', () => drain('SIGINT'))
  process.on('SIGHUP', () => void node.reload('SIGHUP'))
  // The primary gone (killed): nobody feeds this worker any more, nor restarts it.
  process.on('disconnect', () => drain('primary gone'))
  process.on('message', (m: unknown) => {
    if (!isMessage<ToWorker>(m)) return
    if (feed?.handle(m) === true) return
    switch (m.t) {
      case 'drain':
        drain('primary')
        break
      case 'reload':
        void node.reload('SIGHUP').then((outcomes) => send({ t: 'reloaded', id: m.id, outcomes }))
        break
      case 'metrics':
        void node.metrics.registry.getMetricsAsJSON().then((metrics) => send({ t: 'metrics', id: m.id, metrics }))
        break
    }
  })

  await send({ t: 'hello' })
  const { checkPort } = config
  let key: PortOption = 'port'
  try {
    await node.proxy.listen({ port: config.port, host: config.host })
    key = 'checkPort'
    if (node.checks !== undefined && checkPort !== undefined) await node.checks.listen({ port: checkPort, host: config.host })
  } catch (err) {
    if (closing) return -1
    const e = err as { code?: string; message?: string }
    // The primary says it, naming the port and its option, and exits: a node that cannot listen does not start.
    logger.error({ err: { code: e.code, message: e.message } }, 'worker cannot listen; exiting')
    await send({ t: 'listen-failed', key, err: { code: e.code, message: e.message } })
    logger.flush?.()
    process.exit(1)
  }
  await send({ t: 'listening', proxy: node.proxy.addresses()[0] as AddressInfo | undefined, checks: node.checks?.addresses()[0] })
  return -1
}
