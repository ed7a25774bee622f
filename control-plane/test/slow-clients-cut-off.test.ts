import { connect, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { startPlane, type TestPlane } from './harness.js'

async function listen(plane: TestPlane): Promise<number> {
  await plane.app.listen({ port: 0, host: '127.0.0.1' })
  return (plane.app.server.address() as AddressInfo).port
}

/** A raw connection; resolves `closed` with what the server sent before it closed the socket. */
function open(port: number): Promise<{ socket: Socket; received: () => string; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let data = ''
    const started = Date.now()
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => { data += chunk })
    socket.on('error', () => undefined)
    const closed = new Promise<number>((done) => socket.on('close', () => done(Date.now() - started)))
    socket.once('connect', () => resolve({ socket, received: () => data, closed }))
    socket.once('error', reject)
  })
}

t.test('a slowly trickled body is cut off after requestTimeoutSeconds', async (t) => {
  const plane = await startPlane(t, { requestTimeoutSeconds: 2, headersTimeoutSeconds: 1 })
  const port = await listen(plane)
  const c = await open(port)
  c.socket.write(`POST /v1/sightings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${plane.keys.node}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{`)
  const trickle = setInterval(() => { if (!c.socket.destroyed) c.socket.write(' ') }, 200)
  t.teardown(() => clearInterval(trickle))
  const ms = await c.closed
  clearInterval(trickle)
  t.ok(ms < 6000, `closed after ${ms} ms, while the client was still sending`)
  t.match(c.received(), /^HTTP\/1\.1 408|^$/, 'a 408 or a plain close')
})

t.test('a client that sends nothing, or trickles its headers, is cut off after headersTimeoutSeconds', async (t) => {
  const plane = await startPlane(t, { requestTimeoutSeconds: 10, headersTimeoutSeconds: 1 })
  const port = await listen(plane)
  const silent = await open(port)
  const trickled = await open(port)
  trickled.socket.write('GET /healthz HTTP/1.1\r\n')
  const trickle = setInterval(() => { if (!trickled.socket.destroyed) trickled.socket.write('X-A: b\r\n') }, 200)
  t.teardown(() => clearInterval(trickle))
  const [silentMs, trickledMs] = await Promise.all([silent.closed, trickled.closed])
  clearInterval(trickle)
  t.ok(silentMs < 4000, `silent connection closed after ${silentMs} ms`)
  t.ok(trickledMs < 4000, `trickled headers closed after ${trickledMs} ms`)
})

t.test('connections past maxConnections are closed at once; a freed place serves again', async (t) => {
  const plane = await startPlane(t, { maxConnections: 2 })
  const port = await listen(plane)
  const first = await open(port)
  const second = await open(port)
  const third = await open(port)
  const ms = await third.closed
  t.ok(ms < 2000, `the third connection was closed (${ms} ms)`)
  t.equal(third.received(), '', 'nothing was served on it')
  t.notOk(first.socket.destroyed || second.socket.destroyed, 'the first two stay open')
  first.socket.destroy()
  await first.closed
  const res = await fetch(`http://127.0.0.1:${port}/healthz`, { headers: { connection: 'close' } })
  t.equal(res.status, 200, 'a place freed serves again')
  second.socket.destroy()
})

t.test('a long-poll held longer than requestTimeoutSeconds still answers', async (t) => {
  const plane = await startPlane(t, { requestTimeoutSeconds: 1, headersTimeoutSeconds: 1 })
  const port = await listen(plane)
  const since = await plane.store.index.revision()
  const started = Date.now()
  const res = await fetch(`http://127.0.0.1:${port}/v1/sync/changes?since=${since}&wait=4`, { headers: { authorization: `Bearer ${plane.keys.node}` } })
  const ms = Date.now() - started
  t.equal(res.status, 200)
  t.ok(ms >= 3500, `held for the whole wait (${ms} ms), past the 1 s request timeout`)
  t.equal(res.headers.get('cache-control'), 'no-store')
})
