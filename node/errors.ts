/**
 * Every error code of the edge node, defined once with the HTTP status it maps to.
 *
 * Replies are `application/problem+json` (docs/api.md); tests check `code`, never message text.
 * No message here ever carries a credential: only leak ids, counts and limits.
 */
import type { ServerResponse } from 'node:http'
import createError from '@fastify/error'

/** A request carried a credential of a leak whose action is `block`. */
export const LeakedCredentialError = createError<'LEAKGATE_ERR_LEAKED_CREDENTIAL', 403, [number]>(
  'LEAKGATE_ERR_LEAKED_CREDENTIAL',
  'this request carries a credential that has leaked (leak %s); it is blocked until the credential is rotated',
  403,
)

/** The node has never loaded an index and `noIndex` is `closed`. */
export const NoIndexError = createError<'LEAKGATE_ERR_NO_INDEX', 503>(
  'LEAKGATE_ERR_NO_INDEX',
  'this node has not loaded a leak index yet and is configured to refuse traffic until it has (LEAKGATE_NO_INDEX=closed)',
  503,
)

/** More credentials in one request than `maxCredentials`: the node cannot check them all cheaply. */
export const TooManyCredentialsError = createError<'LEAKGATE_ERR_TOO_MANY_CREDENTIALS', 400, [number]>(
  'LEAKGATE_ERR_TOO_MANY_CREDENTIALS',
  'this request carries more than %s credentials; send fewer',
  400,
)

/** A credential longer than `maxCredentialLength`. */
export const CredentialTooLongError = createError<'LEAKGATE_ERR_CREDENTIAL_TOO_LONG', 400, [number]>(
  'LEAKGATE_ERR_CREDENTIAL_TOO_LONG',
  'a credential of this request is longer than %s characters',
  400,
)

/** The request body is larger than `bodyLimit`. */
export const BodyTooLargeError = createError<'LEAKGATE_ERR_BODY_TOO_LARGE', 413, [number]>(
  'LEAKGATE_ERR_BODY_TOO_LARGE',
  'the request body is larger than %s bytes',
  413,
)

/** The upstream could not be reached or broke the connection. */
export const UpstreamError = createError<'LEAKGATE_ERR_UPSTREAM', 502>(
  'LEAKGATE_ERR_UPSTREAM',
  'the upstream could not be reached or answered badly',
  502,
)

/** The upstream did not answer in time. */
export const UpstreamTimeoutError = createError<'LEAKGATE_ERR_UPSTREAM_TIMEOUT', 504>(
  'LEAKGATE_ERR_UPSTREAM_TIMEOUT',
  'the upstream did not answer in time',
  504,
)

/** The control plane answered a sync request badly (status or body). */
export const SyncError = createError<'LEAKGATE_ERR_SYNC', 502, [string, { cause: unknown }?]>(
  'LEAKGATE_ERR_SYNC',
  'sync with the control plane failed: %s',
  502,
)

/** A request the node cannot forward as it is (a path that escapes the upstream, a malformed request). */
export const BadRequestError = createError<'LEAKGATE_ERR_BAD_REQUEST', 400>('LEAKGATE_ERR_BAD_REQUEST', 'the request cannot be forwarded as sent', 400)

/** A method the node does not forward (CONNECT, TRACE, WebDAV verbs...). */
export const MethodNotForwardedError = createError<'LEAKGATE_ERR_METHOD_NOT_FORWARDED', 405, [string]>(
  'LEAKGATE_ERR_METHOD_NOT_FORWARDED',
  'this node does not forward %s requests; it forwards DELETE, GET, HEAD, OPTIONS, PATCH, POST and PUT',
  405,
)

/** The node is draining for shutdown: requests that arrive now go to another node. */
export const ShuttingDownError = createError<'LEAKGATE_ERR_SHUTTING_DOWN', 503>(
  'LEAKGATE_ERR_SHUTTING_DOWN',
  'this node is shutting down; send the request again (to another node)',
  503,
)

/** Anything else that went wrong inside the node. */
export const InternalError = createError<'LEAKGATE_ERR_INTERNAL', 500>('LEAKGATE_ERR_INTERNAL', 'the node could not complete this request', 500)

/** The node was started with options that cannot work together. */
export const NodeOptionError = createError<'LEAKGATE_ERR_NODE_OPTION', 500, [string]>(
  'LEAKGATE_ERR_NODE_OPTION',
  '%s',
  500,
)

/** Fixed problem `type` slugs (docs/api.md). */
export function problemType(code: string): string {
  return `https://leakgate.dev/problems/${code.replace(/^LEAKGATE_ERR_/, '').toLowerCase().replaceAll('_', '-')}`
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
}

/** The problem+json body of an error; `extra` fields (such as `leakId`) are added at the top level. */
export function problemBody(status: number, code: string, detail: string, extra?: Record<string, unknown>): string {
  return JSON.stringify({ type: problemType(code), title: TITLES[status] ?? 'Error', status, detail, code, ...extra })
}

/**
 * Answers a problem straight on a node:http response (the proxy port has no framework in front).
 * `close`: end the connection after the answer, when the request's body was not read to its end.
 */
export function writeProblem(
  res: ServerResponse,
  status: number,
  code: string,
  detail: string,
  options: { extra?: Record<string, unknown>; headers?: Record<string, string>; close?: boolean } = {},
): void {
  const body = problemBody(status, code, detail, options.extra)
  if (options.close === true) res.shouldKeepAlive = false
  res.writeHead(status, { 'content-type': 'application/problem+json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body), ...options.headers })
  res.end(body)
}
