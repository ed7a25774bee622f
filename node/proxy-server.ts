/**
 * The proxy port's server and its life: node:http with no framework in front (the request listener is
 * request-path.ts), or with TLS the node:http2 secure server of tls.ts (HTTP/2 and HTTP/1.1), listening
 * only once the node may judge, and draining on close.
 */
import { createServer, type Server } from 'node:http'
import type { Http2SecureServer } from 'node:http2'
import type { AddressInfo } from 'node:net'
import { answerClientError } from './answer.js'
import type { NodeConfig } from './config.js'
import { ShuttingDownError } from '../lib/errors.js'

/** The proxy port's server, with the few methods callers use (named as fastify names them). */
export interface ProxyServer {
  readonly server: Server | Http2SecureServer
  /** Loads the cached index (if any), then listens, starts sync and sighting delivery, and resolves to the proxy's base URL. */
  listen(options: { port: number; host: string }): Promise<string>
  /** The address listened on (empty before `listen`). */
  addresses(): AddressInfo[]
  /** Stops accepting, drains requests in flight, then stops sync and closes the upstream pool. */
  close(): Promise<void>
}

/** What the server waits for and starts and stops around its own listening. */
export interface ProxyLife {
  /** Settles once the node may judge requests (its cached index in force); undefined: at once. */
  ready: Promise<void> | undefined
  /** Once listening: start background work (sync, sighting delivery). */
  started(): void
  /** When closing begins, before the server waits for its connections: end what would hold them open (tunnels). */
  closing?(): void
  /** Once the server has closed and the requests in flight are answered: stop the rest. */
  stopped(): Promise<void>
}

/**
 * The proxy server; `isDraining()` turns true when `close` begins and stays so. `secure`: the TLS server
 * to use (tls.ts) instead of plain node:http; the HTTP/1.1 settings apply to its HTTP/1.1 connections.
 */
export function createProxyServer(
  config: Pick<Readonly<NodeConfig>, 'maxHeaderSize' | 'keepAliveTimeoutMs' | 'requestTimeoutMs' | 'maxConnections'>,
  life: ProxyLife,
  secure?: Http2SecureServer,
): ProxyServer & { isDraining(): boolean } {
  // node:http2 hands HTTP/1.1 connections to node:http's own connection handling, which reads these fields.
  const server = (secure ?? createServer({ maxHeaderSize: config.maxHeaderSize })) as Server
  server.keepAliveTimeout = config.keepAliveTimeoutMs
  server.requestTimeout = config.requestTimeoutMs
  server.maxConnections = config.maxConnections
  server.on('clientError', answerClientError)
  let draining = false
  let closed: Promise<void> | undefined
  return {
    server,
    isDraining: () => draining,
    async listen({ port, host }) {
      // The cached index must be in force before the first request: until then the node would judge
      // as if it had no index (noIndex: open forwards), letting leaked credentials through on a restart.
      await life.ready
      // Closed while the cache loaded: listening now would leave a server nobody closes.
      if (draining) throw new ShuttingDownError()
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(port, host, () => {
          server.off('error', reject)
          resolve()
        })
      })
      life.started()
      const a = server.address() as AddressInfo
      return `${secure === undefined ? 'http' : 'https'}://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`
    },
    addresses() {
      const a = server.address()
      return a === null || typeof a === 'string' ? [] : [a]
    },
    close() {
      closed ??= (async () => {
        draining = true
        life.closing?.()
        if (server.listening) {
          const done = new Promise<void>((resolve) => server.close(() => resolve()))
          server.closeIdleConnections()
          await done
        }
        await life.stopped()
      })()
      return closed
    },
  }
}
