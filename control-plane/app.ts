/**
 * `buildControlPlane(config, deps)`: the control plane as a fastify instance, not listening, so tests
 * drive it with `app.inject()` and `server.ts` adds only `listen` and signals.
 */
import { join } from 'node:path'
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { loggerOptions } from '../lib/logger.js'
import { installAuth } from './auth.js'
import { hashKeyOf, type ControlPlaneConfig } from './config.js'
import consolePlugin from './console/plugin.js'
import type { RouteContext } from './context.js'
import type { ListOptions } from './store/leak-list.js'
import { NotFoundError } from '../lib/errors.js'
import { problemOf, problemSchema } from '../lib/problem.js'
import { errorHandler, sendProblem } from './errors.js'
import { createMetrics, registerScanJobMetrics } from './metrics.js'
import { RiskSchedule } from './risk-schedule.js'
import { ScanQueue } from './scan-jobs.js'
import { ScanJobRunner } from './scan-job-runner.js'
import { createScanWorkerMetrics, type HeartbeatResult } from './scan-worker-metrics.js'
import auditRoutes from './routes/audit.js'
import healthRoutes from './routes/health.js'
import keyRoutes from './routes/keys.js'
import sessionRoutes from './routes/sessions.js'
import leakRoutes from './routes/leaks.js'
import meRoutes from './routes/me.js'
import metaRoutes from './routes/meta.js'
import oidcRoutes from './routes/oidc.js'
import publicSourceRoutes from './routes/public-sources.js'
import rangeRoutes from './routes/range.js'
import nodeRoutes from './routes/nodes.js'
import scanRoutes from './routes/scans.js'
import sightingRoutes from './routes/sightings.js'
import statsRoutes from './routes/stats.js'
import syncRoutes from './routes/sync.js'
import webhookRoutes from './routes/webhooks.js'
import eventRoutes, { type EventStreamOptions } from './routes/events.js'
import { API_CSP } from './http-headers.js'
import { githubAccessFromEnv, gitlabAccessFromEnv, ScanService, type ScanServiceOptions, type ScheduleTiming } from './scans.js'
import { SESSION_PREFIX } from './store/sessions.js'
import { Store } from './store/store.js'
import { SyncService } from './sync.js'
import { formatSchemaErrors, validatorCompiler } from './validation.js'
import { WebhookService } from './webhooks.js'

/** The CSP of API answers (JSON, problems, metrics): nothing to run, nothing to frame. */

/** The CSP of `/docs` (Swagger UI): its scripts and the OpenAPI document from this origin; never framed. */
const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

/** True when `host` is a loopback address or name: listening there needs no TLS in front. */
function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '')
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || h === '::ffff:127.0.0.1'
}

/** What the app is built with besides its configuration. */
export interface ControlPlaneDeps {
  /** An open store; by default one is opened in `config.dataDir` and closed with the app. */
  store?: Store
  /** fastify's `logger` option; by default pino with Leakgate's redaction at `config.logLevel`. */
  logger?: FastifyServerOptions['logger']
  /** A logger of the caller's (tests capture lines with it); wins over `logger`. */
  loggerInstance?: FastifyBaseLogger
  /** Options of the scans service (where repositories are mirrored, GitHub access) and the schedule's timing. */
  scans?: Partial<Pick<ScanServiceOptions, 'cacheDir' | 'github' | 'gitlab'>> & { schedule?: ScheduleTiming }
  /** The scheduled risk recompute's clock (tests move time with it) and batch size. */
  risk?: { clock?: () => Date; batchSize?: number }
  /** The console's live event stream: poll interval, keep-alive and how long a stream lasts (tests shorten them). */
  eventStream?: Partial<EventStreamOptions>
  /** The leak list's bounds (tests narrow the count of a search's total). */
  leakList?: ListOptions
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The control plane's store, sync service and metrics. */
    leakgate: RouteContext
    /** The timer that keeps risk current (`riskRecomputeSeconds`); `runNow()` makes a run due now. */
    riskSchedule: RiskSchedule
  }
}

