/**
 * What the node's tests share: a small upstream that records what reaches it, an index made from
 * planted tokens, and a node built and listening on port 0, all closed in `t.teardown`.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { buildNode, type LeakgateNode, type NodeDeps } from '../app.js'
import { loadNodeConfig, type NodeConfig } from '../config.js'
import { sha256Hex } from '../../protocol/token-hash.js'
import type { LeakAction as Action } from '../../protocol/leak.js'
import { LeakIndex } from '../leakdb/index.js'
import { encodeSnapshot } from '../../protocol/snapshot.js'

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

export async function startUpstream(): Promise<Upstream> {
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
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    server,
    release() {
      const waiting = releaseSlow
      releaseSlow = []
      for (const r of waiting) r()
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
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

export async function startNode(
  t: { teardown(fn: () => unknown): void },
  options: { upstream: string; env?: Record<string, string>; deps?: NodeDeps },
): Promise<RunningNode> {
  const logs = new LogCapture()
  const config = loadNodeConfig({
    env: { LEAKGATE_CONTROL_PLANE: 'http://127.0.0.1:1', LEAKGATE_LOG_LEVEL: 'info', ...options.env },
    flags: { upstream: options.upstream, port: '0', 'admin-port': '0', host: '127.0.0.1', 'admin-host': '127.0.0.1' },
  })
  const node = buildNode(config, { logStream: logs, ...options.deps })
  t.teardown(() => node.close())
  await node.proxy.listen({ port: 0, host: '127.0.0.1' })
  await node.admin.listen({ port: 0, host: '127.0.0.1' })
  const port = (node.proxy.server.address() as AddressInfo).port
  const adminPort = (node.admin.server.address() as AddressInfo).port
  return { node, url: `http://127.0.0.1:${port}`, adminUrl: `http://127.0.0.1:${adminPort}`, config, logs }
}

/** Waits for a condition, polling, up to a deadline. */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
