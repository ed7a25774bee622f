/**
 * The edge node, wired: configuration → parts → servers. `buildNode` makes the proxy and admin servers
 * without listening, so tests can start them on port 0 and server.ts owns the sockets and signals.
 *
 * Where each thing happens, by file: a request's steps in request-path.ts (admission.ts →
 * credentials.ts → verdict.ts → answer.ts or forward.ts), upgrades (WebSocket) in upgrade.ts; the
 * proxy server's life in proxy-server.ts; /healthz, /readyz and /metrics in admin.ts; how an index
 * reaches the node in sync-client.ts.
 */
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import type { DestinationStream, Logger } from 'pino'
import { createLogger } from '../lib/logger.js'
import { buildAdmin } from './admin.js'
import { nodeHashKeyOf, type NodeConfig } from './config.js'
import { compileBodyPlan } from './body-credentials.js'
import { compilePlan } from './credentials.js'
import { Forwarder } from './forward.js'
import { LeakIndex } from './leakdb/index.js'
import { createNodeMetrics, type NodeMetrics } from './metrics.js'
import { createProxyServer, type ProxyServer } from './proxy-server.js'
import { createRequestPath } from './request-path.js'
import { routeTemplate, SightingBuffer, SightingSender } from './sightings.js'
import { SyncClient } from './sync-client.js'
import { Upgrades } from './upgrade.js'
import { IndexHolder } from './verdict.js'
import { hashKeyId } from '../protocol/token-hash.js'

export type { ProxyServer } from './proxy-server.js'

/** What a node is built with besides its configuration. */
export interface NodeDeps {
  /** Enforce this index from the start, with no control plane (tests, `--index`). */
  index?: LeakIndex
  /** Where log lines go (tests capture them); stdout by default. */
  logStream?: DestinationStream
  /** The node's version, reported in heartbeats. */
  version?: string
}

/** A built node: two servers not yet listening, and the parts tests and server.ts look at. */
export interface LeakgateNode {
  /** The reverse proxy (listen on `config.port`). */
  readonly proxy: ProxyServer
  /** /metrics, /healthz, /readyz (listen on `config.adminPort`). */
  readonly admin: FastifyInstance
  readonly holder: IndexHolder
  readonly sightings: SightingBuffer
  readonly metrics: NodeMetrics
  /** The sync client, when the node follows a control plane (no `index` given). */
  readonly sync: SyncClient | undefined
  readonly logger: Logger
  /** Closes both apps (the proxy drains requests in flight), stops sync and sends what sightings it can. */
  close(): Promise<void>
}

/** Builds the node from a validated configuration. */
export function buildNode(config: Readonly<NodeConfig>, deps: NodeDeps = {}): LeakgateNode {
  // Paths are logged as route templates: some APIs take keys in the path (`/bot<token>/…`), which
  // no credential place covers, and a log must not keep them.
  const logger = createLogger(config.logLevel, 'leakgate-node', deps.logStream).child({}, {
    serializers: { req: (req: { id?: unknown; method?: string; url?: string }) => ({ id: req.id, method: req.method, route: routeTemplate(req.url ?? '/') }) },
  })
  const hashKey = nodeHashKeyOf(config)
  const indexOptions = { cacheSize: config.cacheSize, falsePositiveRate: config.falsePositiveRate, ...(hashKey === undefined ? {} : { hashKey }) }
  const initial = deps.index ?? (config.index === undefined ? undefined : loadIndexFile(config.index, indexOptions, logger))
  // An index given up front is never synced: sync age stays -1, so an age alert cannot fire on an air-gapped node.
  const holder = new IndexHolder(initial)
  const metrics = createNodeMetrics(holder)
  const { counters } = metrics
  const sightings = new SightingBuffer(config.sightingBufferSize, counters)
  const { controlPlane, nodeKey, nodeId } = config
  const followsControlPlane = initial === undefined
  const sync = followsControlPlane
    ? new SyncClient({
        controlPlane, nodeKey, nodeId,
        hashKeyId: hashKey === undefined ? undefined : hashKeyId(hashKey),
        version: deps.version ?? '0.0.0',
        cacheDir: config.cacheDir,
        waitSeconds: config.syncWaitSeconds,
        heartbeatMs: config.heartbeatMs,
        persistDebounceMs: config.persistDebounceMs,
        indexOptions, holder, counters, logger,
      })
    : undefined
  const sender = followsControlPlane
    ? new SightingSender({ buffer: sightings, controlPlane, nodeKey, nodeId, batchSize: config.sightingBatchSize, flushMs: config.sightingFlushMs, counters, logger })
    : undefined

  // The proxy server owns the draining state the forwarder and the request path read; it stops the
  // forwarder (made just below) only on close.
  const proxy = createProxyServer(config, {
    ready: sync?.ready,
    started() {
      sync?.start()
      sender?.start()
    },
    closing() {
      upgrades.closeAll()
    },
    async stopped() {
      await sync?.stop()
      await sender?.stop()
      await forwarder.close()
    },
  })
  const forwarder = new Forwarder({
    upstream: config.upstream,
    connections: config.upstreamConnections,
    timeoutMs: config.upstreamTimeoutMs,
    bodyLimit: config.bodyLimit,
    trustProxy: config.trustProxy,
    counters,
    logger,
    isDraining: proxy.isDraining,
  })
  const plan = compilePlan(config.credentialPlaces, config)
  const bodyPlan = compileBodyPlan(config.credentialPlaces, config)
  const path = createRequestPath({ config, plan, bodyPlan, holder, forwarder, sightings, metrics, logger, isDraining: proxy.isDraining })
  proxy.server.on('request', path.onRequest)
  // Without an `upgrade` listener node:http would treat an upgrade as a plain request and then stop
  // reading the connection, which hung until the keep-alive timeout.
  const upgrades = new Upgrades({ upstream: config.upstream, timeoutMs: config.upstreamTimeoutMs, trustProxy: config.trustProxy, counters, logger, check: path.check })
  proxy.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => upgrades.handle(req, socket, head))

  const admin = buildAdmin(logger, metrics, holder)

  return {
    proxy, admin, holder, sightings, metrics, sync, logger,
    async close() {
      await Promise.all([proxy.close(), admin.close()])
    },
  }
}

/** `--index FILE`: the node enforces this snapshot and follows no control plane. */
function loadIndexFile(path: string, options: { cacheSize: number; falsePositiveRate: number }, logger: Logger): LeakIndex {
  const index = LeakIndex.fromFileSync(path, options)
  logger.info({ file: path, revision: index.revision, indexEntries: index.size }, 'enforcing the index file; no control plane')
  return index
}
