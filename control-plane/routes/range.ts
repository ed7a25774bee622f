/**
 * `/v1/range`: is a token leaked, asked without showing it. The caller sends the first 5 hex
 * characters of its token's hash and gets every leaked hash with that prefix, padded with decoys
 * (control-plane/range.ts); it looks for its whole hash in the answer itself.
 *
 * Who may ask: a checker key (which may do nothing else), an analyst or admin key, or anyone when
 * the `rangeAnonymous` option is on. Each key, or each address asking without a key, may ask
 * `rangeQueriesPerMinute` times a minute: the limit also bounds how fast anyone can walk all prefixes.
 *
 * A store with a hash key holds HMAC-SHA256(key, SHA-256) only: a plain SHA-256 prefix matches none
 * of it, and answering would call every token clean. The request says which hashes its prefix is of
 * with `Leakgate-Hash-Key-Id` (as nodes do); a mismatch is a 409, never an answer.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { BadRequestError, RangeHashKeyError, RateLimitedError } from '../../lib/errors.js'
import { HASH_KEY_ID_HEADER } from '../../protocol/token-hash.js'
import type { RouteContext } from '../context.js'
import { registerRangeMetrics } from '../metrics.js'
import { paddedRange, RANGE_BUCKET, RANGE_PREFIX_LENGTH, RANGE_PREFIX_PATTERN } from '../range.js'
import { problems } from './schemas.js'

/** Leaked hashes read for one prefix at most: a prefix holds about a millionth of the store's hashes. */
const MAX_REAL = 100_000

/** How long a cache may keep an answer when anyone may ask anyway (`rangeAnonymous`). */
const PUBLIC_MAX_AGE_SECONDS = 60

const routes: FastifyPluginAsync<RouteContext> = async (app, { store, config, metrics }) => {
  const queries = registerRangeMetrics(metrics.registry)
  const roles = ['checker', 'analyst'] as const
  const anonymous = config.rangeAnonymous
  const limiter = app.createRateLimit({
    max: config.rangeQueriesPerMinute,
    timeWindow: 60_000,
    keyGenerator: (request) => request.principal === undefined ? `address:${request.ip}` : `key:${request.principal.keyId}`,
  })
  const limit = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const state = await limiter(request)
    if (!state.isAllowed && state.isExceeded) {
      queries.inc({ outcome: 'limited' })
      const wait = Math.max(state.ttlInSeconds, 1)
      reply.header('retry-after', String(wait))
      throw new RateLimitedError(`too many range checks from this ${request.principal === undefined ? 'address' : 'key'} (rangeQueriesPerMinute: ${config.rangeQueriesPerMinute}); try again in ${wait} s`)
    }
  }
  const keyId = store.hashes.keyId
  const sameHashes = (request: FastifyRequest): void => {
    const header = request.headers[HASH_KEY_ID_HEADER]
    const sent = typeof header === 'string' && header !== '' ? header : undefined
    if (sent === keyId) return
    queries.inc({ outcome: 'keyed' })
    if (sent === undefined) {
      throw new RangeHashKeyError(`this control plane stores keyed token hashes (hash key id ${keyId ?? ''}), which no SHA-256 prefix matches: a range check here needs the prefix of the keyed hash and the ${HASH_KEY_ID_HEADER} header (leakgate check --hash-key-env LEAKGATE_HASH_KEY); the console cannot check tokens here`)
    }
    if (keyId === undefined) {
      throw new RangeHashKeyError(`this control plane stores plain SHA-256 token hashes and the request names a hash key (${HASH_KEY_ID_HEADER}): send the SHA-256 prefix without the header`)
    }
    const shown = /^[0-9a-f]{16}$/.test(sent) ? ` (id ${sent})` : ''
    throw new RangeHashKeyError(`the request's hash key${shown} is not this control plane's (id ${keyId}): use the deployment's hashKey`)
  }
  const cacheControl = anonymous ? `public, max-age=${PUBLIC_MAX_AGE_SECONDS}` : 'no-store'

  app.get('/v1/range', {
    config: { roles, anonymous },
    preHandler: limit,
    schema: {
      summary: 'How range checks work here: prefix length, bucket size, anonymous access, hash key id',
      tags: ['range'],
      response: {
        200: {
          type: 'object',
          required: ['prefixLength', 'bucket', 'anonymous', 'hashKeyId'],
          properties: {
            prefixLength: { type: 'integer' }, bucket: { type: 'integer' }, anonymous: { type: 'boolean' },
            hashKeyId: { type: ['string', 'null'], description: 'the hash key id prefixes must be of keyed hashes under (null: plain SHA-256)' },
          },
        },
        ...problems(401, 403, 429),
      },
    },
  }, async () => ({ prefixLength: RANGE_PREFIX_LENGTH, bucket: RANGE_BUCKET, anonymous, hashKeyId: keyId ?? null }))

  app.get<{ Params: { prefix: string } }>('/v1/range/:prefix', {
    config: { roles, anonymous },
    preHandler: limit,
    schema: {
      summary: 'The leaked token hashes with a 5-hex-character prefix, padded with decoys',
      description: `Every hash whose token is in a leak that is not a false positive (open or closed), plus decoys of the same prefix and shape, sorted: ${RANGE_BUCKET} hashes, or the next multiple of ${RANGE_BUCKET} when more are leaked. Look for your whole hash in it. With a hash key, send ${HASH_KEY_ID_HEADER} and the keyed hash's prefix (409 LEAKGATE_ERR_RANGE_KEYED otherwise).`,
      tags: ['range'],
      params: { type: 'object', required: ['prefix'], properties: { prefix: { type: 'string', maxLength: 1024 } } },
      response: {
        200: {
          type: 'object',
          required: ['prefix', 'hashes'],
          properties: { prefix: { type: 'string' }, hashes: { type: 'array', items: { type: 'string' } } },
        },
        ...problems(400, 401, 403, 409, 429),
      },
    },
  }, async (request, reply) => {
    const raw = request.params.prefix
    if (!RANGE_PREFIX_PATTERN.test(raw)) {
      queries.inc({ outcome: 'invalid' })
      // The value is not repeated: someone may have pasted the token itself.
      throw new BadRequestError(`the prefix must be exactly ${RANGE_PREFIX_LENGTH} hex characters, the start of the token's SHA-256 (printf %s "$TOKEN" | sha256sum | cut -c1-${RANGE_PREFIX_LENGTH}); got ${raw.length} character${raw.length === 1 ? '' : 's'}${/^[0-9a-fA-F]*$/.test(raw) ? '' : ', not all hex'}`)
    }
    sameHashes(request)
    const prefix = raw.toLowerCase()
    const real = await store.leakedHashes.withPrefix(prefix, MAX_REAL)
    const hashes = paddedRange(prefix, real, await store.leakedHashes.decoySecret(), keyId)
    queries.inc({ outcome: 'answered' })
    reply.header('cache-control', cacheControl)
    if (keyId !== undefined) reply.header(HASH_KEY_ID_HEADER, keyId)
    return { prefix, hashes }
  })
}

export default routes
