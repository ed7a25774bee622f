/**
 * The edge node: a reverse proxy that checks every request's credentials against the leak index
 * (DESIGN.md "What the node does to a request"), and its admin app (/metrics, /healthz, /readyz).
 *
 * `buildNode` makes both servers without listening, so tests can start them on port 0 and
 * server.ts owns the sockets and signals.
 *
 * The proxy port is node:http with no framework: the request listener checks the credentials (`gate`),
 * answers what it refuses, and hands the rest to the forwarder (forward.ts says why it is not
 * @fastify/http-proxy, with the figures). A blocked request never reaches the upstream. The admin port
 * is a fastify app.
 */
import { readFileSync } from 'node:fs'
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { performance } from 'node:perf_hooks'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { DestinationStream, Logger } from 'pino'
import { createLogger } from '../lib/logger.js'
import type { NodeConfig } from './config.js'
import { compilePlan } from './credentials.js'
import { BadRequestError, BodyTooLargeError, CredentialTooLongError, InternalError, LeakedCredentialError, MethodNotForwardedError, NoIndexError, ShuttingDownError, TooManyCredentialsError, problemBody, writeProblem } from './errors.js'
import { badTarget, FORWARDED_METHODS, Forwarder, hasUnreadBody } from './forward.js'
import { LeakIndex } from './leakdb/index.js'
import { sha256Hex } from '../protocol/token-hash.js'
import { createNodeMetrics, type NodeMetrics } from './metrics.js'
import { routeTemplate, SightingBuffer, SightingSender } from './sightings.js'
import { SyncClient } from './sync-client.js'
import { IndexHolder, judge, type Verdict } from './verdict.js'

/** What a node is built with besides its configuration. */
export interface NodeDeps {
  /** Enforce this index from the start, with no control plane (tests, `--index`). */
  index?: LeakIndex
  /** Where log lines go (tests capture them); stdout by default. */
  logStream?: DestinationStream
  /** The node's version, reported in heartbeats. */
  version?: string
}

