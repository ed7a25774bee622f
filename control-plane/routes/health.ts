/**
 * `/healthz` (liveness: the store answers, public) and `/metrics` (Prometheus text: public, or behind
 * `Authorization: Bearer <metricsKey>` when that option is set).
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { UnauthorizedError } from '../../lib/errors.js'
import type { RouteContext } from '../context.js'
import { bearerKey } from '../auth.js'

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest()
}

/**
 * An onRequest hook that lets through only `Authorization: Bearer <key>` (compared in constant time);
 * a wrong key counts as a failed authentication (auth.ts), so it is limited like one.
 */
function requireBearer(app: FastifyInstance, key: string) {
  const expected = digest(key)
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const sent = bearerKey(request.headers.authorization)
    // Hashed first, so the comparison takes the same time whatever the length sent.
    if (sent !== undefined && timingSafeEqual(digest(sent), expected)) return
    reply.header('www-authenticate', 'Bearer realm="leakgate-metrics"')
    await app.authFailure(request, reply)
    throw new UnauthorizedError('/metrics needs the metrics key: send Authorization: Bearer <metricsKey>')
  }
}

const routes: FastifyPluginAsync<RouteContext> = async (app, { store, metrics, config }) => {
  app.get('/healthz', {
    schema: { summary: 'Liveness', tags: ['health'] },
    logLevel: 'warn',
  }, async () => {
    store.ping()
    return { status: 'ok', revision: store.index.revision() }
  })

  app.get('/metrics', {
    schema: { summary: 'Prometheus metrics (needs the metrics key when the metricsKey option is set)', tags: ['health'] },
    logLevel: 'warn',
    ...(config.metricsKey === undefined ? {} : { onRequest: requireBearer(app, config.metricsKey) }),
  }, async (_request, reply) => {
    const body = await metrics.registry.metrics()
    return reply.type(metrics.registry.contentType).send(body)
  })
}

export default routes
