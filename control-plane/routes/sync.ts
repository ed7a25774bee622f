/**
 * `/v1/sync/*`: what nodes follow. The snapshot is binary (protocol/snapshot.ts format) with an ETag per
 * revision; changes are long-polled: held open until a decision changes the index or `wait` runs out.
 */
import type { FastifyPluginAsync } from 'fastify'
import { ChangesAnswer, ChangesQuery } from '../../protocol/changes.js'
import type { RouteContext } from '../context.js'
import { problems } from './schemas.js'

const routes: FastifyPluginAsync<RouteContext> = async (app, { sync }) => {
  app.get('/v1/sync/snapshot', {
    config: { roles: ['node'] },
    schema: {
      summary: 'The whole index at one revision (binary snapshot)',
      tags: ['sync'],
      headers: { type: 'object', properties: { 'if-none-match': { type: 'string', maxLength: 256 } } },
      response: { ...problems(401, 403) },
    },
  }, async (request, reply) => {
    const snap = await sync.snapshot()
    // no-store: the node keeps its own copy and revalidates with the ETag; no shared cache keeps hashes.
    reply.header('etag', snap.etag).header('leakgate-revision', String(snap.revision)).header('cache-control', 'no-store')
    const inm = request.headers['if-none-match']
    if (inm !== undefined && inm.split(',').some((tag) => tag.trim().replace(/^W\//, '') === snap.etag || tag.trim() === '*')) {
      return reply.code(304).send()
    }
    return reply.type('application/octet-stream').send(snap.body)
  })

  // `wait` is optional on the wire; its default is filled in by the validator.
  app.get<{ Querystring: Required<ChangesQuery> }>('/v1/sync/changes', {
    config: { roles: ['node'] },
    schema: {
      summary: 'Index changes after a revision (long-poll)',
      tags: ['sync'],
      querystring: ChangesQuery,
      response: {
        200: ChangesAnswer,
        ...problems(400, 401, 403, 410),
      },
    },
  }, async (request, reply) => {
    // Stop waiting when the node hangs up, so an abandoned poll holds nothing.
    const abort = new AbortController()
    const onClose = (): void => abort.abort()
    reply.raw.on('close', onClose)
    try {
      return await sync.changes(request.query.since, request.query.wait, abort.signal)
    } finally {
      reply.raw.off('close', onClose)
    }
  })
}

export default routes
