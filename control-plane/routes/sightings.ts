/** `/v1/sightings`: nodes report leaked tokens seen in traffic (hashes only, never a token). */
import type { FastifyPluginAsync } from 'fastify'
import type { RouteContext } from '../context.js'
import type { SightingInput } from '../store/sightings.js'
import { LEAK_ID_MAX, isoTime, nodeId, problems, sha256Hex } from './schemas.js'

const routes: FastifyPluginAsync<RouteContext> = async (app, { store, config }) => {
  app.post<{ Body: { nodeId: string; sightings: SightingInput[] } }>('/v1/sightings', {
    config: { roles: ['node'] },
    schema: {
      summary: "A node's batch of sightings",
      tags: ['sightings'],
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['nodeId', 'sightings'],
        properties: {
          nodeId,
          sightings: {
            type: 'array',
            maxItems: config.limits.sightingsPerBatch,
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['leakId', 'at'],
              properties: {
                leakId: { type: 'integer', minimum: 1, maximum: LEAK_ID_MAX },
                sha256: sha256Hex,
                at: isoTime,
                host: { type: 'string', maxLength: 253, format: 'text' },
                method: { type: 'string', maxLength: 16, pattern: '^[A-Za-z]+$' },
                route: { type: 'string', maxLength: 512, format: 'text' },
                client: { type: 'string', maxLength: 64, format: 'text' },
                verdict: { type: 'string', enum: ['block', 'monitor'] },
              },
            },
          },
        },
      },
      response: {
        202: { type: 'object', properties: { accepted: { type: 'integer' }, ignored: { type: 'integer' } } },
        ...problems(400, 401, 403, 413, 415),
      },
    },
  }, async (request, reply) => {
    const sightings = request.body.sightings.map((s) => (s.sha256 === undefined ? s : { ...s, sha256: s.sha256.toLowerCase() }))
    return reply.code(202).send(store.sightings.record(request.body.nodeId, sightings))
  })
}

export default routes
