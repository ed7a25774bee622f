/** `/v1/sightings`: nodes report leaked tokens seen in traffic (hashes only, never a token). */
import type { FastifyPluginAsync } from 'fastify'
import { sightingBatch, SightingsAnswer, type SightingBatch } from '../../protocol/sightings.js'
import type { RouteContext } from '../context.js'
import { nodeLimits, reporterOf } from './nodes.js'
import { problems } from './schemas.js'

const routes: FastifyPluginAsync<RouteContext> = async (app, { store, config }) => {
  const limits = nodeLimits(config)
  app.post<{ Body: SightingBatch }>('/v1/sightings', {
    config: { roles: ['node'] },
    schema: {
      summary: "A node's batch of sightings",
      description: 'Sightings of open leaks are recorded; others are dropped. The answer is { accepted: <batch length>, ignored: 0 } whatever the ids, so it reveals no leak id. A node key reports only as its own node.',
      tags: ['sightings'],
      body: sightingBatch(config.limits.sightingsPerBatch),
      response: {
        202: SightingsAnswer,
        ...problems(400, 401, 403, 413, 415, 429),
      },
    },
  }, async (request, reply) => {
    await store.nodes.claim(request.body.nodeId, reporterOf(request), limits)
    const sightings = request.body.sightings.map((s) => (s.sha256 === undefined ? s : { ...s, sha256: s.sha256.toLowerCase() }))
    return reply.code(202).send(await store.sightings.record(request.body.nodeId, sightings))
  })
}

export default routes
