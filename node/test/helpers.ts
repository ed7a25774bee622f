/**
 * What the node's tests share: a small upstream that records what reaches it, an index made from
 * planted tokens, a node built and listening on port 0 (plain HTTP, or TLS with a certificate made for
 * the test), all closed in `t.teardown`, and the ways the tests talk to it (a pooled GET, a raw request
 * whose bytes are exactly what the test wrote, an HTTP/2 client).
 */
import { execFileSync } from 'node:child_process'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import { connect as h2connect, constants as h2, type ClientHttp2Session, type IncomingHttpHeaders as H2Headers } from 'node:http2'
import { join } from 'node:path'
import { connect, type AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import type { Test } from 'tap'
import { Agent, request } from 'undici'
import { buildNode, type LeakgateNode, type NodeDeps } from '../app.js'
import { loadNodeConfig, type NodeConfig } from '../config.js'
import { sha256Hex } from '../../protocol/token-hash.js'
import type { LeakAction as Action } from '../../protocol/leak.js'
import { LeakIndex } from '../leakdb/index.js'
import { encodeSnapshot } from '../../protocol/snapshot.js'
import { tempDir, type Teardown } from '../../test/support.js'

export { tempDir, waitFor, type Teardown } from '../../test/support.js'

/** A request as the upstream saw it. */
export interface Seen {
  method: string
  url: string
  headers: IncomingHttpHeaders
  body: string
}

/** A small upstream: echoes what it got as JSON; `/stream` answers in chunks, `/status/N` with status N. */
export interface Upstream {
  url: string
  seen: Seen[]
  server: Server
  /** Unblocks `/slow` requests waiting for it. */
  release(): void
  close(): Promise<void>
}

/** Starts the upstream on 127.0.0.1 port 0, closed at `t`'s teardown (closing it earlier is fine too). */
export async function startUpstream(t: Teardown): Promise<Upstream> {
  const seen: Seen[] = []
  let releaseSlow: (() => void)[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body })
      const url = req.url ?? '/'
      if (url.startsWith('/stream')) {
        res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': 'yes' })
        let i = 0
        const tick = (): void => {
          if (i === 5) {
            res.end('end\n')
            return
          }
          res.write(`chunk ${i++}\n`)
          setImmediate(tick)
        }
        tick()
        return
      }
      if (url.startsWith('/slow')) {
        releaseSlow.push(() => res.end('slow done'))
        return
      }
      const status = /^\/status\/(\d{3})/.exec(url)
      res.writeHead(status ? Number(status[1]) : 200, { 'content-type': 'application/json', 'x-upstream': 'yes', 'set-cookie': 'a=b' })
      res.end(JSON.stringify({ method: req.method, url, body }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const close = (): Promise<void> =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  t.teardown(close)
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    server,
    release() {
      const waiting = releaseSlow
      releaseSlow = []
      for (const r of waiting) r()
    },
    close,
  }
}

/** Tokens planted in an index: raw value, action and leak id. */
export interface Planted {
  token: string
  action: Action
  leakId: number
}

/** An index holding the planted tokens' hashes. */
export function indexOf(planted: readonly Planted[], revision = 1): LeakIndex {
  const entries = planted.map((p) => ({ sha256: sha256Hex(p.token), action: p.action, leakId: p.leakId }))
  return LeakIndex.fromSnapshot(encodeSnapshot(entries, revision))
}

/** Captures every log line the node writes. */
export class LogCapture {
  readonly lines: string[] = []
  write(line: string): void {
    this.lines.push(line)
  }
  get text(): string {
    return this.lines.join('')
  }
}

/** A node listening on 127.0.0.1 port 0 for both apps. */
export interface RunningNode {
  node: LeakgateNode
  url: string
  adminUrl: string
  config: Readonly<NodeConfig>
  logs: LogCapture
}

/** A certificate pair's files. */
export interface CertFiles {
  cert: string
  key: string
}

/**
 * A self-signed P-256 certificate for `localhost` and 127.0.0.1, valid one day, made now by the openssl
 * command in `dir` (keys are never committed). `name` tells pairs in one directory apart.
 */
export function makeCertificate(dir: string, name = 'node'): CertFiles {
  const cert = join(dir, `${name}-cert.pem`)
  const key = join(dir, `${name}-key.pem`)
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' })
  return { cert, key }
}

/**
 * Starts a node on 127.0.0.1 port 0. `tls`: the proxy port serves TLS (HTTP/2 and HTTP/1.1) with this
 * pair, or with one made for the test when `true`; its URL is then https.
 */
export async function startNode(
  t: Teardown,
  options: { upstream: string; env?: Record<string, string>; deps?: NodeDeps; tls?: boolean | CertFiles },
): Promise<RunningNode> {
  const logs = new LogCapture()
  const pair = options.tls === true ? makeCertificate(tempDir(t)) : options.tls === false ? undefined : options.tls
  const config = loadNodeConfig({
    env: { LEAKGATE_CONTROL_PLANE: 'http://127.0.0.1:1', LEAKGATE_LOG_LEVEL: 'info', ...(pair === undefined ? {} : { LEAKGATE_TLS_CERT: pair.cert, LEAKGATE_TLS_KEY: pair.key }), ...options.env },
    flags: { upstream: options.upstream, port: '0', 'admin-port': '0', host: '127.0.0.1', 'admin-host': '127.0.0.1' },
  })
  const node = buildNode(config, { logStream: logs, ...options.deps })
  t.teardown(() => node.close())
  await node.proxy.listen({ port: 0, host: '127.0.0.1' })
  await node.admin.listen({ port: 0, host: '127.0.0.1' })
  const port = (node.proxy.server.address() as AddressInfo).port
  const adminPort = (node.admin.server.address() as AddressInfo).port
  return { node, url: `${pair === undefined ? 'http' : 'https'}://127.0.0.1:${port}`, adminUrl: `http://127.0.0.1:${adminPort}`, config, logs }
}

/** An answer as a test reads it. */
export interface Answer {
  status: number
  headers: IncomingHttpHeaders
  text: string
}

/**
 * A GET through a small connection pool closed at `t`'s teardown (undici's global pool would keep
 * sockets to servers the test already closed).
 */
export function pooledGet(t: Teardown): (url: string, headers?: Record<string, string>) => Promise<Answer> {
  const agent = new Agent({ connections: 4 })
  t.teardown(() => agent.close())
  return async (url, headers = {}) => {
    const res = await request(url, { dispatcher: agent, headers })
    return { status: res.statusCode, headers: res.headers as IncomingHttpHeaders, text: await res.body.text() }
  }
}

/** An HTTP/2 answer: its headers (`:status` among them), body, trailers, and whether the headers ended the stream. */
export interface H2Answer {
  status: number
  headers: H2Headers
  text: string
  body: Buffer
  trailers: H2Headers | undefined
  /** The answer was one HEADERS frame with END_STREAM (a gRPC trailers-only answer). */
  headersOnly: boolean
}

/**
 * An HTTP/2 client on one session to `url` (TLS, the test's self-signed certificate accepted, or h2c for
 * http), closed at `t`'s teardown. `send` sends one request: `path`, headers, and an optional body.
 */
export function h2Client(t: Teardown, url: string): { session: ClientHttp2Session; send(path: string, options?: { method?: string; headers?: Record<string, string>; body?: string | Buffer }): Promise<H2Answer> } {
  const session = h2connect(url, { rejectUnauthorized: false })
  session.on('error', () => {})
  // (A session the server already sent away never calls a close callback.)
  t.teardown(() => session.closed || session.destroyed ? undefined : new Promise<void>((resolve) => session.close(() => resolve())))
  return {
    session,
    send(path, options = {}) {
      return new Promise((resolve, reject) => {
        const stream = session.request({ ':method': options.method ?? 'GET', ':path': path, ...options.headers }, { endStream: options.body === undefined })
        let headers: H2Headers = {}
        let headersOnly = false
        let trailers: H2Headers | undefined
        const chunks: Buffer[] = []
        stream.on('response', (h, flags) => {
          headers = h
          headersOnly = (flags & h2.NGHTTP2_FLAG_END_STREAM) !== 0
        })
        stream.on('trailers', (h) => (trailers = h))
        stream.on('data', (c: Buffer) => chunks.push(c))
        stream.on('error', reject)
        stream.on('close', () => {
          const body = Buffer.concat(chunks)
          resolve({ status: Number(headers[':status']), headers, text: body.toString('utf8'), body, trailers, headersOnly })
        })
        if (options.body !== undefined) stream.end(options.body)
      })
    },
  }
}

/** A raw HTTP/1.1 answer: its status, its body, and every byte of it as latin1 text. */
export interface RawAnswer {
  status: number
  body: string
  raw: string
}

/**
 * Sends `head` (a request line and any header lines, no final CRLF) on a plain socket, adding Host
 * and `Connection: close`, then `body` if given: the bytes are exactly these, where an HTTP client
 * would tidy them.
 */
export function rawRequest(url: string, head: string, body = ''): Promise<RawAnswer> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(`${head}\r\nHost: api.test\r\nConnection: close\r\n\r\n${body}`))
    let raw = ''
    socket.on('data', (c: Buffer) => (raw += c.toString('latin1')))
    socket.on('end', () => resolve({ status: Number(raw.slice(9, 12)), body: raw.slice(raw.indexOf('\r\n\r\n') + 4), raw }))
    socket.on('error', reject)
  })
}

