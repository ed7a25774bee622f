/**
 * Who may call what. Each `/v1` route declares the roles allowed in its `config.roles` (admin is
 * always allowed); an `onRequest` hook, before the body is even read, answers 401 to a missing or
 * unknown key and 403 to a key whose role is not listed. A `/v1` route without `config.roles`
 * refuses to register, so no route can be left open by forgetting.
 *
 * Failed authentication (a key presented that is unknown or malformed) is counted per client address
 * and per key id, through @fastify/rate-limit's counters. Past `authFailuresPerMinute` in a minute, a
 * failure from that address (or with that key id) is answered 429 with `Retry-After` instead of 401.
 * A right key is never limited: nodes and analysts behind the same address as a guesser keep working,
 * and keys of 24 characters or more cannot be guessed anyway; what the limit stops is the flood. A
 * request without any key is not a guess and is not counted (the console asks before signing in); a
 * known key without the role (403) neither.
 */
import fastifyRateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ForbiddenError, RateLimitedError, UnauthorizedError } from '../lib/errors.js'
import { keyIdOf, type KeyRepo, type Principal, type Role } from './store/keys.js'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Counts a failed authentication of `request` (an unknown or malformed key) against its address
     * and the key id it presented; throws the 429 once past the limit. For routes that check a key of
     * their own (`/metrics`), so every failed authentication is limited alike.
     */
    authFailure(request: FastifyRequest, reply: FastifyReply): Promise<void>
  }
  interface FastifyRequest {
    /** The caller, set by the auth hook on routes that declare roles. */
    principal?: Principal
  }
  interface FastifyContextConfig {
    /** Roles allowed besides admin; routes without it are public (health, docs, console). */
    roles?: readonly Role[]
    /**
     * A request without any Authorization header passes with no principal (the range check, when the
     * operator opens it). A key that is sent is still checked: a wrong one is a 401, as anywhere.
     */
    anonymous?: boolean
  }
}

const BEARER = /^Bearer[ \t]+([\x21-\x7e]{1,512})[ \t]*$/i

/** The key of an `Authorization: Bearer <key>` header, or undefined when the header is absent or malformed. */
export function bearerKey(header: string | undefined): string | undefined {
  return header === undefined ? undefined : BEARER.exec(header)?.[1]
}

/**
 * What checks a presented credential: the API keys, or a verifier that also knows console sessions
 * (`lgs_` tokens, control-plane/store/sessions.ts).
 */
export type Credentials = Pick<KeyRepo, 'check'>

/** The principal of a request whose route declares roles; throws 401/403 otherwise. */
export async function authenticate(keys: Credentials, request: FastifyRequest, roles: readonly Role[]): Promise<Principal> {
  const header = request.headers.authorization
  if (header === undefined) throw new UnauthorizedError('this route needs an API key: send Authorization: Bearer <key>')
  const match = BEARER.exec(header)
  if (match?.[1] === undefined) throw new UnauthorizedError('the Authorization header must be "Bearer <key>"')
  const checked = await keys.check(match[1])
  if (checked === undefined) throw new UnauthorizedError('the API key is not known to this control plane')
  if ('refused' in checked) throw new UnauthorizedError(checked.refused)
  const { principal } = checked
  if (principal.role !== 'admin' && !roles.includes(principal.role)) {
    throw new ForbiddenError(`a ${principal.role} key may not do this; it needs ${['admin', ...roles].join(' or ')}`)
  }
  return principal
}

/** How failed authentication is limited. */
export interface AuthLimits {
  /** Failed authentications a client address, or a key id, may make in a minute. */
  failuresPerMinute: number
}

const WINDOW_MS = 60_000

/** The key id of the key a request presents (well-formed or not), or undefined when it presents none. */
function presentedKeyId(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header === undefined) return undefined
  const match = BEARER.exec(header)
  return match?.[1] === undefined ? undefined : keyIdOf(match[1])
}

/**
 * Installs the auth hook and the guard that every `/v1` route declares its roles. Registers
 * `@fastify/rate-limit` (not limiting any route by itself) for its counters of failures.
 */
export async function installAuth(app: FastifyInstance, keys: Credentials, limits: AuthLimits): Promise<void> {
  await app.register(fastifyRateLimit, { global: false })
  const max = limits.failuresPerMinute
  // Counters of failures only: a request is counted once its key has failed.
  const byAddress = app.createRateLimit({ max, timeWindow: WINDOW_MS })
  const byKeyId = app.createRateLimit({ max, timeWindow: WINDOW_MS, keyGenerator: (request) => presentedKeyId(request) ?? '' })
  /** Counts a failure of `request`; returns the seconds to wait when it is past the limit, else 0. */
  const countFailure = async (request: FastifyRequest, keyId: string | undefined): Promise<number> => {
    let wait = 0
    for (const limiter of keyId === undefined ? [byAddress] : [byAddress, byKeyId]) {
      const state = await limiter(request)
      if (!state.isAllowed && state.isExceeded) wait = Math.max(wait, state.ttlInSeconds, 1)
    }
    return wait
  }

  const authFailure = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (request.headers.authorization === undefined) return
    const wait = await countFailure(request, presentedKeyId(request))
    if (wait > 0) {
      reply.header('retry-after', String(wait))
      throw new RateLimitedError(`too many failed authentications from this address or with this key; try again in ${wait} s`)
    }
  }
  app.decorate('authFailure', authFailure)

  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/v1/') && route.config?.roles === undefined) {
      throw new Error(`route ${String(route.method)} ${route.url} must declare config.roles`)
    }
  })
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const roles = request.routeOptions.config.roles
    if (roles === undefined) return
    if (request.routeOptions.config.anonymous === true && request.headers.authorization === undefined) return
    try {
      request.principal = await authenticate(keys, request, roles)
    } catch (err) {
      if (err instanceof UnauthorizedError) {
        reply.header('www-authenticate', 'Bearer realm="leakgate"')
        await authFailure(request, reply)
      }
      throw err
    }
  })
}

/** The caller of a route that declares roles (set by the hook). */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === undefined) throw new Error('principalOf called on a route without config.roles')
  return request.principal
}
