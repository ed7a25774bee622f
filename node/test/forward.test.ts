/**
 * The node's forwarding as the client and the upstream see it, for what a proxy must get right beyond
 * passing a request through: hop-by-hop headers, Host, client aborts, bodiless answers, large bodies
 * both ways, paths that climb out of the upstream, and only checked credentials reaching the upstream.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import t from 'tap'
import { Pool, request } from 'undici'
import { startNode, indexOf, waitFor, type Teardown } from './helpers.js'

const BLOCKED = 'ghp_ForwardTestLeakedToken00000000000001'

interface Hit {
  method: string
  url: string
  headers: IncomingHttpHeaders
  rawHeaders: string[]
  bytes: number
}

/** An upstream for these tests: records each request; some paths answer in particular ways. */
async function startOrigin(t: Teardown) {
  const hits: Hit[] = []
  const hanging: { res: ServerResponse; closed: boolean }[] = []
  const server = createServer((req, res) => {
    let bytes = 0
    req.on('data', (c: Buffer) => (bytes += c.length))
    req.on('end', () => {
      hits.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, bytes })
      const url = req.url ?? '/'
      if (url.startsWith('/hop')) {
        res.writeHead(200, [
          'Connection', 'keep-alive, X-Resp-Hop',
          'Keep-Alive', 'timeout=5',
          'X-Resp-Hop', 'secret-to-this-hop',
          'Trailer', 'X-Checksum',
          'X-End-To-End', 'kept',
          'Content-Type', 'text/plain',
        ])
        res.end('hop')
      } else if (url === '/hang') {
        const entry = { res, closed: false }
        res.on('close', () => (entry.closed = true))
        hanging.push(entry)
        res.writeHead(200, { 'content-type': 'text/plain' })
        res.write('first part\n')
      } else if (url.startsWith('/status/')) {
        res.writeHead(Number(url.slice(8)), { etag: '"v1"', 'x-upstream': 'yes' })
        res.end()
      } else if (url === '/head') {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '11' })
        res.end(req.method === 'HEAD' ? undefined : 'hello world')
      } else if (url === '/big') {
        // 8 MiB in 64 KiB writes, each after the previous one drained: a producer that respects backpressure.
        res.writeHead(200, { 'content-type': 'application/octet-stream' })
        const block = Buffer.alloc(65_536, 0x61)
        let left = 128
        const pump = (): void => {
          while (left > 0) {
            left--
            if (!res.write(block)) {
              res.once('drain', pump)
              return
            }
          }
          res.end()
        }
        pump()
      } else {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ bytes }))
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, hits, hanging }
}

/** Sends raw bytes (headers no HTTP client library would send) and reads the answer to the end. */
function raw(base: string, text: string): Promise<{ status: number; head: string; body: string }> {
  const { hostname, port } = new URL(base)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(text))
    const chunks: Buffer[] = []
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', reject)
    socket.on('end', () => {
      const all = Buffer.concat(chunks).toString('latin1')
      const split = all.indexOf('\r\n\r\n')
      const head = all.slice(0, split).toLowerCase()
      const rest = all.slice(split + 4)
      resolve({ status: Number(head.slice(9, 12)), head, body: head.includes('\r\ntransfer-encoding: chunked') ? unchunk(rest) : rest })
    })
  })
}

function unchunk(text: string): string {
  let out = ''
  let at = 0
  for (;;) {
    const eol = text.indexOf('\r\n', at)
    const size = parseInt(text.slice(at, eol), 16)
    if (!(size > 0)) return out
    out += text.slice(eol + 2, eol + 2 + size)
    at = eol + 2 + size + 2
  }
}

