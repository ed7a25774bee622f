/**
 * The node's admin app, on its own port: /healthz (the process is up, until it exits), /readyz (an index
 * is in force and the node is not draining) and /metrics (Prometheus text). A fastify app: nothing here
 * is on the request path.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { NoIndexError, NotReadyError, ShuttingDownError } from '../lib/errors.js'
import { PROBLEM_TYPE, problemBody } from '../lib/problem.js'
import type { NodeMetrics } from './metrics.js'
import type { IndexHolder } from './verdict.js'

/**
 * What a multi-process node's primary (workers.ts) adds to the admin port: the proxy runs in its
 * workers, so health, readiness and metrics are theirs too.
 */
export interface AdminWorkers {
  /** Whether the proxy still has a process, and what to say of them. */
  health(): { ok: boolean; workers: Record<string, unknown> }
  /** Why the workers are not all ready (undefined: they are), and what to say of them. */
  readiness(): { notReady: string | undefined; workers: unknown }
  /** The Prometheus text of the whole node, every process's metrics aggregated. */
  metrics(): Promise<string>
}

/** Builds the admin app (not listening); `isDraining` turns /readyz to 503 once the node stops taking requests. */
export function buildAdmin(logger: Logger, metrics: NodeMetrics, holder: IndexHolder, isDraining: () => boolean = () => false, workers?: AdminWorkers): FastifyInstance {
  const admin = Fastify({ loggerInstance: logger as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }), forceCloseConnections: true })
  admin.get('/healthz', async (_request, reply) => {
    if (workers === undefined) return { status: 'ok' }
    const health = workers.health()
    if (health.ok) return { status: 'ok', workers: health.workers }
    const e = new NotReadyError('no proxy process is running: the node is starting them again')
    return reply.code(503).type(PROBLEM_TYPE).send(problemBody(503, e.code, e.message, { workers: health.workers }))
  })
  admin.get('/readyz', async (_request, reply) => {
    // Said first: a load balancer must stop sending here while requests in flight finish.
    if (isDraining()) {
      const e = new ShuttingDownError()
      return reply.code(503).type(PROBLEM_TYPE).send(problemBody(503, e.code, 'draining: this node is shutting down and takes no new requests'))
    }
    const index = holder.current
    if (index === undefined) {
      const e = new NoIndexError()
      return reply.code(503).type(PROBLEM_TYPE).send(problemBody(503, e.code, 'no leak index loaded yet: waiting for the control plane or the cache'))
    }
    if (workers === undefined) return { status: 'ready', revision: index.revision, indexEntries: index.size }
    const { notReady, workers: each } = workers.readiness()
    if (notReady !== undefined) {
      const e = new NotReadyError(notReady)
      return reply.code(503).type(PROBLEM_TYPE).send(problemBody(503, e.code, notReady, { workers: each }))
    }
    return { status: 'ready', revision: index.revision, indexEntries: index.size, workers: each }
  })
  admin.get('/metrics', async (_request, reply) => {
    const text = workers === undefined ? await metrics.registry.metrics() : await workers.metrics()
    return reply.type(metrics.registry.contentType).send(text)
  })
  return admin
}
