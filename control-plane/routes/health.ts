/** `/healthz` (liveness: the store answers) and `/metrics` (Prometheus text). Both public. */
import type { FastifyPluginAsync } from 'fastify'
import type { RouteContext } from '../context.js'

const routes: FastifyPluginAsync<RouteContext> = async (app, { store, metrics }) => {
  app.get('/healthz', {
    schema: { summary: 'Liveness', tags: ['health'] },
    logLevel: 'warn',
  }, async () => {
    store.ping()
    return { status: 'ok', revision: store.index.revision() }
  })

  app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['health'] }, logLevel: 'warn' }, async (_request, reply) => {
    const body = await metrics.registry.metrics()
    return reply.type(metrics.registry.contentType).send(body)
  })
}

export default routes
