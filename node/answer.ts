/**
 * The answers the proxy port gives itself instead of forwarding: refusals (admission's and the verdict
 * step's), the 403 for a leaked credential, and the answer to a request node:http could not parse.
 * All are `application/problem+json`, except to a gRPC call, which gets what a gRPC client reads: HTTP
 * 200 with `grpc-status` and `grpc-message` in a trailers-only answer. None carries a credential, only
 * leak ids, counts and limits.
 */
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import type { Duplex } from 'node:stream'
import { BadRequestError, BodyTooLargeToCheckError, CredentialTooLongError, InternalError, LeakedCredentialError, NoIndexError, TooManyCredentialsError } from '../lib/errors.js'
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

/**
 * For an HTTP/2 request with a body: once the answer is sent, the rest of a body nobody read is read and
 * dropped, so the stream ends (an HTTP/1.1 answer closes the connection instead). Left unread, it would
 * hold the client's stream open for good: HTTP/2 flow control stops it sending into a full window.
 */
export function dropUnreadBody(req: IncomingMessage): void {
  const stream = (req as unknown as Http2ServerRequest).stream
  if (stream.endAfterHeaders) return
  stream.once('finish', () => {
    if (!stream.readableEnded && !stream.destroyed) req.resume()
  })
}

/** Answers a refusal; the request goes no further. Returns the body bytes sent (none to a gRPC call). */
export function answerRefusal(req: IncomingMessage, res: ServerResponse, r: Refusal): number {
  if (!isGrpc(req)) return writeProblem(res, r.status, r.code, r.detail, { close: r.close || hasUnreadBody(req) })
  answerGrpc(res, r.status, r.detail)
  return 0
}

/**
 * Answers 403 for a request carrying a credential of a leak whose action is block (to a gRPC call:
 * PERMISSION_DENIED). Returns the body bytes sent (none to a gRPC call).
 */
export function answerBlocked(req: IncomingMessage, res: ServerResponse, leakId: number): number {
  const e = new LeakedCredentialError(leakId)
  const headers = { 'leakgate-leak-id': String(leakId) }
  if (!isGrpc(req)) return writeProblem(res, 403, e.code, e.message, { extra: { leakId }, headers, close: hasUnreadBody(req) })
  answerGrpc(res, 403, e.message, headers)
  return 0
}

/**
 * Whether a request is a gRPC call: HTTP/2 with a gRPC content type (`application/grpc`,
 * `application/grpc+proto`, `application/grpc;…`). Not `application/grpc-web`: browsers send it over
 * HTTP/1.1 too, through proxies that answer it as any request.
 */
export function isGrpc(req: IncomingMessage): boolean {
  if (req.httpVersionMajor !== 2) return false
  const type = req.headers['content-type']
  return type !== undefined && type.startsWith('application/grpc') && (type.length === 16 || type.charCodeAt(16) === 43 || type.charCodeAt(16) === 59)
}

// The gRPC status a node answer stands for (gRPC's own codes): what the HTTP status means, said so a gRPC client acts on it.
const GRPC_STATUS: Record<number, number> = {
  400: 3, // INVALID_ARGUMENT
  403: 7, // PERMISSION_DENIED
  405: 12, // UNIMPLEMENTED
  413: 8, // RESOURCE_EXHAUSTED
  431: 8,
  500: 13, // INTERNAL
  502: 14, // UNAVAILABLE
  503: 14,
  504: 4, // DEADLINE_EXCEEDED
}

/**
 * Answers a gRPC call in one HEADERS frame that ends the stream (a trailers-only answer): HTTP 200,
 * `grpc-status` for `status` (an HTTP status), `grpc-message` percent-encoded as gRPC wants it.
 */
export function answerGrpc(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  const stream = (res as unknown as Http2ServerResponse).stream
  if (stream.headersSent || stream.destroyed) {
    stream.destroy()
    return
  }
  stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(GRPC_STATUS[status] ?? 2), 'grpc-message': grpcMessage(message), ...headers }, { endStream: true })
}

/** A `grpc-message` value: UTF-8 bytes outside printable ASCII, and `%`, percent-encoded. */
export function grpcMessage(text: string): string {
  let out = ''
  for (const byte of Buffer.from(text, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
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

/** The refusals of the verdict step, one set a port: they never vary with the request. */
export interface VerdictRefusals {
  noIndex: Refusal
  tooMany: Refusal
  tooLong: Refusal
  internalError: Refusal
  tooLargeToCheck: Refusal
  unreadableCharset: Refusal
}

/**
 * Makes the verdict step's refusals once. `internal` and `charset` are the details that say what the
 * port does (forward a request, or answer a check).
 */
export function verdictRefusals(limits: { maxCredentials: number; maxCredentialLength: number; bodyCheckLimit: number }, internal: string, charset: string): VerdictRefusals {
  return {
    noIndex: refusal('no_index', new NoIndexError()),
    tooMany: refusal('too_many_credentials', new TooManyCredentialsError(limits.maxCredentials)),
    tooLong: refusal('credential_too_long', new CredentialTooLongError(limits.maxCredentialLength)),
    internalError: refusal('internal_error', new InternalError(internal)),
    tooLargeToCheck: refusal('body_too_large_to_check', new BodyTooLargeToCheckError(limits.bodyCheckLimit)),
    unreadableCharset: refusal('body_charset', new BadRequestError(charset)),
  }
}
