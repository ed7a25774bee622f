/**
 * The control plane's side of errors: fastify's error handler, which answers every error as
 * `application/problem+json` (lib/problem.ts). The codes themselves are in lib/errors.ts.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { BadRequestError, BodyTooLargeError, InternalError, UnsupportedMediaTypeError, ValidationError, isLeakgateError } from '../lib/errors.js'
import { PROBLEM_TYPE, problem, problemOf, type Problem } from '../lib/problem.js'

/**
 * Maps any error thrown in a route or by fastify itself to a problem. Fastify's own errors
 * (schema validation, body parsing and size) become ours so clients see one family of codes;
 * anything unexpected, ours at status 500 and up included, is a 500 whose detail reveals nothing.
 * `bodyLimit`: the route's, named when a body is too large.
 */
export function toProblem(err: FastifyError, bodyLimit: number): Problem {
  if (err.validation !== undefined) return problemOf(new ValidationError(err.message))
  if (isLeakgateError(err) && err.statusCode < 500) return problemOf(err)
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return problemOf(new BodyTooLargeError(bodyLimit))
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return problemOf(new UnsupportedMediaTypeError('send the body as application/json'))
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return problemOf(new BadRequestError('the body is empty; send a JSON object'))
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return problemOf(new BadRequestError('the body is not valid JSON'))
  }
  const status = err.statusCode ?? 500
  if (status >= 400 && status < 500) {
    // A client error raised by fastify or a plugin, answered with its own status.
    return problem(BadRequestError.code, status, err.message)
  }
  return problemOf(new InternalError('an internal error occurred; the control plane log has the details'))
}

/** Sends a problem as `application/problem+json`. */
export function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  return reply.code(p.status).type(PROBLEM_TYPE).send(p)
}

/** fastify's error handler: logs server faults, answers every error as problem+json. */
export function errorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const p = toProblem(err, request.routeOptions.bodyLimit)
  if (p.status >= 500) request.log.error({ err }, 'request failed')
  else request.log.info({ code: p.code, status: p.status }, 'request refused')
  return sendProblem(reply, p)
}
