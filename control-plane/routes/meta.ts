/**
 * `/v1/meta`: the values the API accepts for a leak's risk, status and action, and the list's sort
 * orders, so a client (the console) shows the server's lists instead of keeping copies of them.
 */
import type { FastifyPluginAsync } from 'fastify'
import { RISK_LEVELS } from '../config.js'
import type { RouteContext } from '../context.js'
import { LEAK_ACTIONS, LEAK_SORTS, LEAK_STATUSES, problems } from './schemas.js'

const list = { type: 'array', items: { type: 'string' } } as const

/** The answer of `GET /v1/meta`. */
export const META = {
  risks: [...RISK_LEVELS],
  statuses: [...LEAK_STATUSES],
  actions: [...LEAK_ACTIONS],
  sorts: [...LEAK_SORTS],
} as const

const routes: FastifyPluginAsync<RouteContext> = async (app) => {
  app.get('/v1/meta', {
    config: { roles: ['analyst', 'node'] },
    schema: {
      summary: 'The values of leak risk, status, action and list sort the API accepts',
      description: 'Risks run from lowest to highest; the first sort is the default.',
      tags: ['meta'],
      response: {
        200: {
          type: 'object',
          required: ['risks', 'statuses', 'actions', 'sorts'],
          properties: { risks: list, statuses: list, actions: list, sorts: list },
        },
        ...problems(401),
      },
    },
  }, async () => META)
}

export default routes
