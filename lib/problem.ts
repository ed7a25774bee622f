/**
 * The one `application/problem+json` body (RFC 9457) every error answer of Leakgate carries:
 * `{ type, title, status, detail, code, ...extra }` (docs/api.md). The control plane sends it through
 * fastify (control-plane/errors.ts); the node writes it straight on node:http (`writeProblem`), on its
 * refusal path, so building one costs a cached lookup and one JSON.stringify.
 */
import type { ServerResponse } from 'node:http'
import type { LeakgateError } from './errors.js'

/** The media type of every error answer. */
export const PROBLEM_TYPE = 'application/problem+json'

/** The body of every error answer; `extra` fields (the node's `leakId`) sit at the top level. */
export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  code: string
  [extra: string]: unknown
}

/** The problem's JSON schema, shared by the control plane's response declarations (OpenAPI). */
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

// Written out rather than taken from node:http's STATUS_CODES: the titles are part of the answer, and
// must not change when a Node release renames a reason phrase.
const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  408: 'Request Timeout',
  410: 'Gone',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
}

const types = new Map<string, string>()

/** The fixed `type` URL of a code: code LEAKGATE_ERR_SYNC_GONE has type https://leakgate.dev/problems/sync-gone. */
export function problemType(code: string): string {
  let type = types.get(code)
  if (type === undefined) {
    type = `https://leakgate.dev/problems/${code.replace(/^LEAKGATE_ERR_/, '').toLowerCase().replaceAll('_', '-')}`
    types.set(code, type)
  }
  return type
}

/** Makes a problem from a code, a status and a detail (for a status other than the code's own, such as the node's 408 and 431). */
export function problem(code: string, status: number, detail: string, extra?: Record<string, unknown>): Problem {
  return { type: problemType(code), title: TITLES[status] ?? 'Error', status, detail, code, ...extra }
}

/** Makes the problem of a registry error: its code, its status, its message as the detail. */
export function problemOf(err: LeakgateError, extra?: Record<string, unknown>): Problem {
  return problem(err.code, err.statusCode, err.message, extra)
}

/** The problem as the JSON text of an answer body. */
export function problemBody(status: number, code: string, detail: string, extra?: Record<string, unknown>): string {
  return JSON.stringify(problem(code, status, detail, extra))
}

/**
 * Answers a problem straight on a node:http response (the node's proxy port has no framework in front).
 * `close`: end the connection after the answer, when the request's body was not read to its end.
 * Returns the body bytes sent (none to a HEAD request), which the node counts.
 */
export function writeProblem(
  res: ServerResponse,
  status: number,
  code: string,
  detail: string,
  options: { extra?: Record<string, unknown>; headers?: Record<string, string>; close?: boolean } = {},
): number {
  const body = problemBody(status, code, detail, options.extra)
  const length = Buffer.byteLength(body)
  if (options.close === true) res.shouldKeepAlive = false
  res.writeHead(status, { 'content-type': PROBLEM_TYPE, 'cache-control': 'no-store', 'content-length': length, ...options.headers })
  res.end(body)
  return res.req.method === 'HEAD' ? 0 : length
}
