/** `/v1/stats`: counts for the console's charts. */
import type { FastifyPluginAsync } from 'fastify'
import type { RouteContext } from '../context.js'
import type { LeakStatus } from '../store/leaks.js'
import { LEAK_STATUSES, problems } from './schemas.js'

const riskCounts = {
  type: 'object',
  properties: { low: { type: 'integer' }, medium: { type: 'integer' }, high: { type: 'integer' }, critical: { type: 'integer' } },
} as const
const counts = { type: 'object', additionalProperties: { type: 'integer' } } as const

const routes: FastifyPluginAsync<RouteContext> = async (app, { store }) => {
  app.get<{ Querystring: { status: LeakStatus | 'all' } }>('/v1/stats', {
    config: { roles: ['analyst'] },
    schema: {
      summary: 'Leak counts by risk, source, status, action, and risk by source',
      tags: ['stats'],
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { status: { type: 'string', enum: [...LEAK_STATUSES, 'all'], default: 'open' } },
      },
      response: {
        200: {
          type: 'object',
          properties: {
            total: { type: 'integer' }, byRisk: riskCounts, bySource: counts, byStatus: counts, byAction: counts,
            riskBySource: { type: 'object', additionalProperties: riskCounts },
          },
        },
        ...problems(400, 401, 403),
      },
    },
  }, async (request) => store.stats.leaks(request.query.status))
}

export default routes
