/**
 * `/v1/sessions` (admin only): the console sessions of people signed in through OpenID Connect, listed
 * (never a token or its hash) and ended: all of a person's at once (someone who left), or one by its
 * id. An ended session's next request gets 401 saying it was ended. Sessions past their end are pruned
 * on a timer here, not only when someone signs in. Shapes: docs/api.md "Console sessions".
 */
import type { FastifyPluginAsync } from 'fastify'
import { BadRequestError } from '../../lib/errors.js'
import { principalOf } from '../auth.js'
import type { RouteContext } from '../context.js'
import { actorOf } from '../store/keys.js'
import { PERSON_MAX } from '../store/sessions.js'
import { problems } from './schemas.js'

const ADMIN = { roles: [] }

/** How often sessions past their end are removed: they no longer work anyway, so late costs nothing but rows. */
const PRUNE_EVERY_MS = 600_000

const sessionOutput = {
  type: 'object',
  properties: {
    id: { type: 'string' }, person: { type: 'string' }, role: { type: 'string', enum: ['admin', 'analyst'] },
    createdAt: { type: 'string' }, expiresAt: { type: 'string' }, lastUsedAt: { type: ['string', 'null'] },
    endedAt: { type: ['string', 'null'] }, endedBy: { type: ['string', 'null'] }, state: { type: 'string', enum: ['active', 'ended', 'expired'] },
  },
} as const

const person = { type: 'string', minLength: 1, maxLength: PERSON_MAX, format: 'text' } as const
const sessionId = { type: 'string', pattern: '^session_[0-9a-f]{8}$' } as const

const routes: FastifyPluginAsync<RouteContext> = async (app, { store }) => {
  const timer = setInterval(() => {
    store.sessions.prune().then((pruned) => {
      if (pruned > 0) app.log.debug({ pruned }, 'removed console sessions and sign-ins past their end')
    }, (err: unknown) => app.log.warn({ err }, 'pruning console sessions failed'))
  }, PRUNE_EVERY_MS)
  timer.unref()
  app.addHook('onClose', async () => clearInterval(timer))

  app.get<{ Querystring: { person?: string } }>('/v1/sessions', {
    config: ADMIN,
    schema: {
      summary: 'Console sessions, newest first: live, ended, and expired ones not yet removed (admin; never a token)',
      tags: ['sessions'],
      querystring: { type: 'object', additionalProperties: false, properties: { person } },
      response: { 200: { type: 'object', properties: { items: { type: 'array', items: sessionOutput } } }, ...problems(400, 401, 403, 429) },
    },
  }, async (request) => ({ items: await store.sessions.list(request.query.person) }))

  app.post<{ Body: { person?: string; id?: string } }>('/v1/sessions/end', {
    config: ADMIN,
    schema: {
      summary: "End a person's console sessions ({ person }, and their sign-ins under way), or one session ({ id }), now (admin)",
      description: 'Each ended session stops working at once: its next request gets 401. The person can sign in again while the provider still gives them a role.',
      tags: ['sessions'],
      body: { type: 'object', additionalProperties: false, properties: { person, id: sessionId } },
      response: { 200: { type: 'object', properties: { ended: { type: 'array', items: sessionOutput } } }, ...problems(400, 401, 403, 404, 413, 415, 429) },
    },
  }, async (request) => {
    const { person: who, id } = request.body
    if ((who === undefined) === (id === undefined)) throw new BadRequestError('give "person" (every session of that person) or "id" (one session), not both')
    const by = actorOf(principalOf(request))
    const ended = id === undefined ? await store.sessions.endPerson(who ?? '', by) : await store.sessions.end(id, by)
    request.log.info({ ended: ended.map((s) => s.id), ...(who === undefined ? {} : { person: who }), by }, 'console sessions ended')
    return { ended }
  })
}

export default routes
