/**
 * Watching public sources: the hashes of the tokens the organisation issued (`/v1/issued-hashes`,
 * admin), each public source's state (`GET /v1/public-sources`), and the public places of a leak. Hashes arrive as text, one
 * SHA-256 (64 hex characters) a line: the only route that takes a body other than JSON, since a list
 * exported from an issuer's database is such a file. A body with any bad line changes nothing, and no
 * answer repeats a line (a raw token pasted by mistake must not come back in an error).
 * Shapes: docs/public-sources.md.
 */
import type { FastifyPluginAsync } from 'fastify'
import { BadRequestError } from '../../lib/errors.js'
import { principalOf } from '../auth.js'
import type { RouteContext } from '../context.js'
import { actorOf } from '../store/keys.js'
import { NotFoundError } from '../../lib/errors.js'
import { idParams, locationOutput, problems } from './schemas.js'

const ADMIN = { roles: [] }

/** The largest upload: about 250 000 hashes; a larger set is sent in several requests (mode `add`). */
const HASH_BODY_LIMIT = 16 * 1024 * 1024

/** Bad lines named in a refusal at most. */
const BAD_LINES_SHOWN = 5

const countsOutput = {
  type: 'object',
  properties: { added: { type: 'integer' }, removed: { type: 'integer' }, total: { type: 'integer' } },
} as const

const hashesBody = { type: 'string', description: 'SHA-256 hex digests, one a line (text/plain)' } as const

const SHA256_LINE = /^[0-9a-fA-F]{64}$/

/** The hashes of a body, one a line (blank lines and surrounding spaces ignored); a 400 naming the bad lines' numbers, never their text. */
export function parseHashLines(body: string): string[] {
  const hashes: string[] = []
  const bad: number[] = []
  body.split('\n').forEach((raw, i) => {
    const line = raw.trim()
    if (line === '') return
    if (SHA256_LINE.test(line)) hashes.push(line.toLowerCase())
    else bad.push(i + 1)
  })
  if (bad.length > 0) {
    const shown = bad.slice(0, BAD_LINES_SHOWN).join(', ')
    throw new BadRequestError(`${bad.length} line${bad.length === 1 ? ' is' : 's are'} not a SHA-256 (64 hex characters): line${bad.length === 1 ? '' : 's'} ${shown}${bad.length > BAD_LINES_SHOWN ? ', …' : ''}; nothing was changed (send hashes, never tokens)`)
  }
  if (hashes.length === 0) throw new BadRequestError('the body holds no hash: send SHA-256 hex digests, one a line (text/plain)')
  return hashes
}

const cursorOutput = {
  type: 'object',
  properties: {
    sourceId: { type: 'string' }, cursor: { type: ['string', 'null'] }, version: { type: 'integer' },
    state: { type: 'object', additionalProperties: true }, lastError: { type: ['string', 'null'] },
    units: { type: 'integer' }, bytes: { type: 'integer' }, updatedAt: { type: 'string' },
    leaseOwner: { type: ['string', 'null'], description: 'the worker running this source or shard now (host:pid:random), null when none holds it' },
    leaseUntil: { type: ['string', 'null'], description: 'until when that lease holds unless renewed (ISO-8601); past it, another worker takes the shard over' },
    errors: { type: 'integer', description: 'reads and batch commits that failed since the source started' },
  },
} as const

const routes: FastifyPluginAsync<RouteContext> = async (app, { store }) => {
  // Only this plugin's routes read text bodies (and no JSON: a JSON list gets a clear 415, not a schema
  // error); the rest of the API stays JSON only.
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('text/plain', { parseAs: 'string', bodyLimit: HASH_BODY_LIMIT }, (_request, body, done) => done(null, body))

  app.get('/v1/issued-hashes', {
    config: ADMIN,
    schema: {
      summary: 'How many issued-token hashes the control plane holds (admin)',
      tags: ['public-sources'],
      response: { 200: { type: 'object', properties: { total: { type: 'integer' } } }, ...problems(401, 403, 429) },
    },
  }, async () => ({ total: await store.issuedHashes.count() }))

  app.post<{ Body: string; Querystring: { mode?: 'add' | 'replace' } }>('/v1/issued-hashes', {
    config: ADMIN,
    bodyLimit: HASH_BODY_LIMIT,
    schema: {
      summary: 'Add the SHA-256s of issued live tokens, one a line (text/plain); mode=replace makes the set exactly them (admin)',
      tags: ['public-sources'],
      querystring: { type: 'object', additionalProperties: false, properties: { mode: { type: 'string', enum: ['add', 'replace'], default: 'add' } } },
      body: hashesBody,
      response: { 200: countsOutput, ...problems(400, 401, 403, 413, 415, 429) },
    },
  }, async (request) => {
    const hashes = parseHashLines(request.body)
    const counts = await store.issuedHashes.add(hashes, { replace: request.query.mode === 'replace' })
    request.log.info({ ...counts, mode: request.query.mode ?? 'add', by: actorOf(principalOf(request)) }, 'issued-token hashes uploaded')
    return counts
  })

  app.delete<{ Body: string }>('/v1/issued-hashes', {
    config: ADMIN,
    bodyLimit: HASH_BODY_LIMIT,
    schema: {
      summary: 'Remove SHA-256s from the issued-token set, one a line (text/plain) (admin)',
      tags: ['public-sources'],
      body: hashesBody,
      response: { 200: countsOutput, ...problems(400, 401, 403, 413, 415, 429) },
    },
  }, async (request) => {
    const counts = await store.issuedHashes.remove(parseHashLines(request.body))
    request.log.info({ ...counts, by: actorOf(principalOf(request)) }, 'issued-token hashes removed')
    return counts
  })

  app.get('/v1/public-sources', {
    config: { roles: ['analyst'] },
    schema: {
      summary: 'Each public source\'s cursor, state (rate-limit budget, poll interval, lag), last error and counts',
      tags: ['public-sources'],
      response: { 200: { type: 'object', properties: { items: { type: 'array', items: cursorOutput } } }, ...problems(401, 403, 429) },
    },
  }, async () => ({ items: await store.publicSources.list() }))

  app.get<{ Params: { id: number } }>('/v1/leaks/:id/public-places', {
    config: { roles: ['analyst'] },
    schema: {
      summary: 'Every public place a leak\'s token was seen at by the public sources, first seen first (at most 100)',
      tags: ['public-sources'],
      params: idParams,
      response: {
        200: { type: 'object', properties: { items: { type: 'array', items: { type: 'object', properties: { sourceId: { type: 'string' }, location: locationOutput, seenAt: { type: 'string' } } } } } },
        ...problems(400, 401, 403, 404, 429),
      },
    },
  }, async (request) => {
    if (await store.leaks.get(request.params.id) === undefined) throw new NotFoundError(`there is no leak ${request.params.id}`)
    return { items: await store.publicSources.placesOf(request.params.id) }
  })
}

export default routes
