/** `/v1/audit`: every decision, newest first. */
import type { FastifyPluginAsync } from 'fastify'
import type { RouteContext } from '../context.js'
import { LEAK_ID_MAX, cursorString, decisionOutput, pageLimit, problems } from './schemas.js'

const routes: FastifyPluginAsync<RouteContext> = async (app, { store }) => {
  app.get<{ Querystring: { leakId?: number; limit?: number; cursor?: string } }>('/v1/audit', {
    config: { roles: ['analyst'] },
    schema: {
      summary: 'Decisions, newest first',
      tags: ['audit'],
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { leakId: { type: 'integer', minimum: 1, maximum: LEAK_ID_MAX }, limit: pageLimit, cursor: cursorString },
      },
      response: {
        200: { type: 'object', properties: { items: { type: 'array', items: decisionOutput }, nextCursor: { type: ['string', 'null'] } } },
        ...problems(400, 401, 403),
      },
    },
  }, async (request) => store.audit.list(request.query))
}

export default routes
