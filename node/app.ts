/**
 * The edge node: a reverse proxy that checks every request's credentials against the leak index
 * (DESIGN.md "What the node does to a request"), and its admin app (/metrics, /healthz, /readyz).
 *
 * `buildNode` makes both fastify instances without listening, so tests can start them on port 0
 * and server.ts owns the sockets and signals.
 *
 * The check runs in an `onRequest` hook, before fastify parses anything or the proxy does any work:
 * a blocked request never reaches the upstream, and a clean one pays for a header scan and a lookup.
 */
import { readFileSync } from 'node:fs'
import { Transform, type TransformCallback } from 'node:stream'
import { performance } from 'node:perf_hooks'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify'
import httpProxy from '@fastify/http-proxy'
import type { DestinationStream, Logger } from 'pino'
import { createLogger } from '../lib/logger.js'
import type { NodeConfig } from './config.js'
import { compilePlan } from './credentials.js'
import { BadRequestError, BodyTooLargeError, CredentialTooLongError, InternalError, LeakedCredentialError, NoIndexError, TooManyCredentialsError, problemBody } from './errors.js'
import { LeakIndex } from './leakdb/index.js'
import { sha256Hex } from './leakdb/hash.js'
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

/** A built node: two apps not yet listening, and the parts tests and server.ts look at. */
export interface LeakgateNode {
  /** The reverse proxy (listen on `config.port`). */
  readonly proxy: FastifyInstance
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

declare module 'fastify' {
  interface FastifyRequest {
    /** `Leakgate-Leak-Id` for a monitored request, '' otherwise. */
    leakgateMonitor: string
  }
}

const PROBLEM = 'application/problem+json'

/** The part of a fastify reply that answers a problem (any server type). */
interface ProblemReply {
  code(status: number): ProblemReply
  header(name: string, value: string): ProblemReply
  send(payload: string): unknown
}

/** Builds the node from a validated configuration. */
export function buildNode(config: Readonly<NodeConfig>, deps: NodeDeps = {}): LeakgateNode {
  // Paths are logged as route templates: some APIs take keys in the path (`/bot<token>/…`), which
  // no credential place covers, and a log must not keep them.
  const logger = createLogger(config.logLevel, 'leakgate-node', deps.logStream).child({}, {
    serializers: { req: (req: { id?: unknown; method?: string; url?: string }) => ({ id: req.id, method: req.method, route: routeTemplate(req.url ?? '/') }) },
  })
  const indexOptions = { cacheSize: config.cacheSize, falsePositiveRate: config.falsePositiveRate }
  const initial = deps.index ?? (config.index === undefined ? undefined : loadIndexFile(config.index, indexOptions, logger))
  const holder = new IndexHolder(initial)
  if (initial !== undefined) holder.lastSyncAt = Date.now()
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

  const proxy = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: !verbose }),
    // A per-request child logger (for its reqId) costs an allocation on every request; below debug
    // the proxy logs only blocks and failures, which say enough without it.
    ...(verbose ? {} : { childLoggerFactory: (parent: FastifyBaseLogger) => parent }),
    bodyLimit: config.bodyLimit,
    trustProxy: config.trustProxy,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    http: { maxHeaderSize: config.maxHeaderSize },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  })
  proxy.server.maxConnections = config.maxConnections
  proxy.decorateRequest('leakgateMonitor', '')

  function answer(reply: ProblemReply, status: number, code: string, detail: string, extra?: Record<string, unknown>): void {
    reply.code(status).header('content-type', PROBLEM).header('cache-control', 'no-store').send(problemBody(status, code, detail, extra))
  }

  function record(verdict: Verdict, request: FastifyRequest): void {
    const raw = request.raw
    const at = new Date().toISOString()
    const host = String(raw.headers.host ?? '').slice(0, 255)
    const route = routeTemplate(raw.url ?? '/')
    const client = request.ip ?? ''
    const kind = verdict.kind === 'block' ? 'block' : 'monitor'
    for (const hit of verdict.hits) {
      sightings.push({ leakId: hit.entry.leakId, sha256: sha256Hex(hit.credential), at, host, method: raw.method ?? 'GET', route, client, verdict: kind })
    }
  }

  proxy.addHook('onRequest', (request, reply, done) => {
    const raw = request.raw
    const url = raw.url ?? '/'
    const cl = raw.headers['content-length']
    if (cl !== undefined && Number(cl) > config.bodyLimit) {
      const e = new BodyTooLargeError(config.bodyLimit)
      answer(reply, 413, e.code, e.message)
      return
    }
    const t0 = performance.now()
    const verdict = judge(plan, holder, raw.headers, url)
    if (verdict.checked > 0) checkSeconds.observe((performance.now() - t0) / 1000)
    switch (verdict.kind) {
      case 'pass':
        counters.pass++
        done()
        return
      case 'no-index':
        if (config.noIndex === 'closed') {
          const e = new NoIndexError()
          answer(reply, 503, e.code, e.message)
          return
        }
        counters.pass++
        done()
        return
      case 'too-many': {
        const e = new TooManyCredentialsError(config.maxCredentials)
        answer(reply, 400, e.code, e.message)
        return
      }
      case 'too-long': {
        const e = new CredentialTooLongError(config.maxCredentialLength)
        answer(reply, 400, e.code, e.message)
        return
      }
      case 'block': {
        counters.block++
        record(verdict, request)
        const e = new LeakedCredentialError(verdict.leakId)
        request.log.warn({ leakId: verdict.leakId, method: raw.method, route: routeTemplate(url) }, 'blocked a request carrying a leaked credential')
        void reply.header('leakgate-leak-id', String(verdict.leakId))
        answer(reply, 403, e.code, e.message, { leakId: verdict.leakId })
        return
      }
      case 'monitor':
        counters.monitor++
        record(verdict, request)
        request.leakgateMonitor = verdict.monitorIds
        done()
        return
    }
  })

  proxy.setErrorHandler((err: { statusCode?: number; code?: string; message?: string }, request, reply) => {
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500
    if (status >= 500) {
      request.log.error({ err: { code: err.code, message: err.message } }, 'request failed')
      const e = new InternalError()
      answer(reply, status, e.code, e.message)
      return
    }
    // Our own codes keep their message; a library's 4xx (fastify, http-proxy) becomes a bad request.
    const ours = err.code?.startsWith('LEAKGATE_ERR_') === true
    answer(reply, status, ours ? (err.code as string) : new BadRequestError().code, ours ? err.message ?? '' : `the request cannot be forwarded as sent: ${err.message ?? 'malformed'}`)
  })

  void proxy.register(async (ctx) => {
    // Bodies are streamed to the upstream untouched; only their size is watched.
    ctx.removeAllContentTypeParsers()
    ctx.addContentTypeParser('*', (request, payload, done) => {
      // With a Content-Length, node's parser already holds the body to it and onRequest checked the size.
      done(null, request.headers['content-length'] === undefined ? payload.pipe(new ByteLimit(config.bodyLimit)) : payload)
    })
    await ctx.register(httpProxy, {
      upstream: config.upstream,
      proxyPayloads: false,
      // fastify's own request lines (verbose levels) say enough; reply-from's would repeat the raw path
      disableRequestLogging: true,
      undici: {
        connections: config.upstreamConnections,
        pipelining: 1,
        keepAliveTimeout: 60_000,
        headersTimeout: config.upstreamTimeoutMs,
        bodyTimeout: config.upstreamTimeoutMs,
      },
      replyOptions: {
        // The query goes to the upstream byte for byte, not re-encoded.
        queryString: (_search: unknown, reqUrl: string) => {
          const q = reqUrl.indexOf('?')
          return q === -1 ? '' : reqUrl.slice(q + 1)
        },
        rewriteRequestHeaders: (request, headers) => {
          for (const name in headers) {
            // Only the node speaks Leakgate-*: a client's own would pass for the node's verdict.
            if (name.charCodeAt(0) === 108 && name.startsWith('leakgate-')) headers[name] = undefined
          }
          const monitor = request.leakgateMonitor
          if (monitor !== '') {
            headers['leakgate-leak-id'] = monitor
            headers['leakgate-verdict'] = 'monitor'
          }
          const raw = request.raw
          const client = raw.socket.remoteAddress ?? ''
          const xff = raw.headers['x-forwarded-for']
          headers['x-forwarded-for'] = xff === undefined || xff === '' ? client : `${String(xff)}, ${client}`
          headers['x-forwarded-proto'] = request.protocol
          if (raw.headers.host !== undefined) headers['x-forwarded-host'] = raw.headers.host
          return headers
        },
        onError: (reply, { error }) => {
          const e = error as { statusCode?: number; code?: string; cause?: { code?: string } }
          if (e.cause?.code === 'LEAKGATE_ERR_BODY_TOO_LARGE' || e.code === 'LEAKGATE_ERR_BODY_TOO_LARGE') {
            const tooLarge = new BodyTooLargeError(config.bodyLimit)
            answer(reply, 413, tooLarge.code, tooLarge.message)
            return
          }
          counters.upstreamErrors++
          const timeout = e.statusCode === 504
          reply.log.warn({ err: { code: e.code, cause: e.cause?.code } }, 'upstream failed')
          answer(reply, timeout ? 504 : 502, timeout ? 'LEAKGATE_ERR_UPSTREAM_TIMEOUT' : 'LEAKGATE_ERR_UPSTREAM', timeout ? 'the upstream did not answer in time' : 'the upstream could not be reached or broke the connection')
        },
      },
    })
  })

  if (sync !== undefined || sender !== undefined) {
    proxy.addHook('onReady', async () => {
      sync?.start()
      sender?.start()
    })
  }
  proxy.addHook('onClose', async () => {
    await sync?.stop()
    await sender?.stop()
  })

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

/** Counts a chunked body through and fails it past the limit (a Content-Length body is checked up front). */
class ByteLimit extends Transform {
  #left: number
  constructor(limit: number) {
    super()
    this.#left = limit
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#left -= chunk.length
    if (this.#left < 0) cb(new BodyTooLargeError(0))
    else cb(null, chunk)
  }
}
