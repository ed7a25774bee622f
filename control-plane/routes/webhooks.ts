/**
 * `/v1/webhooks` (admin only): endpoints that receive events, their secrets (answered once: when made
 * and when rotated), their deliveries, and redelivery. Shapes: docs/api.md "Webhooks"; receiving and
 * verifying: docs/webhooks.md.
 */
import type { FastifyPluginAsync } from 'fastify'
import { NotFoundError } from '../../lib/errors.js'
import { principalOf } from '../auth.js'
import type { RouteContext } from '../context.js'
import { EVENT_TYPES, type EventType } from '../store/events.js'
import type { WebhookFormat, WebhookInput } from '../store/webhooks.js'
import { newWebhookSecret } from '../webhook-signature.js'
import { checkEndpointUrl } from '../webhooks.js'
import { cursorString, idParams, problems } from './schemas.js'

interface WebhookBody {
  url: string
  description?: string | null
  events: EventType[]
  format?: WebhookFormat
  enabled?: boolean
}

/** The longest a rotated secret may keep signing beside the new one. */
const MAX_OVERLAP_SECONDS = 7 * 86_400

const ADMIN = { roles: [] }
const eventsInput = { type: 'array', minItems: 1, maxItems: EVENT_TYPES.length, uniqueItems: true, items: { type: 'string', enum: [...EVENT_TYPES] } } as const
const urlInput = { type: 'string', minLength: 1, maxLength: 2048, format: 'text' } as const
const descriptionInput = { type: ['string', 'null'], minLength: 1, maxLength: 500, format: 'text' } as const
const formatInput = { type: 'string', enum: ['json', 'slack'] } as const

const webhookOutput = {
  type: 'object',
  properties: {
    id: { type: 'integer' }, url: { type: 'string' }, description: { type: ['string', 'null'] },
    events: { type: 'array', items: { type: 'string' } }, format: { type: 'string' }, enabled: { type: 'boolean' },
    previousSecretExpiresAt: { type: ['string', 'null'] }, createdAt: { type: 'string' }, updatedAt: { type: 'string' },
  },
} as const

/** An endpoint with its secret: the one answer that carries it. */
const webhookWithSecret = { type: 'object', properties: { ...webhookOutput.properties, secret: { type: 'string' } } } as const

const deliveryOutput = {
  type: 'object',
  properties: {
    id: { type: 'integer' }, webhookId: { type: 'integer' }, eventId: { type: 'integer' }, eventType: { type: 'string' },
    status: { type: 'string' }, attempts: { type: 'integer' }, responseCode: { type: ['integer', 'null'] },
    durationMs: { type: ['integer', 'null'] }, lastError: { type: ['string', 'null'] }, nextAttemptAt: { type: ['string', 'null'] },
    createdAt: { type: 'string' }, deliveredAt: { type: ['string', 'null'] },
  },
} as const

