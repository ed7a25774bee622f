/** `/v1/me`: who the caller's key is (the console signs in with it). */
import type { FastifyPluginAsync } from 'fastify'
import { principalOf } from '../auth.js'
import type { RouteContext } from '../context.js'
import { problems } from './schemas.js'

const routes: FastifyPluginAsync<RouteContext> = async (app) => {
  app.get('/v1/me', {
    config: { roles: ['analyst', 'node'] },
    schema: {
      summary: "The caller's key id (or console session id), role, and the person when known",
      tags: ['auth'],
      response: { 200: { type: 'object', properties: { keyId: { type: 'string' }, role: { type: 'string' }, person: { type: 'string' } } }, ...problems(401) },
    },
  }, async (request) => principalOf(request))
}

export default routes
