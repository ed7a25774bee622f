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
import type { ControlPlaneConfig } from './config.js'
import consolePlugin from './console/plugin.js'
import type { RouteContext } from './context.js'
import { NotFoundError } from '../lib/errors.js'
import { problemOf, problemSchema } from '../lib/problem.js'
import { errorHandler, sendProblem } from './errors.js'
import { createMetrics } from './metrics.js'
import auditRoutes from './routes/audit.js'
import healthRoutes from './routes/health.js'
import leakRoutes from './routes/leaks.js'
import meRoutes from './routes/me.js'
import metaRoutes from './routes/meta.js'
import nodeRoutes from './routes/nodes.js'
import scanRoutes from './routes/scans.js'
import sightingRoutes from './routes/sightings.js'
import statsRoutes from './routes/stats.js'
import syncRoutes from './routes/sync.js'
import { githubAccessFromEnv, ScanService, type ScanServiceOptions, type ScheduleTiming } from './scans.js'
import { Store } from './store/store.js'
import { SyncService } from './sync.js'
import { formatSchemaErrors, validatorCompiler } from './validation.js'

/** What the app is built with besides its configuration. */
export interface ControlPlaneDeps {
  /** An open store; by default one is opened in `config.dataDir` and closed with the app. */
  store?: Store
  /** fastify's `logger` option; by default pino with Leakgate's redaction at `config.logLevel`. */
  logger?: FastifyServerOptions['logger']
  /** A logger of the caller's (tests capture lines with it); wins over `logger`. */
  loggerInstance?: FastifyBaseLogger
  /** Options of the scans service (where repositories are mirrored, GitHub access) and the schedule's timing. */
  scans?: Partial<Pick<ScanServiceOptions, 'cacheDir' | 'github'>> & { schedule?: ScheduleTiming }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The control plane's store, sync service and metrics. */
    leakgate: RouteContext
  }
}

/** Builds the control plane (routes, auth, OpenAPI, console). Call `ready()` or `listen()` on it. */
export async function buildControlPlane(config: Readonly<ControlPlaneConfig>, deps: ControlPlaneDeps = {}): Promise<FastifyInstance> {
  const ownsStore = deps.store === undefined
  const store = deps.store ?? Store.open(config.dataDir, {
    defaultAction: config.defaultAction,
    autoBlockRisk: config.autoBlockRisk,
    sightingsKeptPerLeak: config.limits.sightingsKeptPerLeak,
    changesRetention: config.changesRetention,
  })
  const sync = new SyncService(store, {
    maxWaitSeconds: config.longPollMaxWaitSeconds,
    changesPerResponse: config.limits.changesPerResponse,
  })
  const metrics = createMetrics(store, sync, config.nodeStaleSeconds)
  const ctx: RouteContext = { config, store, sync, metrics }

  const app = Fastify({
    ...(deps.loggerInstance === undefined
      ? { logger: deps.logger ?? loggerOptions(config.logLevel, 'leakgate-control-plane') }
      : { loggerInstance: deps.loggerInstance }),
    bodyLimit: config.bodyLimit,
    // A held long-poll must not count as an idle connection; 30 s of wait plus slack.
    requestTimeout: 0,
    keepAliveTimeout: 35_000,
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: true },
    schemaErrorFormatter: formatSchemaErrors,
  })
  app.decorate('leakgate', ctx)
  const scans = new ScanService(store, {
    cacheDir: deps.scans?.cacheDir ?? join(config.dataDir, 'scan-cache'),
    github: deps.scans?.github ?? githubAccessFromEnv(process.env),
    actor: 'scanner',
    onError: (err, source) => app.log.warn({ err: { message: err.message, code: (err as { code?: string }).code }, sourceType: source.type }, 'scan failed'),
    onDiagnostic: (text, source) => app.log.warn({ git: text.slice(0, 1000), sourceType: source.type }, 'scan: git failed on a remote repository'),
    reach: { allowedPaths: [...config.scan.allowedPaths], allowedHosts: [...config.scan.allowedHosts] },
    limits: { timeoutSeconds: config.scan.timeoutSeconds, memoryMb: config.scan.memoryMb, maxFindings: config.scan.maxFindings, maxBytes: config.scan.maxBytes },
  })
  // The API takes JSON only: other bodies get a clear 415 instead of a confusing schema error.
  app.removeContentTypeParser('text/plain')
  app.setValidatorCompiler(validatorCompiler())
  app.setErrorHandler(errorHandler)
  app.setNotFoundHandler((request, reply) => {
    sendProblem(reply, problemOf(new NotFoundError(`no route ${request.method} ${request.url.split('?')[0] ?? ''}`)))
  })
  app.addSchema(problemSchema)
  app.addHook('onClose', async () => {
    await sync.close()
    // Running scans write to the store: they end first.
    await scans.close()
    if (ownsStore) store.close()
  })
  // Nodes reconnecting after a restart all ask for the snapshot: have it ready (or building) first.
  app.addHook('onReady', async () => {
    sync.snapshot().catch((err: unknown) => {
      if (!sync.closed) app.log.error({ err }, 'building the first snapshot failed')
    })
  })
  // Long-polls would hold close() for up to their wait: release them as soon as closing starts.
  app.addHook('preClose', async () => {
    await sync.close()
  })
  app.addHook('onResponse', async (request, reply) => {
    metrics.httpDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    )
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
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' })

  installAuth(app, store.keys)
  for (const plugin of [leakRoutes, statsRoutes, auditRoutes, syncRoutes, sightingRoutes, nodeRoutes, meRoutes, metaRoutes, healthRoutes]) {
    await app.register(plugin, ctx)
  }
  await app.register(scanRoutes, { ...ctx, scans })
  for (const skipped of scans.schedule(config.scanSources, deps.scans?.schedule)) {
    app.log.warn({ sourceType: skipped.type }, 'scanSources: this source cannot be scanned on a schedule (supported: dir with path, git with a url that carries no credential, github with org or user); skipped')
  }
  await app.register(consolePlugin)
  return app
}