/** The proxy port's server, with the few methods callers use (named as fastify names them). */
export interface ProxyServer {
  readonly server: Server
  /** Loads the cached index (if any), then listens, starts sync and sighting delivery, and resolves to the proxy's base URL. */
  listen(options: { port: number; host: string }): Promise<string>
  /** The address listened on (empty before `listen`). */
  addresses(): AddressInfo[]
  /** Stops accepting, drains requests in flight, then stops sync and closes the upstream pool. */
  close(): Promise<void>
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

const PROBLEM = 'application/problem+json'

/** Builds the node from a validated configuration. */
export function buildNode(config: Readonly<NodeConfig>, deps: NodeDeps = {}): LeakgateNode {
  // Paths are logged as route templates: some APIs take keys in the path (`/bot<token>/…`), which
  // no credential place covers, and a log must not keep them.
  const logger = createLogger(config.logLevel, 'leakgate-node', deps.logStream).child({}, {
    serializers: { req: (req: { id?: unknown; method?: string; url?: string }) => ({ id: req.id, method: req.method, route: routeTemplate(req.url ?? '/') }) },
  })
  const indexOptions = { cacheSize: config.cacheSize, falsePositiveRate: config.falsePositiveRate }
  const initial = deps.index ?? (config.index === undefined ? undefined : loadIndexFile(config.index, indexOptions, logger))
  // An index given up front is never synced: sync age stays -1, so an age alert cannot fire on an air-gapped node.
  const holder = new IndexHolder(initial)
  const metrics = createNodeMetrics(holder)
  const { counters, checkSeconds } = metrics
  const sightings = new SightingBuffer(config.sightingBufferSize, counters)
  const followsControlPlane = initial === undefined
  const sync = followsControlPlane
    ? new SyncClient({
        controlPlane: config.controlPlane,
        nodeKey: config.nodeKey,
        nodeId: config.nodeId,
        version: deps.version ?? '0.0.0',
        cacheDir: config.cacheDir,
        waitSeconds: config.syncWaitSeconds,
        heartbeatMs: config.heartbeatMs,
        persistDebounceMs: config.persistDebounceMs,
        indexOptions,
        holder,
        counters,
        logger,
      })
    : undefined
  const sender = followsControlPlane
    ? new SightingSender({
        buffer: sightings,
        controlPlane: config.controlPlane,
        nodeKey: config.nodeKey,
        nodeId: config.nodeId,
        batchSize: config.sightingBatchSize,
        flushMs: config.sightingFlushMs,
        counters,
        logger,
      })
    : undefined

  const plan = compilePlan(config.credentialPlaces, config)
  const verbose = config.logLevel === 'debug' || config.logLevel === 'trace'

  const forwarder = new Forwarder({
    upstream: config.upstream,
    connections: config.upstreamConnections,
    timeoutMs: config.upstreamTimeoutMs,
    bodyLimit: config.bodyLimit,
    trustProxy: config.trustProxy,
    counters,
    logger,
  })
  let draining = false

  const server = createServer({ maxHeaderSize: config.maxHeaderSize }, (req, res) => {
    if (draining) {
      // Requests that reach a draining node (on a connection kept alive) go elsewhere; the
      // connection ends with the answer so the server can close.
      const e = new ShuttingDownError()
      writeProblem(res, 503, e.code, e.message, { close: true })
      return
    }
    if (verbose) logCompletion(req, res)
    const monitorIds = gate(req, res)
    if (monitorIds === false) return
    const url = req.url ?? '/'
    const method = req.method ?? ''
    if (!FORWARDED_METHODS.has(method)) {
      const e = new MethodNotForwardedError(method.slice(0, 20))
      writeProblem(res, 405, e.code, e.message, { close: hasUnreadBody(req) })
      return
    }
    const bad = badTarget(url)
    if (bad !== undefined) {
      const e = new BadRequestError()
      writeProblem(res, 400, e.code, `${e.message}: ${bad}`, { close: hasUnreadBody(req) })
      return
    }
    forwarder.forward(req, res, monitorIds)
  })
  server.keepAliveTimeout = config.keepAliveTimeoutMs
  server.requestTimeout = config.requestTimeoutMs
  server.maxConnections = config.maxConnections
  server.on('clientError', answerClientError)

  /** Debug and trace levels log every request, by route template (no query, no path credential). */
  function logCompletion(req: IncomingMessage, res: ServerResponse): void {
    const t0 = performance.now()
    res.once('close', () => {
      logger.debug({ method: req.method, route: routeTemplate(req.url ?? '/'), status: res.statusCode, finished: res.writableFinished, ms: Math.round((performance.now() - t0) * 1000) / 1000 }, 'request completed')
    })
  }

  /** Answers a problem for what the gate refuses; the request goes no further. */
  function refuse(req: IncomingMessage, res: ServerResponse, status: number, code: string, detail: string, extra?: Record<string, unknown>, headers?: Record<string, string>): false {
    writeProblem(res, status, code, detail, { ...(extra === undefined ? {} : { extra }), ...(headers === undefined ? {} : { headers }), close: hasUnreadBody(req) })
    return false
  }

  function clientAddress(req: IncomingMessage): string {
    const socket = req.socket.remoteAddress ?? ''
    if (!config.trustProxy) return socket
    const xff = req.headers['x-forwarded-for']
    const first = typeof xff === 'string' ? xff.split(',')[0]?.trim() : undefined
    return first === undefined || first === '' ? socket : first.slice(0, 64)
  }

  function record(verdict: Verdict, req: IncomingMessage, url: string): void {
    const at = new Date().toISOString()
    const host = String(req.headers.host ?? '').slice(0, 255)
    const route = routeTemplate(url)
    const client = clientAddress(req)
    const method = req.method ?? 'GET'
    const kind = verdict.kind === 'block' ? 'block' : 'monitor'
    for (const hit of verdict.hits) {
      sightings.push({ leakId: hit.entry.leakId, sha256: sha256Hex(hit.credential), at, host, method, route, client, verdict: kind })
    }
  }

  /**
   * Judges a request before anything is forwarded. Returns false when it has answered the request
   * itself, otherwise the `Leakgate-Leak-Id` value to add ('' for a clean request).
   */
  function gate(req: IncomingMessage, res: ServerResponse): string | false {
    try {
      const url = req.url ?? '/'
      const cl = req.headers['content-length']
      if (cl !== undefined && Number(cl) > config.bodyLimit) {
        const e = new BodyTooLargeError(config.bodyLimit)
        return refuse(req, res, 413, e.code, e.message)
      }
      const t0 = performance.now()
      const verdict = judge(plan, holder, req.headers, url)
      if (verdict.checked > 0) checkSeconds.observe((performance.now() - t0) / 1000)
      switch (verdict.kind) {
        case 'pass':
          counters.pass++
          return ''
        case 'no-index': {
          if (config.noIndex === 'open') {
            counters.pass++
            return ''
          }
          const e = new NoIndexError()
          return refuse(req, res, 503, e.code, e.message)
        }
        case 'too-many': {
          const e = new TooManyCredentialsError(config.maxCredentials)
          return refuse(req, res, 400, e.code, e.message)
        }
        case 'too-long': {
          const e = new CredentialTooLongError(config.maxCredentialLength)
          return refuse(req, res, 400, e.code, e.message)
        }
        case 'block': {
          counters.block++
          record(verdict, req, url)
          logger.warn({ leakId: verdict.leakId, method: req.method, route: routeTemplate(url) }, 'blocked a request carrying a leaked credential')
          const e = new LeakedCredentialError(verdict.leakId)
          return refuse(req, res, 403, e.code, e.message, { leakId: verdict.leakId }, { 'leakgate-leak-id': String(verdict.leakId) })
        }
        case 'monitor':
          counters.monitor++
          record(verdict, req, url)
          return verdict.monitorIds
      }
    } catch (err) {
      // A bug here must not take the process down, nor let the request through unchecked.
      logger.error({ err: { message: (err as Error).message } }, 'credential check failed')
      const e = new InternalError()
      return refuse(req, res, 500, e.code, e.message)
    }
  }

  let closed: Promise<void> | undefined
  const proxy: ProxyServer = {
    server,
    async listen({ port, host }) {
      // The cached index must be in force before the first request: until then the node would judge
      // as if it had no index (noIndex: open forwards), letting leaked credentials through on a restart.
      await sync?.ready
      // Closed while the cache loaded: listening now would leave a server nobody closes.
      if (draining) throw new ShuttingDownError()
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(port, host, () => {
          server.off('error', reject)
          resolve()
        })
      })
      sync?.start()
      sender?.start()
      const a = server.address() as AddressInfo
      return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`
    },
    addresses() {
      const a = server.address()
      return a === null || typeof a === 'string' ? [] : [a]
    },
    close() {
      closed ??= (async () => {
        draining = true
        forwarder.draining = true
        if (server.listening) {
          const done = new Promise<void>((resolve) => server.close(() => resolve()))
          server.closeIdleConnections()
          await done
        }
        await sync?.stop()
        await sender?.stop()
        await forwarder.close()
      })()
      return closed
    },
  }

  const admin = buildAdmin(logger, metrics, holder)

  return {
    proxy,
    admin,
    holder,
    sightings,
    metrics,
    sync,
    logger,
    async close() {
      await Promise.all([proxy.close(), admin.close()])
    },
  }
}

/** A request node:http could not parse: a problem+json answer, then the connection ends. */
function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  const sent = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true
  if (err.code === 'ECONNRESET' || !socket.writable || sent) {
    socket.destroy()
    return
  }
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400
  const e = new BadRequestError()
  const body = problemBody(status, e.code, status === 431 ? 'the request head is larger than the node accepts' : status === 408 ? 'the request took too long to arrive' : `${e.message}: malformed HTTP`)
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: application/problem+json\r\ncache-control: no-store\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
}

function buildAdmin(logger: Logger, metrics: NodeMetrics, holder: IndexHolder): FastifyInstance {
  const admin = Fastify({ loggerInstance: logger as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }), forceCloseConnections: true })
  admin.get('/healthz', async () => ({ status: 'ok' }))
  admin.get('/readyz', async (_request, reply) => {
    const index = holder.current
    if (index === undefined) {
      const e = new NoIndexError()
      return reply.code(503).type(PROBLEM).send(problemBody(503, e.code, 'no leak index loaded yet: waiting for the control plane or the cache'))
    }
    return { status: 'ready', revision: index.revision, indexEntries: index.size }
  })
  admin.get('/metrics', async (_request, reply) => {
    const text = await metrics.registry.metrics()
    return reply.type(metrics.registry.contentType).send(text)
  })
  return admin
}

function loadIndexFile(path: string, options: { cacheSize: number; falsePositiveRate: number }, logger: Logger): LeakIndex {
  const index = LeakIndex.fromSnapshot(readFileSync(path), options)
  logger.info({ file: path, revision: index.revision, indexEntries: index.size }, 'enforcing the index file; no control plane')
  return index
}
