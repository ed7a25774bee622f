/**
 * The edge node, wired: configuration → parts → servers. `buildNode` makes the proxy and admin servers
 * without listening, so tests can start them on port 0 and server.ts owns the sockets and signals.
 *
 * Where each thing happens, by file: a request's steps in request-path.ts (admission.ts →
 * credentials.ts → verdict.ts → answer.ts or forward.ts), upgrades (WebSocket) in upgrade.ts; the
 * proxy server's life in proxy-server.ts (with TLS, HTTP/2 and certificate reloads: tls.ts); /healthz,
 * /readyz and /metrics in admin.ts; how an index reaches the node in sync-client.ts, or from a file in
 * index-file.ts; what SIGHUP reloads in reload.ts.
 */
import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import type { DestinationStream, Logger } from 'pino'
import { createLogger } from '../lib/logger.js'
import { buildAdmin } from './admin.js'
import { nodeHashKeyOf, type NodeConfig } from './config.js'
import { compileBodyPlan } from './body-credentials.js'
import { checkPlaces, checkUpgrades, createCheckPath } from './check-mode.js'
import { compilePlan } from './credentials.js'
import { Forwarder } from './forward.js'
import { IndexFileReloader } from './index-file.js'
import type { LeakIndex } from './leakdb/index.js'
import { createNodeMetrics, type NodeCounters, type NodeMetrics } from './metrics.js'
import { createProxyServer, type ProxyServer } from './proxy-server.js'
import { configFileReloader, Reloads, type Reloader, type ReloadOutcome } from './reload.js'
import { createRequestPath } from './request-path.js'
import { routeTemplate, SightingBuffer, SightingSender } from './sightings.js'
import { SyncClient } from './sync-client.js'
import { createTls, type NodeTls } from './tls.js'
import { Upgrades } from './upgrade.js'
import { IndexHolder } from './verdict.js'
import { hashKeyId } from '../protocol/token-hash.js'
import { leakgateVersion } from '../lib/version.js'

export type { ProxyServer } from './proxy-server.js'
export type { Reloader, ReloadOutcome } from './reload.js'

/** What a node is built with besides its configuration. */
export interface NodeDeps {
  /** Enforce this index from the start, with no control plane (tests, `--index`). */
  index?: LeakIndex
  /** Where log lines go (tests capture them); stdout by default. */
  logStream?: DestinationStream
  /** The node's version, reported in heartbeats and `leakgate_build_info`; package.json's by default. */
  version?: string
  /** Reads the configuration again from its sources (`--config FILE`), for `reload`. */
  rereadConfig?: () => Readonly<NodeConfig>
  /**
   * A worker of a multi-process node (worker.ts): the index comes from this feed instead of a sync
   * client or the index file, and sightings leave through `sightingRelay` instead of a sender.
   */
  feed?: (parts: { holder: IndexHolder; logger: Logger }) => BackgroundPart & { readonly ready: Promise<void> }
  /** Takes the sightings out of the node's buffer (a worker's relay to its primary); with `feed`. */
  sightingRelay?: (buffer: SightingBuffer, counters: NodeCounters) => BackgroundPart
  /** Fields on every log line (a worker's id). */
  logFields?: Record<string, unknown>
}

/** Work a node starts once listening and stops once drained. */
export interface BackgroundPart {
  start(): void
  stop(): Promise<void>
}

