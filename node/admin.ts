/**
 * The node's admin app, on its own port: /healthz (the process is up, until it exits), /readyz (an index
 * is in force and the node is not draining) and /metrics (Prometheus text). A fastify app: nothing here
 * is on the request path.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { NoIndexError, ShuttingDownError } from '../lib/errors.js'
import { PROBLEM_TYPE, problemBody } from '../lib/problem.js'
import type { NodeMetrics } from './metrics.js'
import type { IndexHolder } from './verdict.js'

/** Builds the admin app (not listening); `isDraining` turns /readyz to 503 once the node stops taking requests. */
export function buildAdmin(logger: Logger, metrics: NodeMetrics, holder: IndexHolder, isDraining: () => boolean = () => false): FastifyInstance {
  const admin = Fastify({ loggerInstance: logger as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }), forceCloseConnections: true })
  admin.get('/healthz', async () => ({ status: 'ok' }))
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
    return { status: 'ready', revision: index.revision, indexEntries: index.size }
  })
  admin.get('/metrics', async (_request, reply) => {
    const text = await metrics.registry.metrics()
    return reply.type(metrics.registry.contentType).send(text)
  })
  return admin
}
