/**
 * Upgrade requests (`Connection: Upgrade` with `Upgrade:`), which node:http hands over with the raw
 * socket instead of a response. The handshake goes through the same admission and verdict as any
 * request (request-path.ts `check`): refused or blocked, it is answered on the socket, which then
 * closes, and the upstream is never contacted; monitored, it is forwarded with `Leakgate-Leak-Id` and
 * `Leakgate-Verdict: monitor`; clean, forwarded as it is. Its headers are built as for any forwarded
 * request (forward.ts `upstreamHeaders`).
 *
 * Only WebSocket is tunnelled: when the upstream answers 101, bytes flow both ways until either side
 * closes. Any other protocol (h2c, say) is asked for without its Upgrade header, so the upstream
 * answers the request as an ordinary one: an HTTP/2 tunnel would carry requests the node never judges.
 * Whatever the upstream answers other than 101 is passed back and the connection closes, so no later
 * request on it can bypass the node.
 */
import { ServerResponse, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import { UpstreamError, UpstreamTimeoutError } from '../lib/errors.js'
import { writeProblem } from '../lib/problem.js'
import { headerNotForwardable, passedBackHeaders, upstreamHeaders, upstreamTarget } from './forward.js'
import type { NodeCounters } from './metrics.js'
import { routeTemplate } from './sightings.js'

/** What the upgrade handler needs from the node. */
export interface UpgradeOptions {
  /** `http(s)://host:port` of the upstream, with a path prefix or not (the request's path goes after it). */
  upstream: string
  /** Upstream handshake timeout: 504 past it (an open tunnel has none). */
  timeoutMs: number
  /** Take X-Forwarded-Proto from the client (behind a load balancer). */
  trustProxy: boolean
  counters: NodeCounters
  logger: Logger
  /** Admission and verdict (request-path.ts): false when it answered the request itself. */
  check(req: IncomingMessage, res: ServerResponse): string | false
}

/** Handles the proxy port's `upgrade` event; `closeAll` ends every upgrade in flight and every tunnel. */
export class Upgrades {
  readonly #o: UpgradeOptions
  readonly #target: URL
  readonly #prefix: string
  readonly #open = new Set<Duplex>()

  constructor(options: UpgradeOptions) {
    this.#o = options
    this.#target = new URL(options.upstream)
    this.#prefix = upstreamTarget(options.upstream).prefix
  }

  /** The `upgrade` listener: `head` holds the bytes the client sent after the request head. */
  handle(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const { counters, logger } = this.#o
    this.#open.add(socket)
    socket.once('close', () => this.#open.delete(socket))
    // A client that resets must not take the process down; the socket's close does the rest.
    socket.on('error', () => socket.destroy())
    const blocked = counters.block
    const res = responseOn(req, socket)
    const monitorIds = this.#o.check(req, res)
    if (monitorIds === false) {
      // check() answered: a block if it counted one, otherwise a refusal (admission or the verdict step).
      counters.upgrades[counters.block > blocked ? 'block' : 'refused']++
      return
    }
    res.detachSocket(socket as Socket)
    counters.upgrades[monitorIds === '' ? 'pass' : 'monitor']++
    const offered = req.headers.upgrade
    const websocket = typeof offered === 'string' && offered.trim().toLowerCase() === 'websocket' ? offered : undefined
    const headers = upstreamHeaders(req, monitorIds, this.#o.trustProxy, websocket)
    headers.push('host', this.#target.host)
    const target = this.#target
    const https = target.protocol === 'https:'
    const options = {
      host: target.hostname.replace(/^\[|\]$/g, ''),
      port: target.port === '' ? (https ? 443 : 80) : Number(target.port),
      method: req.method ?? 'GET',
      path: this.#prefix + (req.url ?? '/'),
      headers,
      setHost: false,
      agent: false as const,
    }
    let upstream: ClientRequest
    try {
      upstream = https ? httpsRequest({ ...options, servername: target.hostname }) : httpRequest(options)
    } catch (err) {
      // node:http will not write one of the headers: the request's fault, as forward.ts answers it.
      this.#fail(req, socket, headerNotForwardable(logger, (err as { code?: string }).code))
      return
    }
    socket.once('close', () => upstream.destroy())
    upstream.setTimeout(this.#o.timeoutMs, () => upstream.destroy(new UpstreamTimeoutError()))
    upstream.once('error', (err: Error & { code?: string }) => {
      if (socket.destroyed) return // the client left: the upstream request was cancelled on its behalf
      counters.upstreamErrors++
      logger.warn({ err: { code: err.code } }, 'upstream failed an upgrade')
      this.#fail(req, socket, err instanceof UpstreamTimeoutError ? err : new UpstreamError())
    })
    upstream.once('response', (answer) => this.#relay(req, socket, answer))
    upstream.once('upgrade', (answer, tunnel: Socket, rest: Buffer) => {
      if (websocket === undefined) {
        // Switched to a protocol the node did not ask for: nothing it could judge may pass.
        tunnel.destroy()
        counters.upstreamErrors++
        this.#fail(req, socket, new UpstreamError())
        return
      }
      this.#tunnel(req, socket, head, answer, tunnel, rest)
    })
    upstream.end()
  }

  /** Ends every upgrade in flight and every tunnel (the server is closing). */
  closeAll(): void {
    for (const socket of this.#open) socket.destroy()
  }

  /** The upstream switched: its 101 goes back as sent, then bytes flow both ways until either side closes. */
  #tunnel(req: IncomingMessage, socket: Duplex, head: Buffer, answer: IncomingMessage, tunnel: Socket, rest: Buffer): void {
    const { counters, logger } = this.#o
    tunnel.setTimeout(0)
    let lines = `HTTP/1.1 101 ${answer.statusMessage ?? 'Switching Protocols'}\r\n`
    const raw = answer.rawHeaders
    for (let i = 0; i < raw.length; i += 2) lines += `${raw[i] ?? ''}: ${raw[i + 1] ?? ''}\r\n`
    socket.write(`${lines}\r\n`)
    if (rest.length > 0) socket.write(rest)
    if (head.length > 0) tunnel.write(head)
    counters.tunnelsOpen++
    this.#open.add(tunnel)
    let closed = false
    const close = (): void => {
      if (closed) return
      closed = true
      counters.tunnelsOpen--
      this.#open.delete(tunnel)
      socket.destroy()
      tunnel.destroy()
      logger.debug({ method: req.method, route: routeTemplate(req.url ?? '/') }, 'tunnel closed')
    }
    tunnel.on('error', close)
    tunnel.once('close', close)
    socket.once('close', close)
    // A half close is passed on: each side ends the other's writing, and the tunnel closes once both have.
    socket.pipe(tunnel)
    tunnel.pipe(socket)
  }

  /** The upstream answered without switching: its answer goes back, and the connection closes after it. */
  #relay(req: IncomingMessage, socket: Duplex, answer: IncomingMessage): void {
    const res = responseOn(req, socket)
    // Hop-by-hop headers are not passed back: the connection closes after this answer, and node:http
    // writes its own framing (the body arrives decoded).
    const out = passedBackHeaders(answer.rawHeaders)
    try {
      res.writeHead(answer.statusCode ?? 502, out)
    } catch {
      answer.destroy()
      this.#fail(req, socket, new UpstreamError())
      return
    }
    answer.pipe(res)
    answer.once('error', () => socket.destroy())
    this.#o.logger.debug({ method: req.method, route: routeTemplate(req.url ?? '/'), status: answer.statusCode }, 'upgrade answered without switching')
  }

  /** A failed upgrade: a problem answer when nothing was sent yet, otherwise the connection is cut. */
  #fail(req: IncomingMessage, socket: Duplex, e: { statusCode: number; code: string; message: string }): void {
    const pending = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage
    if (socket.destroyed || pending?.headersSent === true || (socket as Socket).bytesWritten > 0) {
      socket.destroy()
      return
    }
    writeProblem(responseOn(req, socket), e.statusCode, e.code, e.message, { close: true })
  }
}

/**
 * A response written straight on an upgrade's socket (node:http gives none for an upgrade), for the
 * node's own answers and relayed ones; the socket ends after it.
 */
export function responseOn(req: IncomingMessage, socket: Duplex): ServerResponse {
  const res = new ServerResponse(req)
  res.shouldKeepAlive = false
  res.assignSocket(socket as Socket)
  res.once('finish', () => {
    res.detachSocket(socket as Socket)
    socket.end()
  })
  return res
}
