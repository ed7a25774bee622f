/**
 * Every error the control plane answers with, defined once (`LEAKGATE_ERR_*` via @fastify/error), and
 * the one function that turns any error into an `application/problem+json` reply (docs/api.md).
 * Tests check `code`, never the message text.
 */
import createError from '@fastify/error'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'

/** 400: the request's shape or values are wrong; `detail` says which field and why. */
export const BadRequestError = createError('LEAKGATE_ERR_BAD_REQUEST', '%s', 400)
/** 400: the body, query or params failed the route's JSON schema. */
export const ValidationError = createError('LEAKGATE_ERR_VALIDATION', '%s', 400)
/** 401: no key, or a key the control plane does not know. */
export const UnauthorizedError = createError('LEAKGATE_ERR_UNAUTHORIZED', '%s', 401)
/** 403: a known key whose role lacks the right. */
export const ForbiddenError = createError('LEAKGATE_ERR_FORBIDDEN', '%s', 403)
/** 404: no such leak, scan, or route. */
export const NotFoundError = createError('LEAKGATE_ERR_NOT_FOUND', '%s', 404)
/** 410: the changes asked for are no longer kept (or the store was reset); fetch the snapshot. */
export const SyncGoneError = createError('LEAKGATE_ERR_SYNC_GONE', '%s', 410)
/** 413: the body is larger than `bodyLimit`. */
export const BodyTooLargeError = createError('LEAKGATE_ERR_BODY_TOO_LARGE', '%s', 413)
/** 415: the body is not JSON. */
export const UnsupportedMediaTypeError = createError('LEAKGATE_ERR_UNSUPPORTED_MEDIA_TYPE', '%s', 415)
/** 500: a fault of ours; the detail never includes internals. */
export const InternalError = createError('LEAKGATE_ERR_INTERNAL', '%s', 500)

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  410: 'Gone',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
}

/** The body of every error reply. */
export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  code: string
}

/** The problem+json JSON schema, shared by the routes' response declarations (OpenAPI). */
export const problemSchema = {
  $id: 'Problem',
  type: 'object',
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string' },
  },
} as const

function slug(code: string): string {
  return code.replace(/^LEAKGATE_ERR_/, '').toLowerCase().replace(/_/g, '-')
}

/** Makes a problem document for a code, status and detail. */
export function problem(code: string, status: number, detail: string): Problem {
  return {
    type: `https://leakgate.dev/problems/${slug(code)}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    code,
  }
}

/**
 * Maps any error thrown in a route or by fastify itself to a problem. Fastify's own errors
 * (schema validation, body parsing and size) become ours so clients see one family of codes;
 * anything unexpected is a 500 whose detail reveals nothing.
 */
export function toProblem(err: FastifyError): Problem {
  if (err.validation !== undefined) {
    return problem('LEAKGATE_ERR_VALIDATION', 400, err.message)
  }
  if (err.code?.startsWith('LEAKGATE_ERR_') && err.statusCode !== undefined) {
    return problem(err.code, err.statusCode, err.message)
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return problem('LEAKGATE_ERR_BODY_TOO_LARGE', 413, 'the request body is larger than the bodyLimit option allows')
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return problem('LEAKGATE_ERR_UNSUPPORTED_MEDIA_TYPE', 415, 'send the body as application/json')
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return problem('LEAKGATE_ERR_BAD_REQUEST', 400, 'the body is empty; send a JSON object')
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return problem('LEAKGATE_ERR_BAD_REQUEST', 400, 'the body is not valid JSON')
  }
  const status = err.statusCode ?? 500
  if (status >= 400 && status < 500) {
    // A client error raised by fastify or a plugin (a malformed JSON body, for example).
    return problem('LEAKGATE_ERR_BAD_REQUEST', status, err.message)
  }
  return problem('LEAKGATE_ERR_INTERNAL', 500, 'an internal error occurred; the control plane log has the details')
}

/** Sends a problem as `application/problem+json`. */
export function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  return reply.code(p.status).type('application/problem+json').send(p)
}

/** fastify's error handler: logs server faults, answers every error as problem+json. */
export function errorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const p = toProblem(err)
  if (p.status >= 500) request.log.error({ err }, 'request failed')
  else request.log.info({ code: p.code, status: p.status }, 'request refused')
  return sendProblem(reply, p)
}
