/**
 * Upgrades through the node, with a real `ws` server as the upstream and a `ws` client: the handshake is
 * judged like any request (blocked: 403 and the upstream never sees it; monitored: upgraded with the
 * verdict headers), a clean one tunnels messages both ways, an h2c upgrade is answered as an ordinary
 * request without hanging, and an open tunnel does not keep the node from closing.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import t from 'tap'
import { WebSocket, WebSocketServer } from 'ws'
import { indexOf, rawRequest, startNode, waitFor, type Teardown } from './helpers.js'

const BLOCKED = 'ghp_UpgradeTestBlockedToken000000000001'
const MONITORED = 'ghp_UpgradeTestMonitoredToken0000000002'
const index = (): ReturnType<typeof indexOf> => indexOf([{ token: BLOCKED, action: 'block', leakId: 41 }, { token: MONITORED, action: 'monitor', leakId: 42 }])

/** A WebSocket upstream echoing every message, recording each handshake it took and every plain request. */
async function startWsUpstream(t: Teardown) {
  const handshakes: IncomingHttpHeaders[] = []
  const plain: { url: string; headers: IncomingHttpHeaders }[] = []
  const server = createServer((req, res) => {
    plain.push({ url: req.url ?? '', headers: req.headers })
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.end('plain answer')
  })
  const wss = new WebSocketServer({ server })
  const closes: number[] = []
  wss.on('connection', (ws, req) => {
    handshakes.push(req.headers)
    ws.on('message', (data, isBinary) => ws.send(isBinary ? data : `echo ${String(data)}`))
    ws.on('close', (code) => closes.push(code))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate()
        wss.close()
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, handshakes, plain, closes, wss }
}

/** Opens a WebSocket through the node: resolves to the socket once open, or to the status it was refused with. */
function open(url: string, headers: Record<string, string> = {}): Promise<{ ws: WebSocket } | { status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws'), { headers })
    ws.once('open', () => resolve({ ws }))
    ws.once('unexpected-response', (_req, res) => {
      let body = ''
      res.on('data', (c: Buffer) => (body += c.toString('utf8')))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    ws.once('error', reject)
  })
}

function nextMessage(ws: WebSocket): Promise<string> {
  return new Promise((resolve) => ws.once('message', (data) => resolve(String(data))))
}

async function metric(adminUrl: string, line: string): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text()
  const m = new RegExp(`^${line.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text)
  return m === null ? NaN : Number(m[1])
}

t.test('a clean WebSocket passes through: messages echo both ways and a close reaches the upstream', async (t) => {
  const upstream = await startWsUpstream(t)
  const node = await startNode(t, { upstream: upstream.url, deps: { index: index() } })
  const opened = await open(`${node.url}/v1/stream?room=a`, { 'leakgate_verdict': 'monitor', 'x-api-key': 'not-a-leak-0000000000' })
  if (!('ws' in opened)) throw new Error(`refused: ${opened.status} ${opened.body}`)
  const { ws } = opened
  for (const text of ['one', 'two', 'x'.repeat(100_000)]) {
    ws.send(text)
    t.equal(await nextMessage(ws), `echo ${text}`, `echo of ${text.slice(0, 10)}`)
  }
  t.equal(upstream.handshakes.length, 1, 'one handshake reached the upstream')
  const seen = upstream.handshakes[0] as IncomingHttpHeaders
  t.equal(seen.host, new URL(upstream.url).host, 'Host is the upstream\'s')
  t.equal(seen['x-forwarded-for'], '127.0.0.1')
  t.notOk(Object.keys(seen).some((name) => name.startsWith('leakgate')), 'no Leakgate header reaches the upstream on a clean upgrade')
  t.equal(await metric(node.adminUrl, 'leakgate_node_tunnels_open'), 1, 'the open tunnel is counted')
  ws.close(4001, 'bye')
  await waitFor('the close to reach the upstream', () => upstream.closes.includes(4001))
  await waitFor('the tunnel to be closed', async () => (await metric(node.adminUrl, 'leakgate_node_tunnels_open')) === 0)
  t.equal(await metric(node.adminUrl, 'leakgate_node_upgrades_total{verdict="pass"}'), 1, 'counted as a passed upgrade')
  t.equal(await metric(node.adminUrl, 'leakgate_node_requests_total{verdict="pass"}'), 1, 'and as a passed request')
})

t.test('an upgrade carrying a blocked token is answered 403 and the upstream never sees a handshake', async (t) => {
  const upstream = await startWsUpstream(t)
  const node = await startNode(t, { upstream: upstream.url, deps: { index: index() } })
  const byHeader = await open(`${node.url}/v1/stream`, { authorization: `Bearer ${BLOCKED}` })
  t.same('status' in byHeader ? byHeader.status : 'opened', 403, 'Authorization: 403')
  t.match('body' in byHeader ? JSON.parse(byHeader.body) : {}, { status: 403, leakId: 41 }, 'a problem naming the leak')
  const byQuery = await open(`${node.url}/v1/stream?access_token=${BLOCKED}`)
  t.same('status' in byQuery ? byQuery.status : 'opened', 403, 'query: 403')
  const raw = await rawRequest(node.url, `GET /v1/stream HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Api-Key: ${BLOCKED}`)
  t.match(raw.raw, /^HTTP\/1\.1 403 /, 'a raw handshake: 403, and the connection ends')
  t.equal(upstream.handshakes.length + upstream.plain.length, 0, 'the upstream was never contacted')
  t.equal(await metric(node.adminUrl, 'leakgate_node_upgrades_total{verdict="block"}'), 3)
  t.equal(await metric(node.adminUrl, 'leakgate_node_requests_total{verdict="block"}'), 3)
  t.notOk(node.logs.text.includes(BLOCKED), 'no raw token in the log')
})

t.test('a monitored upgrade is tunnelled and its handshake carries exactly the node\'s verdict headers', async (t) => {
  const upstream = await startWsUpstream(t)
  const node = await startNode(t, { upstream: upstream.url, deps: { index: index() } })
  const opened = await open(`${node.url}/v1/stream`, { authorization: `Bearer ${MONITORED}`, 'Leakgate_Verdict': 'pass', 'LEAKGATE-LEAK-ID': '1' })
  if (!('ws' in opened)) throw new Error(`refused: ${opened.status} ${opened.body}`)
  opened.ws.send('hi')
  t.equal(await nextMessage(opened.ws), 'echo hi')
  const seen = upstream.handshakes[0] as IncomingHttpHeaders
  t.same(Object.keys(seen).filter((name) => name.startsWith('leakgate')).sort(), ['leakgate-leak-id', 'leakgate-verdict'])
  t.equal(seen['leakgate-leak-id'], '42')
  t.equal(seen['leakgate-verdict'], 'monitor')
  opened.ws.close()
  t.equal(await metric(node.adminUrl, 'leakgate_node_upgrades_total{verdict="monitor"}'), 1)
  await waitFor('a sighting', () => node.node.sightings.size === 1)
})

t.test('an h2c upgrade is answered as an ordinary request, and the connection does not hang', async (t) => {
  const upstream = await startWsUpstream(t)
  const node = await startNode(t, { upstream: upstream.url, deps: { index: index() } })
  const t0 = Date.now()
  // rawRequest resolves only once the node ends the connection.
  const answer = await rawRequest(node.url, 'GET /v1/plain HTTP/1.1\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\nConnection: Upgrade, HTTP2-Settings')
  t.match(answer.raw, /^HTTP\/1\.1 200 /)
  t.match(answer.body, /plain answer/, 'the upstream\'s answer')
  t.ok(Date.now() - t0 < 5000, 'answered and closed at once')
  t.equal(upstream.plain.length, 1)
  const seen = upstream.plain[0]?.headers ?? {}
  t.equal(seen.upgrade, undefined, 'the upstream is not asked to switch to a protocol the node cannot judge')
  t.equal(seen['http2-settings'], undefined)
  t.equal(await metric(node.adminUrl, 'leakgate_node_upgrades_total{verdict="pass"}'), 1)
})

t.test('an upgrade the upstream refuses is passed back and the connection closes', async (t) => {
  const upstream = await startWsUpstream(t)
  upstream.wss.options.verifyClient = () => false
  const node = await startNode(t, { upstream: upstream.url, deps: { index: index() } })
  const refused = await open(`${node.url}/v1/stream`)
  t.same('status' in refused ? refused.status : 'opened', 401, 'the upstream\'s own refusal')
})

t.test('an upstream that is down: 502 on the socket', async (t) => {
  const node = await startNode(t, { upstream: 'http://127.0.0.1:1', deps: { index: index() } })
  const refused = await open(`${node.url}/v1/stream`)
  t.same('status' in refused ? refused.status : 'opened', 502)
})

t.test('an upstream that never answers the handshake: 504 on the socket', async (t) => {
  const silent = createServer() // accepts and reads, never answers
  const held: Socket[] = []
  silent.on('connection', (socket) => held.push(socket))
  silent.on('upgrade', () => undefined)
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    for (const s of held) s.destroy()
    silent.close(() => resolve())
  }))
  const node = await startNode(t, { upstream: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, env: { LEAKGATE_UPSTREAM_TIMEOUT_MS: '200' }, deps: { index: index() } })
  const refused = await open(`${node.url}/v1/stream`)
  t.same('status' in refused ? refused.status : 'opened', 504)
  t.equal(await metric(node.adminUrl, 'leakgate_node_upstream_errors_total'), 1, 'counted as an upstream error')
})

t.test('an open tunnel is closed when the node closes, so shutdown does not hang', async (t) => {
  const upstream = await startWsUpstream(t)
  const node = await startNode(t, { upstream: upstream.url, deps: { index: index() } })
  const opened = await open(`${node.url}/v1/stream`)
  if (!('ws' in opened)) throw new Error(`refused: ${opened.status}`)
  const closed = new Promise<number>((resolve) => opened.ws.once('close', resolve))
  const t0 = Date.now()
  await node.node.close()
  t.ok(Date.now() - t0 < 5000, 'closed at once')
  t.ok(await closed, 'the client saw the tunnel end')
})
