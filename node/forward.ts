/**
 * Forwarding a checked request to the upstream: node:http in, one undici `Pool` out, bodies streamed
 * both ways with backpressure. (Why its own forwarder and not @fastify/http-proxy, with the figures:
 * bench/RESULTS.md, "Proxy".)
 *
 * What @fastify/http-proxy did that matters is kept: method, path and query byte for byte (admission.ts
 * refuses paths that would leave the upstream or climb out of it); hop-by-hop headers removed both ways
 * (RFC 9110 7.6.1: the fixed list and the names the Connection header lists); Host set to the
 * upstream's; X-Forwarded-For appended, -Proto and -Host set; upstream failures as 502, timeouts as 504.
 * Not kept: reply-from's silent retries of an upstream 503 on GET (a proxy should not multiply load on
 * an upstream that says it is overloaded).
 *
 * An upstream URL with a path prefix (`http://api:8080/v2`) gets prefix + path. An HTTP/2 request from a
 * client (TLS, tls.ts) goes upstream as HTTP/1.1 like any other, its pseudo-headers left out and its
 * `:authority` read as its Host; a gRPC call needs HTTP/2 end to end (trailers), so it goes through an
 * HTTP/2 connection (TLS with ALPN to an https upstream, cleartext prior knowledge, h2c, to an http one),
 * and the upstream's trailers come back as trailers.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { Http2ServerResponse } from 'node:http2'
import { Transform, type TransformCallback } from 'node:stream'
import type { Logger } from 'pino'
import { Client, H2CClient, Pool, type Dispatcher } from 'undici'
import { answerGrpc, hasUnreadBody, isGrpc } from './answer.js'
import { http2Body } from './body.js'
import { BadRequestError, BodyTooLargeError, UpstreamError, UpstreamTimeoutError } from '../lib/errors.js'
import { writeProblem } from '../lib/problem.js'
import type { FastHistogram } from './metrics.js'
import { statusClassOf } from './request-meter.js'

/** What a forwarder needs from the node's configuration and state. */
export interface ForwarderOptions {
  /** `http(s)://host:port` of the upstream, with a path prefix or not. */
  upstream: string
  /** Keep-alive connections to the upstream. */
  connections: number
  /** Upstream headers and body timeout: 504 past it. */
  timeoutMs: number
  /** Largest request body in bytes (a chunked body is counted as it streams). */
  bodyLimit: number
  /** Take X-Forwarded-Proto from the client (behind a load balancer). */
  trustProxy: boolean
  /** Where upstream failures and the body bytes each way are counted. */
  counters: { upstreamErrors: number; requestBytes: number; responseBytes: number }
  /** Time to the upstream's response head, by status class (`statusClassOf`). */
  upstreamSeconds: FastHistogram
  logger: Logger
  /** Whether the node is draining: answers then close their connection when done. */
  isDraining(): boolean
}

// Request headers never forwarded: hop-by-hop ones, Host (the upstream's is sent), Expect (node
// already answered 100-continue), the X-Forwarded-* set by `upstreamHeaders`, and the node's own
// (`ownHeader`).
const DROPPED_REQUEST = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'http2-settings',
  'host', 'expect', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host',
])
// Response headers never passed back: hop-by-hop ones (node:http writes its own framing).
const DROPPED_RESPONSE = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'http2-settings'])
const DROPPED_RESPONSE_LENGTHS = new Set([...DROPPED_RESPONSE].map((name) => name.length))

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT'])
// undici refusing what the client sent (a header value it will not write): the request's fault.
const REFUSED_CODES = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED'])

/** What one forwarded request needs from its forwarder, and nothing more. */
interface ForwardContext {
  /** Whether the node is draining. */
  isDraining(): boolean
  counters: ForwarderOptions['counters']
  upstreamSeconds: FastHistogram
  /** Answers a failed forward; `clientGone`: the client left, nothing to answer. */
  onFailure(req: IncomingMessage, res: ServerResponse, err: Error & { code?: string; cause?: unknown }, clientGone: boolean): void
}

/** The upstream URL as its origin and its path prefix ('' for none; never ending with `/`). */
export function upstreamTarget(upstream: string): { origin: string; prefix: string } {
  const url = new URL(upstream)
  return { origin: url.origin, prefix: url.pathname.replace(/\/+$/, '') }
}