/** A built node: two servers not yet listening, and the parts tests and server.ts look at. */
export interface LeakgateNode {
  /** The reverse proxy (listen on `config.port`); in check mode, the port answering checks. */
  readonly proxy: ProxyServer
  /** In proxy mode with `checkPort`: the port answering checks beside the proxy (check-mode.ts). */
  readonly checks: ProxyServer | undefined
  /** /metrics, /healthz, /readyz (listen on `config.adminPort`). */
  readonly admin: FastifyInstance
  readonly holder: IndexHolder
  readonly sightings: SightingBuffer
  readonly metrics: NodeMetrics
  /** The sync client, when the node follows a control plane (no `index` given). */
  readonly sync: SyncClient | undefined
  readonly logger: Logger
  /** What `reload` runs, in order (the index file, the config file); push one to reload more. */
  readonly reloaders: Reloader[]
  /** Reloads what can change without a restart (SIGHUP), logging each; never rejects, a failed part stays as it was. */
  reload(trigger?: string): Promise<ReloadOutcome[]>
  /** With `tlsCert` and `tlsKey`: `tls.reload()` re-reads the certificate pair (the files are also watched). */
  readonly tls: NodeTls | undefined
  /** Closes both apps (the proxy drains requests in flight), stops sync and sends what sightings it can. */
  close(): Promise<void>
}