/** Builds the control plane (routes, auth, OpenAPI, console). Call `ready()` or `listen()` on it. */
export async function buildControlPlane(config: Readonly<ControlPlaneConfig>, deps: ControlPlaneDeps = {}): Promise<FastifyInstance> {
  const ownsStore = deps.store === undefined
  const store = deps.store ?? await Store.openConfigured(config, {
    defaultAction: config.defaultAction,
    autoBlockRisk: config.autoBlockRisk,
    sightingsKeptPerLeak: config.limits.sightingsKeptPerLeak,
    changesRetention: config.changesRetention,
    hashKey: { key: hashKeyOf(config) },
    sightedEventSeconds: config.webhooks.sightedIntervalSeconds,
  })
  const sync = new SyncService(store, {
    maxWaitSeconds: config.longPollMaxWaitSeconds,
    changesPerResponse: config.limits.changesPerResponse,
  })
  const metrics = createMetrics(store, sync, config.nodeStaleSeconds)
  const ctx: RouteContext = { config, store, sync, metrics, leakList: deps.leakList ?? {} }

  const app = Fastify({
    ...(deps.loggerInstance === undefined
      ? { logger: deps.logger ?? loggerOptions(config.logLevel, 'leakgate-control-plane') }
      : { loggerInstance: deps.loggerInstance }),
    bodyLimit: config.bodyLimit,
    // Receiving a request (headers and body) is bounded, so a client trickling bytes is cut off. A
    // long-poll's wait is not part of it: Node stops the clock once the request is received, and no
    // idle-socket timeout (connectionTimeout) is set, since a held long-poll sends nothing for 30 s.
    requestTimeout: config.requestTimeoutSeconds * 1000,
    http: {
      requestTimeout: config.requestTimeoutSeconds * 1000,
      headersTimeout: Math.min(config.headersTimeoutSeconds, config.requestTimeoutSeconds) * 1000,
      // How often Node checks those timeouts (its default, 30 s, would let them run late by as much).
      connectionsCheckingInterval: 1000,
    },
    keepAliveTimeout: 35_000,
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: true },
    schemaErrorFormatter: formatSchemaErrors,
  })
  app.decorate('leakgate', ctx)
  const riskSchedule = new RiskSchedule(store, {
    intervalSeconds: config.riskRecomputeSeconds,
    ...(deps.risk?.clock === undefined ? {} : { clock: deps.risk.clock }),
    ...(deps.risk?.batchSize === undefined ? {} : { batchSize: deps.risk.batchSize }),
    onRun: (run) => {
      metrics.riskRecomputes.inc({ result: 'ok' })
      metrics.riskLevelChanges.inc(run.changed)
      app.log.info({ scanned: run.scanned, updated: run.updated, changed: run.changed, batches: run.batches }, 'risk recomputed')
    },
    onError: (err) => {
      metrics.riskRecomputes.inc({ result: 'failed' })
      app.log.error({ err: { message: err.message } }, 'recomputing risk failed')
    },
  })
  app.decorate('riskSchedule', riskSchedule)
  const converted = store.hashKeyConversion
  if (converted !== undefined) {
    app.log.warn({ hashKeyId: store.hashes.keyId, converted }, 'hash key set: every token hash in the store was converted to its keyed hash, once (the store now needs this key to start)')
  }
  // Connections past the cap are closed as they arrive, before any request is read.
  app.server.maxConnections = config.maxConnections
  // On PostgreSQL, scans are jobs for `leakgate scan-worker` processes (and for this one with
  // scanJobsInProcess); on SQLite they run here.
  const queue = config.databaseUrl === undefined ? undefined : await ScanQueue.open(config.databaseUrl, config.scanJobs, (err) => app.log.error({ err: { message: err.message } }, 'scan queue (pg-boss) error'))
  const workerMetrics = queue === undefined || config.scanJobsInProcess === 0 ? undefined : createScanWorkerMetrics(metrics.registry)
  const scans = await ScanService.open(store, {
    cacheDir: deps.scans?.cacheDir ?? join(config.dataDir, 'scan-cache'),
    github: deps.scans?.github ?? githubAccessFromEnv(process.env),
    gitlab: deps.scans?.gitlab ?? gitlabAccessFromEnv(process.env),
    actor: 'scanner',
    onError: (err, source) => app.log.warn({ err: { message: err.message, code: (err as { code?: string }).code }, sourceType: source.type }, 'scan failed'),
    onDiagnostic: (text, source) => app.log.warn({ git: text.slice(0, 1000), sourceType: source.type }, 'scan: git failed on a remote repository'),
    reach: { allowedPaths: [...config.scan.allowedPaths], allowedHosts: [...config.scan.allowedHosts] },
    limits: { timeoutSeconds: config.scan.timeoutSeconds, memoryMb: config.scan.memoryMb, maxFindings: config.scan.maxFindings, maxBytes: config.scan.maxBytes },
    onFinish: (status) => metrics.scans.inc({ status }),
    ...(queue === undefined ? {} : { queue }),
    onQueueError: (err) => app.log.error({ err: { message: err.message } }, 'watching the scan workers failed'),
    ...(workerMetrics === undefined ? {} : { onHeartbeat: (result: HeartbeatResult) => workerMetrics.heartbeats.inc({ result }), onQueued: () => runner?.wake() }),
  })
  scans.watchWorkers(config.scanJobs.heartbeatSeconds)
  // With scanJobsInProcess, the loop a `leakgate scan-worker` runs, in this process once it is ready.
  let runner: ScanJobRunner | undefined
  registerScanJobMetrics(metrics.registry, async () => scans.jobCounts())
  // The API takes JSON only: other bodies get a clear 415 instead of a confusing schema error.
  app.removeContentTypeParser('text/plain')
  app.setValidatorCompiler(validatorCompiler())
  app.setErrorHandler(errorHandler)
  app.setNotFoundHandler((request, reply) => {
    sendProblem(reply, problemOf(new NotFoundError(`no route ${request.method} ${request.url.split('?')[0] ?? ''}`)))
  })
  app.addSchema(problemSchema)
  // Deliveries are sent apart from requests: a slow endpoint holds only this loop's own connections.
  const webhooks = new WebhookService(store, {
    config: config.webhooks, publicUrl: config.publicUrl, nodeStaleSeconds: config.nodeStaleSeconds, log: app.log,
    onOutcome: (outcome) => metrics.webhookDeliveries.inc({ outcome }),
  })
  app.addHook('onReady', async () => webhooks.start())
  app.addHook('onClose', async () => {
    await riskSchedule.close()
    await webhooks.close()
    await sync.close()
    // Running scans write to the store: they end first (the jobs taken here fail, and are retried elsewhere).
    const taking = runner?.stop()
    await scans.close()
    await taking
    await queue?.close()
    if (ownsStore) await store.close()
  })
  app.addHook('onReady', async () => {
    if (queue !== undefined && workerMetrics !== undefined) {
      runner = new ScanJobRunner(queue, scans, { concurrency: config.scanJobsInProcess, log: app.log, metrics: workerMetrics })
    }
  })
  // Nodes reconnecting after a restart all ask for the snapshot: have it ready (or building) first.
  app.addHook('onReady', async () => {
    riskSchedule.start()
    sync.snapshot().catch((err: unknown) => {
      if (!sync.closed) app.log.error({ err }, 'building the first snapshot failed')
    })
  })
  // Long-polls would hold close() for up to their wait: release them as soon as closing starts.
  app.addHook('preClose', async () => {
    await sync.close()
  })
  // Every answer: not to be stored by caches (API answers carry leak data), not to be framed, no
  // sniffing, no script. Routes that set their own (console assets, /docs) keep theirs.
  app.addHook('onSend', async (_request, reply, payload) => {
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store')
    if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', API_CSP)
    if (!reply.hasHeader('x-frame-options')) reply.header('x-frame-options', 'DENY')
    if (!reply.hasHeader('x-content-type-options')) reply.header('x-content-type-options', 'nosniff')
    return payload
  })
  app.addHook('onListen', async () => {
    const bound = app.server.address()
    const host = bound !== null && typeof bound === 'object' ? bound.address : config.host
    if (!isLoopback(host)) {
      app.log.warn({ host }, 'the control plane listens beyond loopback and has no TLS of its own: put a TLS-terminating proxy in front of it, or keys and leak data cross the network in clear')
    }
  })
  app.addHook('onResponse', async (request, reply) => {
    const labels = { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) }
    metrics.httpRequests.inc(labels)
    // A held-open route's duration is its client's wait (control-plane/metrics.ts).
    if (request.routeOptions.config.heldOpen !== true) metrics.httpDuration.observe(labels, reply.elapsedTime / 1000)
  })

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Leakgate control plane', version: '0.1.0', description: 'Leaks, decisions, audit, sync and sightings. Shapes: docs/api.md.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  })
  // The docs page runs Swagger UI's own scripts (same origin) and its inline styles; nothing else.
  await app.register(fastifySwaggerUi, { routePrefix: '/docs', staticCSP: DOCS_CSP })

  // A bearer credential is an API key, or a console session of a person signed in through OpenID Connect.
  const credentials = {
    check: async (token: string) => {
      if (!token.startsWith(SESSION_PREFIX)) return store.keys.check(token)
      return store.sessions.check(token)
    },
  }
  await installAuth(app, credentials, { failuresPerMinute: config.authFailuresPerMinute })
  for (const plugin of [leakRoutes, statsRoutes, auditRoutes, syncRoutes, sightingRoutes, nodeRoutes, meRoutes, metaRoutes, healthRoutes, rangeRoutes, webhookRoutes, oidcRoutes, keyRoutes, sessionRoutes, publicSourceRoutes]) {
    await app.register(plugin, ctx)
  }
  await app.register(scanRoutes, { ...ctx, scans })
  await app.register(eventRoutes, { ...ctx, ...(deps.eventStream === undefined ? {} : { eventStream: deps.eventStream }) })
  for (const skipped of scans.schedule(config.scanSources, deps.scans?.schedule)) {
    app.log.warn({ sourceType: skipped.type }, 'scanSources: this source cannot be scanned on a schedule (supported: dir with path, git with a url that carries no credential, github with org, user or gists, gitlab with group, user or project); skipped')
  }
  await app.register(consolePlugin)
  return app
}
