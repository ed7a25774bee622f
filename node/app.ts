/**
 * The edge node: a reverse proxy that checks every request's credentials against the leak index
 * (DESIGN.md "What the node does to a request"), and its admin app (/metrics, /healthz, /readyz).
 *
 * `buildNode` makes both fastify instances without listening, so tests can start them on port 0
 * and server.ts owns the sockets and signals.
 *
 * The check runs in the HTTP server's request listener, before fastify or the proxy does any work on
 * the request (`gate`): a blocked request never reaches fastify or the upstream, and a clean one pays
 * for a header scan and a lookup only, with no fastify hook on its path (bench/RESULTS.md "Proxy").
 */
import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { Transform, type TransformCallback } from 'node:stream'
import { performance } from 'node:perf_hooks'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import httpProxy from '@fastify/http-proxy'
import type { DestinationStream, Logger } from 'pino'
import { createLogger } from '../lib/logger.js'
import type { NodeConfig } from './config.js'
import { compilePlan } from './credentials.js'
import { BadRequestError, BodyTooLargeError, CredentialTooLongError, InternalError, LeakedCredentialError, MethodNotForwardedError, NoIndexError, TooManyCredentialsError, UpstreamError, UpstreamTimeoutError, problemBody } from './errors.js'
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

// The monitor verdict travels from the gate to the header rewrite on the raw request.
const kMonitor = Symbol('leakgate.monitor')
type GatedRequest = IncomingMessage & { [kMonitor]?: string }

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

  const proxy = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: !verbose }),
    // A per-request child logger (for its reqId) costs an allocation on every request; below debug
    // the proxy logs only blocks and failures, which say enough without it.
    ...(verbose ? {} : { childLoggerFactory: (parent: FastifyBaseLogger) => parent }),
    bodyLimit: config.bodyLimit,
    trustProxy: config.trustProxy,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    serverFactory: (handler) => {
      const server = createServer({ maxHeaderSize: config.maxHeaderSize }, (req, res) => {
        if (gate(req, res)) handler(req, res)
      })
      server.keepAliveTimeout = config.keepAliveTimeoutMs
      server.requestTimeout = config.requestTimeoutMs
      server.maxConnections = config.maxConnections
      return server
    },
  })

  function answer(reply: ProblemReply, status: number, code: string, detail: string, extra?: Record<string, unknown>): void {
    reply.code(status).header('content-type', PROBLEM).header('cache-control', 'no-store').send(problemBody(status, code, detail, extra))
  }

  /** Answers a problem straight on the socket, for what the gate refuses before fastify sees it. */
  function refuse(res: ServerResponse, status: number, code: string, detail: string, extra?: Record<string, unknown>, headers?: Record<string, string>): false {
    const body = problemBody(status, code, detail, extra)
    res.writeHead(status, { 'content-type': PROBLEM, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body), ...headers })
    res.end(body)
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

  /** Judges a request before fastify sees it; true: hand it on to fastify (and the proxy). */
  function gate(req: IncomingMessage, res: ServerResponse): boolean {
    try {
      const url = req.url ?? '/'
      const cl = req.headers['content-length']
      if (cl !== undefined && Number(cl) > config.bodyLimit) {
        const e = new BodyTooLargeError(config.bodyLimit)
        return refuse(res, 413, e.code, e.message)
      }
      const t0 = performance.now()
      const verdict = judge(plan, holder, req.headers, url)
      if (verdict.checked > 0) checkSeconds.observe((performance.now() - t0) / 1000)
      switch (verdict.kind) {
        case 'pass':
          counters.pass++
          return true
        case 'no-index': {
          if (config.noIndex === 'open') {
            counters.pass++
            return true
          }
          const e = new NoIndexError()
          return refuse(res, 503, e.code, e.message)
        }
        case 'too-many': {
          const e = new TooManyCredentialsError(config.maxCredentials)
          return refuse(res, 400, e.code, e.message)
        }
        case 'too-long': {
          const e = new CredentialTooLongError(config.maxCredentialLength)
          return refuse(res, 400, e.code, e.message)
        }
        case 'block': {
          counters.block++
          record(verdict, req, url)
          logger.warn({ leakId: verdict.leakId, method: req.method, route: routeTemplate(url) }, 'blocked a request carrying a leaked credential')
          const e = new LeakedCredentialError(verdict.leakId)
          return refuse(res, 403, e.code, e.message, { leakId: verdict.leakId }, { 'leakgate-leak-id': String(verdict.leakId) })
        }
        case 'monitor':
          counters.monitor++
          record(verdict, req, url)
          ;(req as GatedRequest)[kMonitor] = verdict.monitorIds
          return true
      }
    } catch (err) {
      // A bug here must not take the process down, nor let the request through unchecked.
      logger.error({ err: { message: (err as Error).message } }, 'credential check failed')
      const e = new InternalError()
      return refuse(res, 500, e.code, e.message)
    }
  }

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

  // Every path is proxied, so only a method http-proxy does not route ends here.
  proxy.setNotFoundHandler((request, reply) => {
    const e = new MethodNotForwardedError(request.method.slice(0, 20))
    answer(reply, 405, e.code, e.message)
  })

  void proxy.register(async (ctx) => {
    // Bodies are streamed to the upstream untouched; only their size is watched.
    ctx.removeAllContentTypeParsers()
    ctx.addContentTypeParser('*', (request, payload, done) => {
      // With a Content-Length, node's parser already holds the body to it and the gate checked the size.
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
      // http-proxy would parse and re-encode the query (and key its URL cache on it); the query is
      // passed on raw below instead, so it sees the path alone: less work, and more cache hits.
      preRewrite: (url: string) => {
        const q = url.indexOf('?')
        return q === -1 ? url : url.slice(0, q)
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
          const monitor = (request.raw as GatedRequest)[kMonitor]
          if (monitor !== undefined) {
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
          reply.log.warn({ err: { code: e.code, cause: e.cause?.code } }, 'upstream failed')
          const failed = e.statusCode === 504 ? new UpstreamTimeoutError() : new UpstreamError()
          answer(reply, failed.statusCode, failed.code, failed.message)
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
