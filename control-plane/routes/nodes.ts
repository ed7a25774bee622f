/**
 * `/v1/nodes`: heartbeats in, the fleet out (revision, lag, last contact, stale), a node removed by an
 * admin. A node key reports only as its own node (store/nodes.ts); the fleet is bounded by `maxNodes`
 * and nodes silent for `nodePruneSeconds` are pruned, on a timer and whenever a new node registers.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { Heartbeat } from '../../protocol/heartbeat.js'
import { NodeId } from '../../protocol/node-id.js'
import { NotFoundError } from '../../lib/errors.js'
import { principalOf } from '../auth.js'
import type { ControlPlaneConfig } from '../config.js'
import type { RouteContext } from '../context.js'
import type { NodeLimits, Reporter } from '../store/nodes.js'
import { cursorString, problems } from './schemas.js'

/** Who is reporting: a node key is bound to one node, an admin key to none. */
export function reporterOf(request: FastifyRequest): Reporter {
  const principal = principalOf(request)
  return { keyId: principal.keyId, bound: principal.role !== 'admin' }
}

/** The fleet limits of `config`. */
export function nodeLimits(config: Readonly<ControlPlaneConfig>): NodeLimits {
  return { maxNodes: config.maxNodes, pruneSeconds: config.nodePruneSeconds }
}

// The timer need not be exact: a stale node pruned up to an hour late harms no one.
const PRUNE_EVERY_MS_MAX = 3_600_000

const routes: FastifyPluginAsync<RouteContext> = async (app, { store, config }) => {
  const limits = nodeLimits(config)
  const prune = async (): Promise<void> => {
    const pruned = await store.nodes.prune(new Date(Date.now() - config.nodePruneSeconds * 1000).toISOString())
    if (pruned > 0) app.log.info({ pruned, nodePruneSeconds: config.nodePruneSeconds }, 'pruned nodes not heard from')
  }
  const timer = setInterval(() => {
    prune().catch((err: unknown) => app.log.warn({ err }, 'pruning nodes failed'))
  }, Math.min(config.nodePruneSeconds * 1000, PRUNE_EVERY_MS_MAX))
  timer.unref()
  app.addHook('onClose', async () => clearInterval(timer))

  app.post<{ Body: Heartbeat }>('/v1/nodes/heartbeat', {
    config: { roles: ['node'] },
    schema: {
      summary: "A node's heartbeat",
      description: 'A node key reports only as the node it first reported as (403 LEAKGATE_ERR_NODE_IDENTITY otherwise); a new node past maxNodes gets 403 LEAKGATE_ERR_NODE_LIMIT.',
      tags: ['nodes'],
      body: Heartbeat,
      response: { ...problems(400, 401, 403, 413, 415, 429) },
    },
  }, async (request, reply) => {
    await store.nodes.heartbeat(request.body, reporterOf(request), limits)
    return reply.code(204).send()
  })

  app.get<{ Querystring: { limit: number; cursor?: string } }>('/v1/nodes', {
    config: { roles: ['analyst'] },
    schema: {
      summary: 'The node fleet, a page at a time (by id)',
      tags: ['nodes'],
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 }, cursor: cursorString },
      },
      response: {
        200: {
          type: 'object',
          properties: {
            items: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  id: { type: 'string' }, version: { type: ['string', 'null'] }, revision: { type: ['integer', 'null'] },
                  lag: { type: ['integer', 'null'] }, indexEntries: { type: ['integer', 'null'] },
                  syncAgeSeconds: { type: ['number', 'null'] }, lastContactAt: { type: 'string' }, stale: { type: 'boolean' },
                },
              },
            },
            revision: { type: 'integer' },
            nextCursor: { type: ['string', 'null'] },
          },
        },
        ...problems(400, 401, 403, 429),
      },
    },
  }, async (request) => {
    const revision = await store.index.revision()
    const staleBefore = Date.now() - config.nodeStaleSeconds * 1000
    const page = await store.nodes.list(request.query.limit, request.query.cursor)
    const items = page.items.map((n) => ({
      ...n,
      lag: n.revision === null ? null : Math.max(0, revision - n.revision),
      stale: Date.parse(n.lastContactAt) < staleBefore,
    }))
    return { items, revision, nextCursor: page.nextCursor }
  })

  app.delete<{ Params: { id: string } }>('/v1/nodes/:id', {
    config: { roles: [] },
    schema: {
      summary: 'Remove a node from the fleet (admin)',
      description: 'Its row goes and its key may register again; a node still running reappears at its next heartbeat (revoke its key to keep it out).',
      tags: ['nodes'],
      params: { type: 'object', additionalProperties: false, required: ['id'], properties: { id: NodeId } },
      response: { ...problems(400, 401, 403, 404, 429) },
    },
  }, async (request, reply) => {
    const { id } = request.params
    if (!(await store.nodes.remove(id))) throw new NotFoundError(`no node "${id}"`)
    // The audit log is of leak decisions; removing a node is logged with who did it.
    request.log.info({ nodeId: id, keyId: principalOf(request).keyId }, 'node removed by an admin')
    return reply.code(204).send()
  })
}

export default routes
