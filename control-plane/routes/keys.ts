/**
 * `/v1/keys` (admin only): API keys listed (never their hashes), made (the key answered this once),
 * revoked, rotated (the new key answered this once). The last admin key that works cannot be revoked.
 * Shapes: docs/api.md "API keys".
 */
import type { FastifyPluginAsync } from 'fastify'
import { BadRequestError } from '../../lib/errors.js'
import { principalOf } from '../auth.js'
import type { RouteContext } from '../context.js'
import { actorOf, KEY_NAME_MAX, KEY_OWNER_MAX, MAX_OVERLAP_SECONDS, ROLES, type Role } from '../store/keys.js'
import { isoTime, problems } from './schemas.js'

const ADMIN = { roles: [] }

const keyOutput = {
  type: 'object',
  properties: {
    keyId: { type: 'string' }, name: { type: ['string', 'null'] }, owner: { type: ['string', 'null'] }, role: { type: 'string' },
    createdAt: { type: 'string' }, expiresAt: { type: ['string', 'null'] }, lastUsedAt: { type: ['string', 'null'] },
    revokedAt: { type: ['string', 'null'] }, revokedBy: { type: ['string', 'null'] }, state: { type: 'string', enum: ['active', 'retiring', 'revoked', 'expired'] },
  },
} as const

/** A key just made: the one answer that carries it. */
const newKeyOutput = { type: 'object', properties: { ...keyOutput.properties, key: { type: 'string' } } } as const

const keyIdParams = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  // key_ and 8 hex characters as listed, or more of the hash to tell apart keys that share those 8.
  properties: { id: { type: 'string', pattern: '^key_[0-9a-f]{8,64}$' } },
} as const

interface CreateBody {
  role: Role
  name?: string
  owner?: string
  expiresAt?: string
}

const routes: FastifyPluginAsync<RouteContext> = async (app, { store }) => {
  app.get('/v1/keys', {
    config: ADMIN,
    schema: {
      summary: 'Every API key, newest first, revoked and expired ones too (admin; never a key or its hash)',
      tags: ['keys'],
      response: { 200: { type: 'object', properties: { items: { type: 'array', items: keyOutput } } }, ...problems(401, 403, 429) },
    },
  }, async () => ({ items: await store.keys.list() }))

  app.post<{ Body: CreateBody }>('/v1/keys', {
    config: ADMIN,
    schema: {
      summary: 'Make an API key (admin); the answer carries the key, shown this once',
      tags: ['keys'],
      body: {
        type: 'object', additionalProperties: false, required: ['role'],
        properties: {
          role: { type: 'string', enum: [...ROLES] },
          name: { type: 'string', minLength: 1, maxLength: KEY_NAME_MAX, format: 'text' },
          owner: { type: 'string', minLength: 1, maxLength: KEY_OWNER_MAX, format: 'text' },
          expiresAt: isoTime,
        },
      },
      response: { 201: newKeyOutput, ...problems(400, 401, 403, 413, 415, 429) },
    },
  }, async (request, reply) => {
    const { role, name, owner, expiresAt } = request.body
    if (expiresAt !== undefined && Date.parse(expiresAt) <= Date.now()) throw new BadRequestError(`expiresAt ${expiresAt} is not in the future`)
    const made = await store.keys.create(role, { name, owner, expiresAt: expiresAt === undefined ? undefined : new Date(Date.parse(expiresAt)).toISOString() })
    request.log.info({ madeKeyId: made.keyId, role, by: actorOf(principalOf(request)) }, 'API key created')
    return reply.code(201).send(made)
  })

  app.post<{ Params: { id: string } }>('/v1/keys/:id/revoke', {
    config: ADMIN,
    schema: {
      summary: 'Revoke an API key now (admin); it stays listed. The last admin key that works cannot be revoked (409)',
      tags: ['keys'],
      params: keyIdParams,
      response: { 200: keyOutput, ...problems(400, 401, 403, 404, 409, 429) },
    },
  }, async (request) => {
    const by = actorOf(principalOf(request))
    const key = await store.keys.revoke(request.params.id, by)
    request.log.info({ revokedKeyId: key.keyId, by }, 'API key revoked')
    return key
  })

  app.post<{ Params: { id: string }; Body: { overlapSeconds?: number } }>('/v1/keys/:id/rotate', {
    config: ADMIN,
    // No body at all means the defaults, as an empty object does.
    preValidation: async (request) => {
      request.body ??= {}
    },
    schema: {
      summary: 'Replace an API key with a new one of the same role, name, owner and lifetime (admin); the new key is answered this once, the old one revoked now or after overlapSeconds',
      tags: ['keys'],
      params: keyIdParams,
      body: { type: 'object', additionalProperties: false, properties: { overlapSeconds: { type: 'integer', minimum: 0, maximum: MAX_OVERLAP_SECONDS } } },
      response: { 200: { type: 'object', properties: { ...newKeyOutput.properties, replaced: keyOutput } }, ...problems(400, 401, 403, 404, 409, 413, 415, 429) },
    },
  }, async (request) => {
    const by = actorOf(principalOf(request))
    const made = await store.keys.rotate(request.params.id, request.body.overlapSeconds ?? 0, by)
    request.log.info({ madeKeyId: made.keyId, replacedKeyId: made.replaced.keyId, until: made.replaced.revokedAt, by }, 'API key rotated')
    return made
  })
}

export default routes