/** Forwards requests to one upstream through a keep-alive pool. */
export class Forwarder {
  readonly #pool: Pool
  readonly #options: ForwarderOptions
  readonly #context: ForwardContext
  readonly #origin: string
  readonly #prefix: string
  /** The HTTP/2 connection gRPC calls go through, made at the first. */
  #h2: Dispatcher | undefined

  constructor(options: ForwarderOptions) {
    this.#options = options
    this.#context = { isDraining: options.isDraining, counters: options.counters, upstreamSeconds: options.upstreamSeconds, onFailure: (req, res, err, clientGone) => answerFailure(req, res, err, clientGone, options) }
    const { origin, prefix } = upstreamTarget(options.upstream)
    this.#origin = origin
    this.#prefix = prefix
    this.#pool = new Pool(origin, {
      connections: options.connections,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    })
  }

  /**
   * Sends `req` to the upstream and streams the answer into `res`. `monitorIds` non-empty: the request
   * carries monitored leaks, and the upstream is told with `Leakgate-Leak-Id` and `Leakgate-Verdict`.
   * The headers forwarded are `req.headers`, the very values the credential check read (node keeps the
   * first of a repeated Authorization, for one), so the upstream never sees a credential that was not checked.
   * `buffered`: the whole body, already read (and checked) from `req`, sent instead of streaming `req`.
   */
  forward(req: IncomingMessage, res: ServerResponse, monitorIds: string, buffered?: Buffer): void {
    const h = req.headers
    const headers = upstreamHeaders(req, monitorIds, this.#options.trustProxy)
    const grpc = isGrpc(req)
    // gRPC servers want to be told the client reads trailers (the only `te` HTTP/2 allows).
    if (grpc) headers.push('te', 'trailers')

    // A body is what node's parser says there is: a Content-Length (already held to the limit by
    // admission) or chunked, counted here as it streams. Over HTTP/2 a body is any DATA after the
    // headers, with or without a Content-Length: counted as it streams too.
    // A body read whole already goes as a Buffer: undici sends it with its Content-Length (Transfer-Encoding
    // is never forwarded).
    let body: IncomingMessage | ByteLimit | Buffer | null = null
    if (buffered !== undefined) body = buffered
    else if (h['transfer-encoding'] !== undefined || http2Body(req)) body = req.pipe(new ByteLimit(this.#options.bodyLimit))
    else if (h['content-length'] !== undefined && h['content-length'] !== '0') body = req

    const handler = new ForwardHandler(req, res, this.#context, buffered === undefined, grpc)
    // The client's path is admitted as one starting with a single `/`: after the prefix it stays inside it.
    const path = this.#prefix === '' ? req.url ?? '/' : this.#prefix + (req.url ?? '/')
    try {
      const dispatcher = grpc ? this.#grpcDispatcher() : this.#pool
      dispatcher.dispatch({ origin: this.#origin, path, method: req.method as Dispatcher.HttpMethod, headers, body }, handler)
    } catch (err) {
      handler.onError(err as Error)
    }
  }

  /** Closes the upstream connections once the requests on them are done. */
  async close(): Promise<void> {
    await Promise.all([this.#pool.close(), this.#h2?.close()])
  }

  /** One multiplexed HTTP/2 connection for gRPC calls: prior knowledge to an http upstream, ALPN to an https one. */
  #grpcDispatcher(): Dispatcher {
    if (this.#h2 === undefined) {
      const timeouts = { headersTimeout: this.#options.timeoutMs, bodyTimeout: this.#options.timeoutMs, keepAliveTimeout: 60_000 }
      this.#h2 = this.#origin.startsWith('http:')
        ? new H2CClient(this.#origin, timeouts)
        : new Client(this.#origin, { ...timeouts, allowH2: true, pipelining: 100, maxConcurrentStreams: 100 })
    }
    return this.#h2
  }
}

/**
 * Whether a client-sent header name is one of the node's own, in any spelling: every name beginning
 * with `leakgate` (node:http lowercases names). CGI, WSGI and Rack stacks read `Leakgate_Verdict` as
 * `Leakgate-Verdict` (both become HTTP_LEAKGATE_VERDICT), so the dash spelling alone is not enough: a
 * client's own would pass for the node's verdict.
 */
export function ownHeader(name: string): boolean {
  return name.charCodeAt(0) === 108 && name.startsWith('leakgate')
}

/**
 * The request headers sent upstream, as name, value pairs, for the forwarder and for upgrades alike:
 * the client's headers (the very values the credential check read) minus hop-by-hop ones, the names
 * the Connection header lists and the node's own in every spelling; then `Leakgate-Leak-Id` and
 * `Leakgate-Verdict: monitor` when `monitorIds` is non-empty, and X-Forwarded-For, -Proto and -Host.
 * `upgrade`: the protocol to ask the upstream for (`Connection: Upgrade` and `Upgrade` are sent then).
 */
export function upstreamHeaders(req: IncomingMessage, monitorIds: string, trustProxy: boolean, upgrade?: string): string[] {
  const h = req.headers
  const headers: string[] = []
  const listed = h.connection === undefined ? undefined : connectionTokens(h.connection)
  for (const name in h) {
    // HTTP/2 pseudo-headers (`:path`, `:authority`...) are the request line, not headers.
    if (DROPPED_REQUEST.has(name) || ownHeader(name) || listed?.includes(name) === true || name.charCodeAt(0) === 58) continue
    const value = h[name]
    if (value === undefined) continue
    if (typeof value === 'string') headers.push(name, value)
    else for (const v of value) headers.push(name, v)
  }
  if (upgrade !== undefined) headers.push('connection', 'Upgrade', 'upgrade', upgrade)
  if (monitorIds !== '') headers.push('leakgate-leak-id', monitorIds, 'leakgate-verdict', 'monitor')
  const client = req.socket.remoteAddress ?? ''
  const xff = h['x-forwarded-for']
  headers.push('x-forwarded-for', xff === undefined || xff === '' ? client : `${xff}, ${client}`)
  headers.push('x-forwarded-proto', forwardedProto(req, trustProxy))
  const host = h.host ?? (h[':authority'] as string | undefined)
  if (host !== undefined) headers.push('x-forwarded-host', host)
  else if (h['x-forwarded-host'] !== undefined) headers.push('x-forwarded-host', h['x-forwarded-host'] as string)
  return headers
}

/** X-Forwarded-Proto: the client's last one behind a trusted proxy, otherwise how the client reached the node. */
function forwardedProto(req: IncomingMessage, trustProxy: boolean): string {
  const h: IncomingHttpHeaders = req.headers
  if (trustProxy) {
    const proto = h['x-forwarded-proto']
    if (typeof proto === 'string' && proto !== '') {
      const last = proto.lastIndexOf(',')
      return (last === -1 ? proto : proto.slice(last + 1)).trim()
    }
  }
  return (req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http'
}

/** One forwarded request: undici's (native, callback-style) handler writing straight into `res`. */
class ForwardHandler implements Dispatcher.DispatchHandler {
  readonly #req: IncomingMessage
  readonly #res: ServerResponse
  readonly #context: ForwardContext
  readonly #grpc: boolean
  #abort: ((err?: Error) => void) | undefined
  #resume: (() => void) | undefined
  #clientGone = false
  /** The body streams from the client (not read whole already, and counted, by the request path). */
  readonly #streamed: boolean
  readonly #sentAt = performance.now()
  /** A gRPC answer whose headers carry its status (trailers-only, most likely): held until its end shows whether a body follows. */
  #held: { status: number; headers: string[] } | undefined

  constructor(req: IncomingMessage, res: ServerResponse, context: ForwardContext, streamed: boolean, grpc: boolean) {
    this.#req = req
    this.#res = res
    this.#context = context
    this.#streamed = streamed
    this.#grpc = grpc
    // (Inline arrows, not arrow class fields: tsx wraps each named function it creates, per request.)
    res.once('close', () => this.#closed())
  }

  // The client went away before its answer was complete: cancel the upstream request.
  #closed(): void {
    if (this.#res.writableFinished) return
    this.#clientGone = true
    this.#abort?.(new Error('the client closed the connection'))
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort
    if (this.#clientGone) abort(new Error('the client closed the connection'))
  }

  // undici 7 passes the chunk written (its types say a size): either is counted.
  onBodySent(chunk: Buffer | number): void {
    if (this.#streamed) this.#context.counters.requestBytes += typeof chunk === 'number' ? chunk : chunk.length
  }

  onHeaders(statusCode: number, raw: Buffer[], resume: () => void): boolean {
    this.#context.upstreamSeconds.observeIn(statusClassOf(statusCode), (performance.now() - this.#sentAt) / 1000)
    this.#resume = resume
    const res = this.#res
    const out = passedBackHeaders(raw)
    // An HTTP/1 connection cannot take another request before this one's body is read; the upstream
    // answered early (a 401 before the upload, say), so this connection ends with the answer.
    if (hasUnreadBody(this.#req) || this.#context.isDraining()) res.shouldKeepAlive = false
    if (this.#grpc && out.some((v, i) => i % 2 === 0 && v.toLowerCase() === 'grpc-status')) {
      this.#held = { status: statusCode, headers: out }
      return true
    }
    try {
      res.writeHead(statusCode, out)
    } catch (err) {
      // node refuses what the upstream sent (a status out of range): a bad gateway, not a crash.
      this.#abort?.(err as Error)
      return false
    }
    return true
  }

  onData(chunk: Buffer): boolean {
    if (this.#held !== undefined && !this.#release()) return false
    this.#context.counters.responseBytes += chunk.length
    if (this.#res.write(chunk)) return true
    this.#res.once('drain', () => this.#resume?.())
    return false
  }

  onComplete(raw?: (Buffer | string)[] | Record<string, string | string[] | undefined> | null): void {
    const res = this.#res
    const trailers = trailerPairs(raw)
    if (this.#held !== undefined) {
      if (trailers.length === 0) {
        // No body, no trailers: its status was in its headers, and they go back as they came, ending the stream.
        respondEnded(res, this.#held.status, this.#held.headers)
        return
      }
      if (!this.#release()) return
    }
    if (trailers.length > 0 && this.#req.httpVersionMajor === 2) {
      // gRPC's status comes in trailers; node:http2 sends them after the body.
      const out = passedBackHeaders(trailers)
      const record: Record<string, string> = {}
      for (let i = 0; i < out.length; i += 2) record[out[i] as string] = out[i + 1] as string
      res.addTrailers(record)
    }
    if (this.#context.isDraining() && res.shouldKeepAlive) {
      // The server is draining and this answer's head promised keep-alive: end the connection after it.
      const socket = this.#req.socket
      res.once('finish', () => socket.end())
    }
    res.end()
  }

  onError(err: Error & { code?: string; cause?: unknown }): void {
    this.#context.onFailure(this.#req, this.#res, err, this.#clientGone || this.#res.destroyed)
  }

  /** Writes the held gRPC headers (a body or trailers follow after all); false when node refused them. */
  #release(): boolean {
    const held = this.#held as { status: number; headers: string[] }
    this.#held = undefined
    try {
      this.#res.writeHead(held.status, held.headers)
      return true
    } catch (err) {
      this.#abort?.(err as Error)
      return false
    }
  }
}

/** The upstream's trailers as name, value pairs: undici gives HTTP/1.1 trailers raw, HTTP/2 ones as node:http2's object. */
function trailerPairs(raw: (Buffer | string)[] | Record<string, string | string[] | undefined> | null | undefined): (Buffer | string)[] {
  if (raw === undefined || raw === null) return []
  if (Array.isArray(raw)) return raw
  const out: string[] = []
  for (const name in raw) {
    const value = raw[name]
    if (value === undefined) continue
    if (typeof value === 'string') out.push(name, value)
    else for (const v of value) out.push(name, v)
  }
  return out
}

/** Answers with `headers` in one HEADERS frame that ends the stream (HTTP/2: a gRPC trailers-only answer). */
function respondEnded(res: ServerResponse, status: number, headers: string[]): void {
  const out: Record<string, string | string[] | number> = { ':status': status }
  for (let i = 0; i < headers.length; i += 2) {
    const name = (headers[i] as string).toLowerCase()
    const value = headers[i + 1] as string
    const had = out[name]
    out[name] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [String(had), value]
  }
  const stream = (res as unknown as Http2ServerResponse).stream
  try {
    stream.respond(out, { endStream: true })
  } catch {
    stream.destroy()
  }
}

/** Answers a failed forward (or cuts the answer off when it had begun). */
function answerFailure(req: IncomingMessage, res: ServerResponse, err: Error & { code?: string; cause?: unknown }, clientGone: boolean, options: ForwarderOptions): void {
  if (clientGone) return // the client left: the upstream request was cancelled on its behalf
  const code = err.code ?? (err.cause as { code?: string } | undefined)?.code
  if (code === BodyTooLargeError.code) {
    const e = new BodyTooLargeError(options.bodyLimit)
    if (!res.headersSent) options.counters.responseBytes += answerProblem(req, res, 413, e)
    else res.destroy()
    return
  }
  if (code !== undefined && REFUSED_CODES.has(code)) {
    const e = headerNotForwardable(options.logger, code)
    if (!res.headersSent) options.counters.responseBytes += answerProblem(req, res, 400, e)
    else res.destroy()
    return
  }
  options.counters.upstreamErrors++
  options.logger.warn({ err: { code, started: res.headersSent } }, 'upstream failed')
  if (res.headersSent) {
    // Part of the answer is out: the client must see it cut short, not a shorter answer that looks whole.
    res.destroy()
    return
  }
  const e = code !== undefined && TIMEOUT_CODES.has(code) ? new UpstreamTimeoutError() : new UpstreamError()
  options.counters.responseBytes += answerProblem(req, res, e.statusCode, e)
}

/** A failed forward's answer: a problem, or to a gRPC call its gRPC status. Returns the body bytes sent. */
function answerProblem(req: IncomingMessage, res: ServerResponse, status: number, e: { code: string; message: string }): number {
  if (!isGrpc(req)) return writeProblem(res, status, e.code, e.message, { close: hasUnreadBody(req) })
  answerGrpc(res, status, e.message)
  return 0
}

/**
 * The upstream's response headers (name, value, name, value…) as they go back to the client: hop-by-hop
 * ones dropped, and those its Connection header names. Header bytes are read as latin1, which is how
 * node:http writes them back, so they pass through unchanged.
 */
export function passedBackHeaders(raw: ArrayLike<Buffer | string>): string[] {
  let out: string[] = []
  let connection: string | undefined
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i] as Buffer | string
    const v = raw[i + 1] as Buffer | string
    const name = typeof n === 'string' ? n : n.toString('latin1')
    const value = typeof v === 'string' ? v : v.toString('latin1')
    // Only names of a dropped header's length are lowercased and looked up.
    if (DROPPED_RESPONSE_LENGTHS.has(name.length)) {
      const lower = name.toLowerCase()
      if (DROPPED_RESPONSE.has(lower)) {
        if (lower === 'connection') connection = connection === undefined ? value : `${connection}, ${value}`
        continue
      }
    }
    out.push(name, value)
  }
  const listed = connection === undefined ? undefined : connectionTokens(connection)
  if (listed !== undefined) {
    const kept: string[] = []
    for (let i = 0; i < out.length; i += 2) if (!listed.includes((out[i] as string).toLowerCase())) kept.push(out[i] as string, out[i + 1] as string)
    out = kept
  }
  return out
}

/** A request with a header undici or node:http will not write: the request's fault, logged and answered 400. */
export function headerNotForwardable(logger: Logger, code: string | undefined): InstanceType<typeof BadRequestError> {
  logger.info({ err: { code } }, 'request not forwardable')
  return new BadRequestError('the request cannot be forwarded as sent: a header cannot be forwarded')
}

/**
 * The lowercased header names a Connection header lists besides `keep-alive` and `close` (which name
 * no header that is not dropped anyway); undefined when there are none, as on nearly every request.
 */
function connectionTokens(value: string | string[]): string[] | undefined {
  if (typeof value === 'string') {
    const v = value.length === 10 || value.length === 5 ? value.toLowerCase() : ''
    if (v === 'keep-alive' || v === 'close') return undefined
  }
  const out: string[] = []
  for (const part of (typeof value === 'string' ? value : value.join(',')).split(',')) {
    const name = part.trim().toLowerCase()
    if (name !== '' && name !== 'keep-alive' && name !== 'close') out.push(name)
  }
  return out.length === 0 ? undefined : out
}

/** Counts a chunked body through and fails it past the limit (a Content-Length body is held to it by admission). */
class ByteLimit extends Transform {
  #left: number
  constructor(limit: number) {
    super()
    this.#left = limit
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#left -= chunk.length
    if (this.#left < 0) cb(new BodyTooLargeError(0))
    else cb(null, chunk)
  }
}
