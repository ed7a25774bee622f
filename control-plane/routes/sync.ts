/**
 * `/v1/sync/*`: what nodes follow. The snapshot is binary (protocol/snapshot.ts format) with an ETag per
 * revision; changes are long-polled: held open until a decision changes the index or `wait` runs out.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { HashKeyMismatchError } from '../../lib/errors.js'
import { ChangesAnswer, ChangesQuery } from '../../protocol/changes.js'
import { HASH_KEY_ID_HEADER } from '../../protocol/token-hash.js'
import type { RouteContext } from '../context.js'
import { problems } from './schemas.js'

const routes: FastifyPluginAsync<RouteContext> = async (app, { sync, store }) => {
  // The fleet woken by one decision gets one answer object (SyncService shares it): serialized once.
  const serialized = new WeakMap<ChangesAnswer, string>()
  // A node whose hash key is not the store's would look every credential up under the wrong hash and
  // miss every leak without a sign: it is refused instead, and keeps the index it has.
  const sameHashKey = async (request: FastifyRequest): Promise<void> => {
    const header = request.headers[HASH_KEY_ID_HEADER]
    const sent = typeof header === 'string' && header !== '' ? header : undefined
    const want = store.hashes.keyId
    if (sent === want) return
    if (sent === undefined) {
      throw new HashKeyMismatchError(`this control plane stores keyed token hashes (hash key id ${want ?? ''}) and this node has no hash key: set its hashKey option (LEAKGATE_HASH_KEY) to the control plane's key`)
    }
    if (want === undefined) {
      throw new HashKeyMismatchError('this node has a hash key and this control plane has none: remove the hashKey option (LEAKGATE_HASH_KEY) from the node, or set the same key on the control plane')
    }
    const shown = /^[0-9a-f]{16}$/.test(sent) ? ` (id ${sent})` : ''
    throw new HashKeyMismatchError(`this node's hash key${shown} is not the control plane's (id ${want}): set the node's hashKey option (LEAKGATE_HASH_KEY) to the control plane's key`)
  }

  app.get('/v1/sync/snapshot', {
    config: { roles: ['node'] },
    preHandler: sameHashKey,
    schema: {
      summary: 'The whole index at one revision (binary snapshot)',
      tags: ['sync'],
      headers: { type: 'object', properties: { 'if-none-match': { type: 'string', maxLength: 256 } } },
      response: { ...problems(401, 403, 409) },
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
    // heldOpen: a long-poll's time is its wait, kept out of the request duration histogram.
    config: { roles: ['node'], heldOpen: true },
    preHandler: sameHashKey,
    schema: {
      summary: 'Index changes after a revision (long-poll)',
      tags: ['sync'],
      querystring: ChangesQuery,
      response: {
        200: ChangesAnswer,
        ...problems(400, 401, 403, 409, 410),
      },
    },
  }, async (request, reply) => {
    // Stop waiting when the node hangs up, so an abandoned poll holds nothing.
    const abort = new AbortController()
    const onClose = (): void => abort.abort()
    reply.raw.on('close', onClose)
    try {
      const answer = await sync.changes(request.query.since, request.query.wait, abort.signal)
      let body = serialized.get(answer)
      if (body === undefined) {
        // Plain JSON of the answer's own fields: what the response schema would write, without a serializer run per node.
        body = JSON.stringify(answer)
        serialized.set(answer, body)
      }
      return await reply.type('application/json; charset=utf-8').send(body)
    } finally {
      reply.raw.off('close', onClose)
    }
  })
}

export default routes