/** Builds the node from a validated configuration. */
export function buildNode(config: Readonly<NodeConfig>, deps: NodeDeps = {}): LeakgateNode {
  // Paths are logged as route templates: some APIs take keys in the path (`/bot<token>/…`), which
  // no credential place covers, and a log must not keep them.
  const logger = createLogger(config.logLevel, 'leakgate-node', deps.logStream).child({ ...deps.logFields }, {
    serializers: { req: (req: { id?: unknown; method?: string; url?: string }) => ({ id: req.id, method: req.method, route: routeTemplate(req.url ?? '/') }) },
  })
  const hashKey = nodeHashKeyOf(config)
  const indexOptions = { cacheSize: config.cacheSize, falsePositiveRate: config.falsePositiveRate, ...(hashKey === undefined ? {} : { hashKey }) }
  // An index given up front is never synced: sync age stays -1, so an age alert cannot fire on an air-gapped node.
  const holder = new IndexHolder(deps.index)
  const version = deps.version ?? leakgateVersion()
  const metrics = createNodeMetrics(holder, version)
  const { counters } = metrics
  const feed = deps.feed?.({ holder, logger })
  const indexFile = config.index === undefined || feed !== undefined ? undefined : new IndexFileReloader({ path: config.index, indexOptions, holder, counters, logger })
  if (deps.index === undefined && indexFile !== undefined) {
    const index = indexFile.readNow()
    holder.swap(index)
    logger.info({ file: config.index, revision: index.revision, indexEntries: index.size }, 'enforcing the index file; no control plane')
  }
  const sightings = new SightingBuffer(config.sightingBufferSize, counters)
  const { controlPlane, nodeKey, nodeId } = config
  const followsControlPlane = holder.current === undefined && feed === undefined
  const sync = followsControlPlane
    ? new SyncClient({
        controlPlane, nodeKey, nodeId,
        ...(config.snapshotUrl === undefined ? {} : { snapshotUrl: config.snapshotUrl }),
        hashKeyId: hashKey === undefined ? undefined : hashKeyId(hashKey),
        version,
        cacheDir: config.cacheDir,
        waitSeconds: config.syncWaitSeconds,
        heartbeatMs: config.heartbeatMs,
        persistDebounceMs: config.persistDebounceMs,
        indexOptions, holder, counters, logger,
      })
    : undefined
  const sender = deps.sightingRelay !== undefined ? deps.sightingRelay(sightings, counters) : followsControlPlane
    ? new SightingSender({ buffer: sightings, controlPlane, nodeKey, nodeId, batchSize: config.sightingBatchSize, flushMs: config.sightingFlushMs, counters, logger })
    : undefined

  const tls = config.tlsCert === undefined || config.tlsKey === undefined
    ? undefined
    : createTls({ files: { cert: config.tlsCert, key: config.tlsKey }, maxHeaderSize: config.maxHeaderSize, keepAliveTimeoutMs: config.keepAliveTimeoutMs, counters, logger })
  // The proxy server owns the draining state the forwarder and the request path read; it stops the
  // forwarder (made just below) only on close.
  const follower = feed ?? sync
  const proxy = createProxyServer(config, {
    ready: follower?.ready,
    started() {
      follower?.start()
      sender?.start()
      indexFile?.watch()
    },
    closing() {
      indexFile?.close()
      upgrades?.closeAll()
      tls?.closeSessions()
    },
    async stopped() {
      tls?.close()
      await follower?.stop()
      await sender?.stop()
      await forwarder?.close()
    },
  }, tls?.server)
  // A server answering checks (check-mode.ts): the proxy's own in check mode, or one beside it on checkPort.
  const answerChecks = (server: ReturnType<typeof createProxyServer>): void => {
    const places = checkPlaces(config.credentialPlaces)
    const onCheck = createCheckPath({ config, plan: compilePlan(places, config), bodyPlan: compileBodyPlan(places, config), holder, sightings, metrics, logger, isDraining: server.isDraining })
    server.server.on('request', onCheck)
    server.server.on('upgrade', checkUpgrades(onCheck))
  }
  let checks: ReturnType<typeof createProxyServer> | undefined
  if (config.checkPort !== undefined) {
    // Sync and sightings are started and stopped by the proxy server's life; this one only waits for the cached index.
    checks = createProxyServer(config, { ready: follower?.ready, started() {}, async stopped() {} })
    answerChecks(checks)
  }
  const upstream = config.mode === 'proxy' ? config.upstream : undefined
  if (upstream === undefined) answerChecks(proxy)
  const forwarder = upstream === undefined ? undefined : new Forwarder({
    upstream,
    connections: config.upstreamConnections,
    timeoutMs: config.upstreamTimeoutMs,
    bodyLimit: config.bodyLimit,
    trustProxy: config.trustProxy,
    counters,
    upstreamSeconds: metrics.upstreamSeconds,
    logger,
    isDraining: proxy.isDraining,
  })
  const plan = compilePlan(config.credentialPlaces, config)
  const bodyPlan = compileBodyPlan(config.credentialPlaces, config)
  let upgrades: Upgrades | undefined
  if (upstream !== undefined && forwarder !== undefined) {
    const path = createRequestPath({ config, plan, bodyPlan, holder, forwarder, sightings, metrics, logger, isDraining: proxy.isDraining })
    // With TLS, an HTTP/2 request comes as node:http2's compatibility request and response, which the
    // request path reads as node:http's (forward.ts and answer.ts mind the few differences).
    const server = proxy.server as Server
    server.on('request', path.onRequest)
    // Without an `upgrade` listener node:http would treat an upgrade as a plain request and then stop
    // reading the connection, which hung until the keep-alive timeout.
    const tunnels = new Upgrades({ upstream, timeoutMs: config.upstreamTimeoutMs, trustProxy: config.trustProxy, counters, logger, check: path.check })
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => tunnels.handle(req, socket, head))
    upgrades = tunnels
  }

  const admin = buildAdmin(logger, metrics, holder, proxy.isDraining)

  const reloads = new Reloads(logger)
  if (indexFile !== undefined) reloads.list.push({ name: 'index file', reload: async () => ({ ...(await indexFile.reload()) }) })
  if (deps.rereadConfig !== undefined) reloads.list.push(configFileReloader(config, deps.rereadConfig, logger))
  if (tls !== undefined) {
    reloads.list.push({
      name: 'TLS files',
      async reload() {
        if (!tls.reload()) throw new Error('the new certificate pair is refused; the pair in force stays')
        return { cert: config.tlsCert }
      },
    })
  }

  return {
    proxy, checks, admin, holder, sightings, metrics, sync, logger, tls,
    reloaders: reloads.list,
    reload: (trigger = 'reload') => reloads.run(trigger),
    async close() {
      // The admin port outlives the drain: /healthz stays 200 and /readyz answers 503 until the proxies are done.
      try {
        await Promise.all([proxy.close(), checks?.close()])
      } finally {
        await admin.close()
      }
    },
  }
}
