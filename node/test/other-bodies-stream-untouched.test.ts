/**
 * Only form and JSON bodies are read before the node judges: any other body (an upload, a text body
 * that no mainstream stack parses into parameters) streams to the upstream as it arrives, untouched,
 * even when it holds `access_token=<leaked token>`.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import t from 'tap'
import { indexOf, pooledSend, startNode, startUpstream, waitFor } from './helpers.js'

const TOKEN = 'ghp_StreamedBodyToken0000000000000000000001'
const planted = [{ token: TOKEN, action: 'block' as const, leakId: 9 }]

t.test('an octet-stream body reaches the upstream before it has all arrived', async (t) => {
  const arrived: { headers: IncomingHttpHeaders; bytes: Buffer[]; ended: boolean }[] = []
  const server = createServer((req, res) => {
    const entry = { headers: req.headers, bytes: [] as Buffer[], ended: false }
    arrived.push(entry)
    req.on('data', (c: Buffer) => entry.bytes.push(c))
    req.on('end', () => {
      entry.ended = true
      res.end('ok')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  const { url } = await startNode(t, { upstream: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, deps: { index: indexOf(planted) } })
  const first = Buffer.from(`access_token=${TOKEN}&`)
  const rest = Buffer.from([0xff, 0x00, 0xfe, 0x41, 0x0a])
  const { port } = new URL(url)
  const socket = connect(Number(port), '127.0.0.1')
  t.teardown(() => socket.destroy())
  let answer = ''
  socket.on('data', (c: Buffer) => (answer += c.toString('latin1')))
  socket.write(`POST /upload HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Type: application/octet-stream\r\nContent-Length: ${first.length + rest.length}\r\n\r\n`)
  socket.write(first)
  await waitFor('the upstream to get the first bytes while the rest is unsent', () => Buffer.concat(arrived[0]?.bytes ?? []).equals(first))
  t.equal(arrived[0]?.ended, false)
  socket.write(rest)
  await waitFor('the answer', () => answer.includes('\r\n\r\nok'))
  t.match(answer, /^HTTP\/1\.1 200 /)
  t.ok(Buffer.concat(arrived[0]?.bytes ?? []).equals(Buffer.concat([first, rest])), 'every byte as sent')
})

t.test('bodies of other types holding a leaked token are the upstream\'s: text/plain, XML, octet-stream', async (t) => {
  const upstream = await startUpstream(t)
  const { url } = await startNode(t, { upstream: upstream.url, deps: { index: indexOf(planted) } })
  const send = pooledSend(t)
  const bodies: [string, string][] = [
    ['text/plain', JSON.stringify({ access_token: TOKEN })],
    ['application/xml', `<access_token>${TOKEN}</access_token>`],
    ['application/octet-stream', `access_token=${TOKEN}`],
  ]
  for (const [type, body] of bodies) {
    t.equal((await send(`${url}/x`, { headers: { 'content-type': type }, body })).status, 200, type)
    t.equal(upstream.seen.at(-1)?.body, body, `${type}: untouched`)
  }
})
