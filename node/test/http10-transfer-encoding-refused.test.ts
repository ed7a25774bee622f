/**
 * RFC 9112 6.1: an HTTP/1.0 request with Transfer-Encoding has faulty framing. node:http read its body as
 * chunked and handed the request on, then answered the bytes after it with a 400: the upstream executed
 * a request the client was told had failed. The node refuses it (400, connection closed) before any
 * forwarding, and so it does a request with both Transfer-Encoding and Content-Length.
 */
import { connect } from 'node:net'
import t from 'tap'
import { rawRequest, startNode, startUpstream } from './helpers.js'

t.test('an HTTP/1.0 request with Transfer-Encoding is refused and never reaches the upstream', async (t) => {
  const upstream = await startUpstream(t)
  const { url, adminUrl } = await startNode(t, { upstream: upstream.url })
  const cases: [string, string, string][] = [
    ['HTTP/1.0, chunked body and trailing bytes', 'POST /v1/orders HTTP/1.0\r\nTransfer-Encoding: chunked', '5\r\nhello\r\n0\r\n\r\nGET /v1/smuggled HTTP/1.1\r\nHost: api.test\r\n\r\n'],
    ['HTTP/1.0, chunked body', 'POST /v1/orders HTTP/1.0\r\nTransfer-Encoding: chunked', '5\r\nhello\r\n0\r\n\r\n'],
    ['HTTP/1.0, GET with Transfer-Encoding', 'GET /v1/orders HTTP/1.0\r\nTransfer-Encoding: chunked', '0\r\n\r\n'],
    ['HTTP/1.1, both Transfer-Encoding and Content-Length', 'POST /v1/orders HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5', '5\r\nhello\r\n0\r\n\r\n'],
  ]
  for (const [name, head, body] of cases) {
    const answer = await rawRequest(url, head, body)
    t.match(answer.raw, /^HTTP\/1\.1 400 /, `${name}: 400`)
    t.match(answer.raw, /\r\nconnection: close\r\n/i, `${name}: the connection closes`)
  }
  // Whatever the upstream was sent would have been recorded by now: the answers above came after it.
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(upstream.seen, [], 'the upstream recorded nothing')
  const metrics = await (await fetch(`${adminUrl}/metrics`)).text()
  t.match(metrics, /leakgate_node_requests_refused_total\{reason="framing"\} 3/, 'the three node:http let through are counted as refused for their framing')
  t.match(metrics, /leakgate_node_requests_total\{verdict="pass"\} 0/, 'and never judged')
})

t.test('an HTTP/1.0 request without Transfer-Encoding is forwarded as before', async (t) => {
  const upstream = await startUpstream(t)
  const { url } = await startNode(t, { upstream: upstream.url })
  // Written without ending the socket (rawRequest half-closes, and a client gone is not answered).
  const { port } = new URL(url)
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.write('POST /v1/orders HTTP/1.0\r\nHost: api.test\r\nContent-Length: 5\r\n\r\nhello'))
    let raw = ''
    socket.on('data', (c: Buffer) => (raw += c.toString('latin1')))
    socket.on('end', () => resolve(raw))
    socket.on('error', reject)
  })
  t.match(answer, /^HTTP\/1\.1 200 /)
  t.equal(upstream.seen[0]?.body, 'hello')
})