t.test('hop-by-hop headers are removed both ways; Host is the upstream\'s, X-Forwarded-Host the client\'s', async (t) => {
  const origin = await startOrigin(t)
  const { url } = await startNode(t, { upstream: origin.url, deps: { index: indexOf([{ token: BLOCKED, action: 'block', leakId: 1 }]) } })
  const res = await raw(url, [
    'GET /hop?q=1 HTTP/1.1',
    'Host: api.example.com',
    'Connection: close, X-Hop-Only',
    'X-Hop-Only: for-the-node',
    'Keep-Alive: timeout=30',
    'Proxy-Connection: keep-alive',
    'TE: trailers',
    'Trailer: X-Sum',
    'X-End-To-End: kept',
    '', '',
  ].join('\r\n'))
  t.equal(res.status, 200)
  t.equal(res.body, 'hop')
  const seen = origin.hits.at(-1)
  const names = (seen?.rawHeaders ?? []).filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase())
  for (const name of ['x-hop-only', 'keep-alive', 'proxy-connection', 'te', 'trailer']) t.notOk(names.includes(name), `${name} not forwarded`)
  t.not(seen?.headers.connection, 'close, X-Hop-Only', 'the client\'s Connection header is not forwarded')
  t.equal(seen?.headers['x-end-to-end'], 'kept')
  t.equal(seen?.url, '/hop?q=1')
  t.equal(seen?.headers.host, origin.host, 'Host is the upstream\'s')
  t.equal(seen?.headers['x-forwarded-host'], 'api.example.com', 'X-Forwarded-Host is the client\'s Host')
  t.equal(names.filter((n) => n === 'host').length, 1, 'one Host header')

  t.notMatch(res.head, /x-resp-hop|keep-alive: timeout|\ntrailer:/, 'the upstream\'s hop-by-hop headers are not passed back')
  t.match(res.head, /\nx-end-to-end: kept/)
})

t.test('only the credentials the node checked reach the upstream', async (t) => {
  const origin = await startOrigin(t)
  const { url } = await startNode(t, { upstream: origin.url, deps: { index: indexOf([{ token: BLOCKED, action: 'block', leakId: 1 }]) } })
  // node:http keeps the first of two Authorization headers; the second must not slip through unchecked.
  const res = await raw(url, ['GET /x HTTP/1.1', 'Host: a', 'Connection: close', 'Authorization: Bearer clean-one', `Authorization: Bearer ${BLOCKED}`, '', ''].join('\r\n'))
  t.equal(res.status, 200)
  const forwarded = (origin.hits.at(-1)?.rawHeaders ?? []).filter((_, i, a) => i % 2 === 1 && a[i - 1]?.toLowerCase() === 'authorization')
  t.same(forwarded, ['Bearer clean-one'], 'the upstream sees the one credential that was checked')
})

t.test('a client that goes away cancels its upstream request', async (t) => {
  const origin = await startOrigin(t)
  const { url } = await startNode(t, { upstream: origin.url, deps: { index: indexOf([]) } })
  const controller = new AbortController()
  const res = await request(`${url}/hang`, { signal: controller.signal })
  t.equal(res.statusCode, 200)
  res.body.on('error', () => {})
  await waitFor('the upstream to start answering', () => origin.hanging.length === 1)
  t.equal(origin.hanging[0]?.closed, false)
  controller.abort()
  await waitFor('the upstream request to be closed', () => origin.hanging[0]?.closed === true)
  t.pass('the upstream saw its request cancelled')
})

t.test('HEAD, 204 and 304 answers carry no body and the connection stays usable', async (t) => {
  const origin = await startOrigin(t)
  const { url } = await startNode(t, { upstream: origin.url, deps: { index: indexOf([]) } })
  const pool = new Pool(url, { connections: 1, pipelining: 1 })
  t.teardown(() => pool.close())
  const head = await pool.request({ path: '/head', method: 'HEAD' })
  t.equal(head.statusCode, 200)
  t.equal(head.headers['content-length'], '11', 'HEAD keeps the upstream\'s Content-Length')
  t.equal(await head.body.text(), '')
  for (const status of [204, 304]) {
    const r = await pool.request({ path: `/status/${status}`, method: 'GET' })
    t.equal(r.statusCode, status)
    t.equal(r.headers.etag, '"v1"')
    t.equal(await r.body.text(), '', `${status}: no body`)
  }
  const after = await pool.request({ path: '/head', method: 'GET' })
  t.equal(await after.body.text(), 'hello world', 'the same connection serves the next request')
})

