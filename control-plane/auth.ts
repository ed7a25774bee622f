/**
 * Who may call what. Each `/v1` route declares the roles allowed in its `config.roles` (admin is
 * always allowed); an `onRequest` hook, before the body is even read, answers 401 to a missing or
 * unknown key and 403 to a key whose role is not listed. A `/v1` route without `config.roles`
 * refuses to register, so no route can be left open by forgetting.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ForbiddenError, UnauthorizedError } from '../lib/errors.js'
import type { KeyRepo, Principal, Role } from './store/keys.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller, set by the auth hook on routes that declare roles. */
    principal?: Principal
  }
  interface FastifyContextConfig {
    /** Roles allowed besides admin; routes without it are public (health, docs, console). */
    roles?: readonly Role[]
  }
}

const BEARER = /^Bearer[ \t]+([\x21-\x7e]{1,512})[ \t]*$/i

/** The principal of a request whose route declares roles; throws 401/403 otherwise. */
export function authenticate(keys: KeyRepo, request: FastifyRequest, roles: readonly Role[]): Principal {
  const header = request.headers.authorization
  if (header === undefined) throw new UnauthorizedError('this route needs an API key: send Authorization: Bearer <key>')
  const match = BEARER.exec(header)
  if (match?.[1] === undefined) throw new UnauthorizedError('the Authorization header must be "Bearer <key>"')
  const principal = keys.verify(match[1])
  if (principal === undefined) throw new UnauthorizedError('the API key is not known to this control plane')
  if (principal.role !== 'admin' && !roles.includes(principal.role)) {
    throw new ForbiddenError(`a ${principal.role} key may not do this; it needs ${['admin', ...roles].join(' or ')}`)
  }
  return principal
}

/** Installs the auth hook and the guard that every `/v1` route declares its roles. */
export function installAuth(app: FastifyInstance, keys: KeyRepo): void {
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/v1/') && route.config?.roles === undefined) {
      throw new Error(`route ${String(route.method)} ${route.url} must declare config.roles`)
    }
  })
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const roles = request.routeOptions.config.roles
    if (roles === undefined) return
    try {
      request.principal = authenticate(keys, request, roles)
    } catch (err) {
      if (err instanceof UnauthorizedError) reply.header('www-authenticate', 'Bearer realm="leakgate"')
      throw err
    }
  })
}

/** The caller of a route that declares roles (set by the hook). */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === undefined) throw new Error('principalOf called on a route without config.roles')
  return request.principal
}
