/**
 * Admission, the first step of a request on the proxy port, before any credential is read: what the
 * node would not forward whatever the request carries is refused here, in one place, so that it is
 * never judged, counted as a verdict or recorded as a sighting. In order: the node is draining (503),
 * a method not forwarded (405), a target that is not a path inside the upstream (400), a
 * Content-Length past the body limit (413; a chunked body is counted as it streams, in forward.ts).
 * Malformed framing never gets this far: node:http refuses it (answer.ts `answerClientError`).
 */
import type { IncomingMessage } from 'node:http'
import { refusal, type Refusal } from './answer.js'
import { BadRequestError, BodyTooLargeError, MethodNotForwardedError, ShuttingDownError } from '../lib/errors.js'

/** The methods forwarded, as @fastify/http-proxy routed them; others are refused 405. */
export const FORWARDED_METHODS: ReadonlySet<string> = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT'])

// Requests that reach a draining node (on a connection kept alive) go elsewhere; the connection ends
// with the answer so the server can close.
const DRAINING = refusal('draining', new ShuttingDownError(), undefined, true)

/**
 * Why a request target cannot be forwarded, or undefined when it can. Only origin-form targets are
 * forwarded; `//host/...` and `..` segments (also percent-encoded) are refused as @fastify/reply-from
 * refused them, so no upstream router is handed a path that climbs out of where it routes.
 */
export function badTarget(url: string): string | undefined {
  if (url.charCodeAt(0) !== 47 || url.charCodeAt(1) === 47) return 'the request target must be a path starting with a single /'
  const q = url.indexOf('?')
  const end = q === -1 ? url.length : q
  // Most paths hold neither: answered without slicing the path out.
  const dot = url.indexOf('.')
  const pct = url.indexOf('%')
  if ((dot === -1 || dot >= end) && (pct === -1 || pct >= end)) return undefined
  const decoded = url.slice(0, end).replace(/%2e/gi, '.').replace(/%2f/gi, '/').replace(/%5c/gi, '\\')
  if (decoded.includes('/..') || decoded.includes('../') || decoded.includes('\\..') || decoded.includes('..\\')) return 'the path has a .. segment'
  return undefined
}

/**
 * Admits a request, or says why not. Allocates nothing for a request it admits.
 * @param bodyLimit largest request body in bytes
 * @param draining the node is shutting down
 */
export function admit(req: IncomingMessage, bodyLimit: number, draining: boolean): Refusal | undefined {
  if (draining) return DRAINING
  const method = req.method ?? ''
  if (!FORWARDED_METHODS.has(method)) return refusal('method', new MethodNotForwardedError(method.slice(0, 20)))
  const bad = badTarget(req.url ?? '/')
  if (bad !== undefined) {
    return refusal('target', new BadRequestError(`the request cannot be forwarded as sent: ${bad}`))
  }
  const cl = req.headers['content-length']
  if (cl !== undefined && Number(cl) > bodyLimit) return refusal('body_too_large', new BodyTooLargeError(bodyLimit))
  return undefined
}