t.test('large bodies stream both ways whole', async (t) => {
  const origin = await startOrigin(t)
  const { url } = await startNode(t, { upstream: origin.url, env: { LEAKGATE_BODY_LIMIT: String(16 * 1024 * 1024) }, deps: { index: indexOf([]) } })
  const down = await request(`${url}/big`)
  let got = 0
  for await (const chunk of down.body) got += (chunk as Buffer).length
  t.equal(got, 8 * 1024 * 1024, 'an 8 MiB answer arrives whole')

  const parts = Array.from({ length: 64 }, () => Buffer.alloc(131_072, 0x62))
  // (With its type: a POST body without one is read as a form, as Rack reads it, and checked up to bodyCheckLimit.)
  const up = await request(`${url}/upload`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Readable.from(parts) })
  t.same(await up.body.json(), { bytes: 8 * 1024 * 1024 }, 'an 8 MiB chunked upload reaches the upstream whole')
  const withLength = await request(`${url}/upload`, { method: 'PUT', headers: { 'content-length': String(3 * 131_072) }, body: Readable.from(parts.slice(0, 3)) })
  t.same(await withLength.body.json(), { bytes: 3 * 131_072 }, 'a body with Content-Length too')
})

t.test('Expect: 100-continue is answered by the node and the body forwarded', async (t) => {
  const origin = await startOrigin(t)
  const { url } = await startNode(t, { upstream: origin.url, deps: { index: indexOf([]) } })
  const res = await raw(url, ['POST /expect HTTP/1.1', 'Host: a', 'Connection: close', 'Expect: 100-continue', 'Content-Length: 5', '', 'hello'].join('\r\n'))
  t.equal(res.status, 100, 'the node says continue first')
  t.match(res.body, /HTTP\/1\.1 200 OK[\s\S]*\{"bytes":5\}/)
  t.equal(origin.hits.at(-1)?.headers.expect, undefined)
})

t.test('paths that climb out of the upstream are refused and nothing is forwarded', async (t) => {
  const origin = await startOrigin(t)
  const { url } = await startNode(t, { upstream: origin.url, deps: { index: indexOf([]) } })
  for (const path of ['/a/../admin', '/a/%2e%2e/admin', '/a/%2E%2e%2Fadmin', '/..']) {
    const res = await raw(url, [`GET ${path} HTTP/1.1`, 'Host: a', 'Connection: close', '', ''].join('\r\n'))
    t.equal(res.status, 400, `${path}: 400`)
    t.match(JSON.parse(res.body), { code: 'LEAKGATE_ERR_BAD_REQUEST' })
  }
  const absolute = await raw(url, ['GET http://evil.example/x HTTP/1.1', 'Host: evil.example', 'Connection: close', '', ''].join('\r\n'))
  t.equal(absolute.status, 400, 'an absolute-form target: 400')
  t.equal(origin.hits.length, 0, 'the upstream saw none of them')
  const ok = await raw(url, ['GET /files/v1.2/a...b HTTP/1.1', 'Host: a', 'Connection: close', '', ''].join('\r\n'))
  t.equal(ok.status, 200, 'dots that are not a .. segment pass')
})

t.test('refusals keep a connection alive unless a body is left unread', async (t) => {
  const origin = await startOrigin(t)
  const { url } = await startNode(t, { upstream: origin.url, env: { LEAKGATE_BODY_LIMIT: '1000' }, deps: { index: indexOf([{ token: BLOCKED, action: 'block', leakId: 1 }]) } })
  const pool = new Pool(url, { connections: 1, pipelining: 1 })
  t.teardown(() => pool.close())
  const blocked = await pool.request({ path: '/x', method: 'GET', headers: { authorization: `Bearer ${BLOCKED}` } })
  t.equal(blocked.statusCode, 403)
  t.equal(blocked.headers.connection, 'keep-alive', 'a blocked GET: the connection stays open')
  await blocked.body.dump()
  const tooLarge = await raw(url, ['POST /x HTTP/1.1', 'Host: a', 'Content-Length: 5000', '', 'only part of it'].join('\r\n'))
  t.equal(tooLarge.status, 413)
  t.match(tooLarge.head, /\nconnection: close/, 'a body over the limit: the node does not read it and ends the connection')
  const next = await pool.request({ path: '/x', method: 'GET' })
  t.equal(next.statusCode, 200, 'and keeps serving')
  await next.body.dump()
})
