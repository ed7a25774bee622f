/**
 * Admission, the first step of a request on the proxy port, before any credential is read: what the
 * node would not forward whatever the request carries is refused here, in one place, so that it is
 * never judged, counted as a verdict or recorded as a sighting. In order: the node is draining (503),
 * a method not forwarded (405), a target that is not a path inside the upstream (400), framing the node
 * will not forward (400, connection closed: HTTP/1.0 with Transfer-Encoding, both lengths, an upgrade
 * with a body), a Content-Length past the body limit (413; a chunked body is counted as it streams, in
 * forward.ts). Most malformed framing never gets this far: node:http refuses it (answer.ts
 * `answerClientError`); what it lets through is refused here.
 */
import type { IncomingMessage } from 'node:http'
import { refusal, type Refusal } from './answer.js'
import { BadRequestError, BodyTooLargeError, MethodNotForwardedError, ShuttingDownError } from '../lib/errors.js'

/** The methods forwarded, as @fastify/http-proxy routed them; others are refused 405. */
export const FORWARDED_METHODS: ReadonlySet<string> = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT'])

// Requests that reach a draining node (on a connection kept alive) go elsewhere; the connection ends
// with the answer so the server can close.
const DRAINING = refusal('draining', new ShuttingDownError(), undefined, true)
// RFC 9112 6.1: Transfer-Encoding in an HTTP/1.0 message means the framing is faulty; the connection
// must close after it. node:http reads such a body as chunked yet ends the connection on the bytes
// after it, so the client and the upstream would disagree on where the request ended.
const HTTP10_CHUNKED = refusal('framing', new BadRequestError('the request cannot be forwarded as sent: Transfer-Encoding in an HTTP/1.0 request'), undefined, true)
const UPGRADE_BODY = refusal('framing', new BadRequestError('the request cannot be forwarded as sent: an upgrade request with a body'), undefined, true)
// RFC 9112 6.3: both lengths at once is how requests are smuggled (node:http refuses it today; kept in
// case a parser option or release lets one through).
const BOTH_LENGTHS = refusal('framing', new BadRequestError('the request cannot be forwarded as sent: both Transfer-Encoding and Content-Length'), undefined, true)

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
  if (req.headers['transfer-encoding'] !== undefined) {
    if (req.httpVersionMajor === 1 && req.httpVersionMinor === 0) return HTTP10_CHUNKED
    if (cl !== undefined) return BOTH_LENGTHS
  }
  // An upgrade's bytes after its head belong to the tunnel: a body there has no framing the node reads.
  // (node:http sets `upgrade` on a request it hands to the `upgrade` listener; @types/node omits it.)
  if ((req as IncomingMessage & { upgrade?: boolean }).upgrade === true && (req.headers['transfer-encoding'] !== undefined || (cl !== undefined && cl !== '0'))) return UPGRADE_BODY
  if (cl !== undefined && Number(cl) > bodyLimit) return refusal('body_too_large', new BodyTooLargeError(bodyLimit))
  return undefined
}