/**
 * Puts a node holding `planted` in front of a fresh upstream and sends each raw request of `cases`
 * (a name and the request head): every one must be answered 403, and none may reach the upstream.
 * For the regressions where a leaked token hid in a form that lenient upstreams still accept.
 */
export async function rawRequestsBlocked(t: Test, planted: readonly Planted[], cases: ReadonlyArray<readonly [name: string, head: string]>): Promise<void> {
  const upstream = await startUpstream(t)
  const { url } = await startNode(t, { upstream: upstream.url, deps: { index: indexOf(planted) } })
  for (const [name, head] of cases) {
    t.match((await rawRequest(url, head)).raw, /^HTTP\/1\.1 403 /, name)
  }
  t.equal(upstream.seen.length, 0, 'the upstream was never contacted')
}

/** A request with a body: a string or Buffer is sent with its Content-Length, an array of chunks chunked. */
export interface BodyRequest {
  method?: string
  headers?: Record<string, string>
  body?: string | Buffer | readonly (string | Buffer)[]
}

/** Sends requests with bodies through a small connection pool closed at `t`'s teardown. */
export function pooledSend(t: Teardown): (url: string, options?: BodyRequest) => Promise<Answer> {
  const agent = new Agent({ connections: 4 })
  t.teardown(() => agent.close())
  return async (url, options = {}) => {
    const { body } = options
    const chunked = Array.isArray(body) ? Readable.from(body as readonly (string | Buffer)[]) : (body as string | Buffer | undefined)
    const res = await request(url, { dispatcher: agent, method: (options.method ?? 'POST') as 'POST', headers: options.headers ?? {}, body: chunked ?? null })
    return { status: res.statusCode, headers: res.headers as IncomingHttpHeaders, text: await res.body.text() }
  }
}

/** The value of one counter (without labels, or with `labels` exactly) on the node's /metrics. */
export async function metricValue(adminUrl: string, name: string, labels = ''): Promise<number> {
  const text = await (await request(`${adminUrl}/metrics`, { reset: true })).body.text()
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `))
  return line === undefined ? NaN : Number(line.slice(line.lastIndexOf(' ') + 1))
}
