/**
 * `/v1/sync/*`: what nodes follow. The snapshot is binary (protocol/snapshot.ts format) with an ETag per
 * revision; changes are long-polled: held open until a decision changes the index or `wait` runs out.
 *
 * Each snapshot is also published at an immutable URL, `/v1/sync/snapshot/:revision?digest=`, that a
 * cache in front of the control plane may keep and hand to every node (docs/api.md, "Snapshots through
 * a cache"); `GET /v1/sync/snapshot?redirect=true` sends a node there.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { HashKeyMismatchError, NotFoundError } from '../../lib/errors.js'
import { ChangesAnswer, ChangesQuery, Revision } from '../../protocol/changes.js'
import { HASH_KEY_ID_HEADER } from '../../protocol/token-hash.js'
import { SNAPSHOT_DIGEST_PATTERN, snapshotDigest, snapshotLocation } from '../../protocol/snapshot-url.js'
import type { SnapshotBody } from '../sync.js'
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

  app.get<{ Querystring: { redirect?: boolean } }>('/v1/sync/snapshot', {
    config: { roles: ['node'] },
    preHandler: sameHashKey,
    schema: {
      summary: 'The whole index at one revision (binary snapshot)',
      tags: ['sync'],
      headers: { type: 'object', properties: { 'if-none-match': { type: 'string', maxLength: 256 } } },
      // Open: a query this version does not know is ignored, as it was before `redirect` existed.
      querystring: { type: 'object', properties: { redirect: { type: 'boolean', description: 'answer 307 to the snapshot\'s immutable URL instead of its bytes' } } },
      response: { ...problems(401, 403, 409) },
    },
  }, async (request, reply) => {
    const snap = await sync.snapshot()
    if (request.query.redirect === true) {
      // Relative to this path, so a control plane served under a path prefix sends the node under it too.
      return reply.code(307).header('location', snapshotLocation(snap.revision, snapshotDigest(snap.body)))
        .header('leakgate-revision', String(snap.revision)).header('cache-control', 'no-store').send()
    }
    // no-store: the node keeps its own copy and revalidates with the ETag; no shared cache keeps hashes.
    reply.header('etag', snap.etag).header('leakgate-revision', String(snap.revision)).header('cache-control', 'no-store')
    const inm = request.headers['if-none-match']
    if (inm !== undefined && inm.split(',').some((tag) => tag.trim().replace(/^W\//, '') === snap.etag || tag.trim() === '*')) {
      return reply.code(304).send()
    }
    return reply.type('application/octet-stream').send(snap.body)
  })

  app.get<{ Params: { revision: number }; Querystring: { digest?: string } }>('/v1/sync/snapshot/:revision', {
    config: { roles: ['node'] },
    preHandler: sameHashKey,
    schema: {
      summary: 'One snapshot at its immutable URL (cacheable by a shared cache)',
      tags: ['sync'],
      params: { type: 'object', properties: { revision: Revision }, required: ['revision'] },
      querystring: { type: 'object', properties: { digest: { type: 'string', pattern: SNAPSHOT_DIGEST_PATTERN, description: 'the first 32 hex characters of the snapshot\'s checksum, as the redirect gives it' } } },
      headers: { type: 'object', properties: { 'if-none-match': { type: 'string', maxLength: 256 } } },
      response: { ...problems(400, 401, 403, 404, 409) },
    },
  }, async (request, reply) => {
    const { revision } = request.params
    const snap = await sync.snapshotAt(revision)
    const digest = snap === undefined ? undefined : snapshotDigest(snap.body)
    const wanted = request.query.digest
    if (snap === undefined || digest === undefined || (wanted !== undefined && wanted !== digest)) {
      throw new NotFoundError(`no snapshot of revision ${revision}${wanted === undefined ? '' : ` with digest ${wanted}`} is kept (the index moved on, or the store was reset): fetch /v1/sync/snapshot`)
    }
    return sendImmutable(request, reply, snap, digest, wanted !== undefined, store.hashes.keyId)
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

/**
 * A snapshot at its immutable URL. The same revision of the same store is the same bytes on every
 * replica (the encoding is canonical), and the digest is the body's own checksum, so the ETag names the
 * body exactly: a store reset that reuses a revision number, or another hash key, makes another one.
 */
function sendImmutable(request: FastifyRequest, reply: FastifyReply, snap: SnapshotBody, digest: string, named: boolean, keyId: string | undefined): FastifyReply {
  const etag = `"r${snap.revision}-${digest}"`
  reply.header('etag', etag).header('leakgate-revision', String(snap.revision))
    // public: a shared cache may hand these bytes to other nodes (they are hashes only; docs/api.md says
    // who may fetch them through the cache); immutable: the URL with its digest never names other bytes.
    // Without the digest, a store reset could reuse the revision: a cache keeps it but revalidates.
    .header('cache-control', named ? 'public, max-age=31536000, immutable' : 'public, no-cache')
  // Which hash key the entries were made with, kept by the cache with the body: a node checks it, so a
  // cache shared by two deployments cannot hand it an index it would miss every leak with.
  if (keyId !== undefined) reply.header(HASH_KEY_ID_HEADER, keyId)
  const inm = request.headers['if-none-match']
  if (inm !== undefined && inm.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag || tag.trim() === '*')) return reply.code(304).send()
  return reply.type('application/octet-stream').send(snap.body)
}

export default routes
