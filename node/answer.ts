/**
 * The answers the proxy port gives itself instead of forwarding: refusals (admission's and the verdict
 * step's), the 403 for a leaked credential, and the answer to a request node:http could not parse.
 * All are `application/problem+json`; none carries a credential, only leak ids, counts and limits.
 */
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { BadRequestError, LeakedCredentialError } from '../lib/errors.js'
import { problemBody, writeProblem } from '../lib/problem.js'
import type { RefusalReason } from './metrics.js'

/** A request turned away: why (the metric's reason label) and the problem to answer with. */
export interface Refusal {
  readonly reason: RefusalReason
  readonly status: number
  readonly code: string
  readonly detail: string
  /** End the connection after the answer, whatever the request's body. */
  readonly close: boolean
}

/** A refusal answered with `error` (one of lib/errors.ts); `detail` defaults to its message. */
export function refusal(reason: RefusalReason, error: { statusCode: number; code: string; message: string }, detail = error.message, close = false): Refusal {
  return { reason, status: error.statusCode, code: error.code, detail, close }
}

/**
 * Whether part of the request's body is still unread. An answer given then ends the connection:
 * left to node:http, the rest would be read and thrown away (as long as a client cares to send it) or,
 * once something began reading it, parsed as the next request. (`req.complete` alone will not do: it is
 * false in the request listener even for a request without a body.)
 */
export function hasUnreadBody(req: IncomingMessage): boolean {
  if (req.complete) return false
  const cl = req.headers['content-length']
  return req.headers['transfer-encoding'] !== undefined || (cl !== undefined && cl !== '0')
}

/** Answers a refusal; the request goes no further. Returns the body bytes sent. */
export function answerRefusal(req: IncomingMessage, res: ServerResponse, r: Refusal): number {
  return writeProblem(res, r.status, r.code, r.detail, { close: r.close || hasUnreadBody(req) })
}

/** Answers 403 for a request carrying a credential of a leak whose action is block. Returns the body bytes sent. */
export function answerBlocked(req: IncomingMessage, res: ServerResponse, leakId: number): number {
  const e = new LeakedCredentialError(leakId)
  return writeProblem(res, 403, e.code, e.message, { extra: { leakId }, headers: { 'leakgate-leak-id': String(leakId) }, close: hasUnreadBody(req) })
}

/** A request node:http could not parse (the server's `clientError`): a problem+json answer, then the connection ends. */
export function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  const sent = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true
  if (err.code === 'ECONNRESET' || !socket.writable || sent) {
    socket.destroy()
    return
  }
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400
  const e = new BadRequestError(status === 431 ? 'the request head is larger than the node accepts' : status === 408 ? 'the request took too long to arrive' : 'the request cannot be forwarded as sent: malformed HTTP')
  const body = problemBody(status, e.code, e.message)
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: application/problem+json\r\ncache-control: no-store\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
}
