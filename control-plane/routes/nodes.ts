/** `/v1/nodes`: heartbeats in, the fleet out (revision, lag, last contact, stale). */
import type { FastifyPluginAsync } from 'fastify'
import { Heartbeat } from '../../protocol/heartbeat.js'
import type { RouteContext } from '../context.js'
import { problems } from './schemas.js'

const routes: FastifyPluginAsync<RouteContext> = async (app, { store, config }) => {
  app.post<{ Body: Heartbeat }>('/v1/nodes/heartbeat', {
    config: { roles: ['node'] },
    schema: {
      summary: "A node's heartbeat",
      tags: ['nodes'],
      body: Heartbeat,
      response: { ...problems(400, 401, 403, 413, 415) },
    },
  }, async (request, reply) => {
    store.nodes.heartbeat(request.body)
    return reply.code(204).send()
  })

  app.get('/v1/nodes', {
    config: { roles: ['analyst'] },
    schema: {
      summary: 'The node fleet',
      tags: ['nodes'],
      response: {
        200: {
          type: 'object',
          properties: {
            items: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  id: { type: 'string' }, version: { type: ['string', 'null'] }, revision: { type: ['integer', 'null'] },
                  lag: { type: ['integer', 'null'] }, indexEntries: { type: ['integer', 'null'] },
                  syncAgeSeconds: { type: ['number', 'null'] }, lastContactAt: { type: 'string' }, stale: { type: 'boolean' },
                },
              },
            },
            revision: { type: 'integer' },
          },
        },
        ...problems(401, 403),
      },
    },
  }, async () => {
    const revision = store.index.revision()
    const staleBefore = Date.now() - config.nodeStaleSeconds * 1000
    const items = store.nodes.list().map((n) => ({
      ...n,
      lag: n.revision === null ? null : Math.max(0, revision - n.revision),
      stale: Date.parse(n.lastContactAt) < staleBefore,
    }))
    return { items, revision }
  })
}

export default routes