const routes: FastifyPluginAsync<RouteContext> = async (app, { store, config }) => {
  const allowPrivate = config.webhooks.allowPrivateTargets
  const require = async (id: number) => {
    const hook = await store.webhooks.get(id)
    if (hook === undefined) throw new NotFoundError(`there is no webhook ${id}`)
    return hook
  }

  app.post<{ Body: WebhookBody }>('/v1/webhooks', {
    config: ADMIN,
    schema: {
      summary: 'Add a webhook endpoint (admin); the answer carries its signing secret, shown this once',
      tags: ['webhooks'],
      body: {
        type: 'object', additionalProperties: false, required: ['url', 'events'],
        properties: { url: urlInput, description: descriptionInput, events: eventsInput, format: formatInput, enabled: { type: 'boolean' } },
      },
      response: { 201: webhookWithSecret, ...problems(400, 401, 403, 413, 415, 429) },
    },
  }, async (request, reply) => {
    checkEndpointUrl(request.body.url, allowPrivate)
    const secret = newWebhookSecret()
    const hook = await store.webhooks.create(request.body as WebhookInput, secret)
    request.log.info({ webhookId: hook.id, keyId: principalOf(request).keyId }, 'webhook endpoint added')
    return reply.code(201).send({ ...hook, secret })
  })

  app.get('/v1/webhooks', {
    config: ADMIN,
    schema: {
      summary: 'Every webhook endpoint (admin; secrets are never shown again)',
      tags: ['webhooks'],
      response: { 200: { type: 'object', properties: { items: { type: 'array', items: webhookOutput } } }, ...problems(401, 403, 429) },
    },
  }, async () => ({ items: await store.webhooks.list() }))

  app.get<{ Params: { id: number } }>('/v1/webhooks/:id', {
    config: ADMIN,
    schema: { summary: 'One webhook endpoint (admin)', tags: ['webhooks'], params: idParams, response: { 200: webhookOutput, ...problems(400, 401, 403, 404, 429) } },
  }, async (request) => require(request.params.id))

  app.patch<{ Params: { id: number }; Body: Partial<WebhookBody> }>('/v1/webhooks/:id', {
    config: ADMIN,
    schema: {
      summary: 'Change a webhook endpoint: url, description, events, format, enabled (admin)',
      tags: ['webhooks'],
      params: idParams,
      body: {
        type: 'object', additionalProperties: false, minProperties: 1,
        properties: { url: urlInput, description: descriptionInput, events: eventsInput, format: formatInput, enabled: { type: 'boolean' } },
      },
      response: { 200: webhookOutput, ...problems(400, 401, 403, 404, 413, 415, 429) },
    },
  }, async (request) => {
    if (request.body.url !== undefined) checkEndpointUrl(request.body.url, allowPrivate)
    const hook = await store.webhooks.update(request.params.id, request.body as Partial<WebhookInput>)
    if (hook === undefined) throw new NotFoundError(`there is no webhook ${request.params.id}`)
    return hook
  })

  app.delete<{ Params: { id: number } }>('/v1/webhooks/:id', {
    config: ADMIN,
    schema: { summary: 'Remove a webhook endpoint and its deliveries (admin)', tags: ['webhooks'], params: idParams, response: problems(400, 401, 403, 404, 429) },
  }, async (request, reply) => {
    if (!(await store.webhooks.remove(request.params.id))) throw new NotFoundError(`there is no webhook ${request.params.id}`)
    request.log.info({ webhookId: request.params.id, keyId: principalOf(request).keyId }, 'webhook endpoint removed')
    return reply.code(204).send()
  })

  app.post<{ Params: { id: number }; Body: { overlapSeconds?: number } }>('/v1/webhooks/:id/rotate-secret', {
    config: ADMIN,
    // No body at all means the defaults, as an empty object does.
    preValidation: async (request) => {
      request.body ??= {}
    },
    schema: {
      summary: 'Give a webhook endpoint a new secret (admin); the old one keeps signing beside it for overlapSeconds (default a day)',
      tags: ['webhooks'],
      params: idParams,
      body: { type: 'object', additionalProperties: false, properties: { overlapSeconds: { type: 'integer', minimum: 0, maximum: MAX_OVERLAP_SECONDS } } },
      response: { 200: webhookWithSecret, ...problems(400, 401, 403, 404, 413, 415, 429) },
    },
  }, async (request) => {
    const overlap = request.body.overlapSeconds ?? 86_400
    const secret = newWebhookSecret()
    const hook = await store.webhooks.rotateSecret(request.params.id, secret, new Date(Date.now() + overlap * 1000).toISOString())
    if (hook === undefined) throw new NotFoundError(`there is no webhook ${request.params.id}`)
    request.log.info({ webhookId: hook.id, overlapSeconds: overlap, keyId: principalOf(request).keyId }, 'webhook secret rotated')
    return { ...hook, secret }
  })

  app.get<{ Params: { id: number }; Querystring: { limit: number; cursor?: string } }>('/v1/webhooks/:id/deliveries', {
    config: ADMIN,
    schema: {
      summary: "A webhook endpoint's deliveries, newest first (admin)",
      tags: ['webhooks'],
      params: idParams,
      querystring: {
        type: 'object', additionalProperties: false,
        properties: { limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 }, cursor: cursorString },
      },
      response: {
        200: { type: 'object', properties: { items: { type: 'array', items: deliveryOutput }, nextCursor: { type: ['string', 'null'] } } },
        ...problems(400, 401, 403, 404, 429),
      },
    },
  }, async (request) => {
    await require(request.params.id)
    return store.webhooks.deliveries(request.params.id, request.query.limit, request.query.cursor)
  })

  app.post<{ Params: { id: number } }>('/v1/webhooks/deliveries/:id/redeliver', {
    config: ADMIN,
    schema: {
      summary: 'Send a delivery again, whatever its state: queued now, its attempts counted afresh (admin)',
      tags: ['webhooks'],
      params: idParams,
      response: { 202: deliveryOutput, ...problems(400, 401, 403, 404, 429) },
    },
  }, async (request, reply) => {
    const delivery = await store.webhooks.redeliver(request.params.id, config.webhooks.giveUpSeconds)
    if (delivery === undefined) throw new NotFoundError(`there is no webhook delivery ${request.params.id}`)
    return reply.code(202).send(delivery)
  })
}

export default routes
