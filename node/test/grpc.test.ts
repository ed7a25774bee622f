/**
 * gRPC through a TLS node: credentials in metadata are checked like any header; a blocked call gets
 * what a gRPC client reads (HTTP 200, `grpc-status: 7`, a percent-encoded `grpc-message`, in one HEADERS
 * frame ending the stream); a monitored or clean call goes to the upstream over HTTP/2 (h2c to a
 * cleartext upstream) and its messages and trailers come back. The upstream is a small node:http2
 * server framing unary messages by hand (a flag byte, a 4-byte length, the bytes).
 */
import { createServer, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { ALPHA, Rng } from '../../control-plane/detect/corpus/random.js'
import { h2Client, indexOf, startNode, type Teardown } from './helpers.js'

const rng = new Rng(0x6f_9c)
const BLOCKED = `ghp_${rng.chars(36, ALPHA.base62)}`
const MONITORED = rng.chars(40, ALPHA.base62)
const planted = [
  { token: BLOCKED, action: 'block' as const, leakId: 71 },
  { token: MONITORED, action: 'monitor' as const, leakId: 72 },
]

/** One gRPC message as it goes on the wire: uncompressed flag, big-endian length, bytes. */
function frame(message: Buffer): Buffer {
  const head = Buffer.alloc(5)
  head.writeUInt32BE(message.length, 1)
  return Buffer.concat([head, message])
}

/** A cleartext HTTP/2 gRPC-like upstream: echoes the message back with `echo:` before it and status OK; `/test.Svc/Missing` answers trailers-only NOT_FOUND. */
async function startGrpcUpstream(t: Teardown): Promise<{ url: string; seen: { path: string; headers: IncomingHttpHeaders; body: Buffer }[] }> {
  const seen: { path: string; headers: IncomingHttpHeaders; body: Buffer }[] = []
  const server = createServer()
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    const chunks: Buffer[] = []
    stream.on('data', (c: Buffer) => chunks.push(c))
    stream.on('end', () => {
      const body = Buffer.concat(chunks)
      const path = String(headers[':path'])
      seen.push({ path, headers, body })
      if (path === '/test.Svc/Missing') {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '5', 'grpc-message': 'no such thing' }, { endStream: true })
        return
      }
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'x-upstream': 'grpc' }, { waitForTrailers: true })
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'x-trailer': 'kept' }))
      stream.end(frame(Buffer.concat([Buffer.from('echo:'), body.subarray(5)])))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen }
}

const call = (metadata: Record<string, string> = {}): { method: string; headers: Record<string, string>; body: Buffer } => ({
  method: 'POST',
  headers: { 'content-type': 'application/grpc+proto', te: 'trailers', ...metadata },
  body: frame(Buffer.from('hello')),
})

t.test('gRPC: blocked calls get PERMISSION_DENIED, others reach the upstream over HTTP/2 with their trailers', async (t) => {
  const upstream = await startGrpcUpstream(t)
  const { url, node } = await startNode(t, { upstream: upstream.url, tls: true, deps: { index: indexOf(planted) } })
  const client = h2Client(t, url)

  for (const [name, metadata] of [['authorization', { authorization: `Bearer ${BLOCKED}` }], ['x-api-key', { 'x-api-key': BLOCKED }]] as const) {
    const blocked = await client.send('/test.Svc/Get', call(metadata))
    t.equal(blocked.status, 200, `${name}: HTTP 200, as gRPC answers`)
    t.ok(blocked.headersOnly, `${name}: trailers-only (one HEADERS frame ending the stream)`)
    t.equal(blocked.headers['grpc-status'], '7', `${name}: PERMISSION_DENIED`)
    t.equal(blocked.headers['content-type'], 'application/grpc')
    t.match(decodeURIComponent(String(blocked.headers['grpc-message'])), /leaked/i, `${name}: a message saying why`)
    t.equal(blocked.headers['leakgate-leak-id'], '71')
    t.equal(blocked.body.length, 0, `${name}: no message`)
  }
  t.equal(upstream.seen.length, 0, 'blocked calls never reach the upstream')

  const monitored = await client.send('/test.Svc/Get', call({ authorization: `Bearer ${MONITORED}` }))
  t.equal(monitored.status, 200)
  t.equal(monitored.trailers?.['grpc-status'], '0', 'the upstream\'s status comes back in trailers')
  t.equal(monitored.trailers?.['x-trailer'], 'kept')
  t.equal(monitored.headers['x-upstream'], 'grpc')
  t.equal(monitored.body.subarray(5).toString(), 'echo:hello', 'the message comes back framed as sent')
  t.equal(monitored.body.readUInt32BE(1), 10)
  const seen = upstream.seen.at(-1)
  t.equal(seen?.path, '/test.Svc/Get')
  t.equal(seen?.headers[':scheme'], 'http', 'the upstream was reached over h2c')
  t.equal(seen?.headers['leakgate-verdict'], 'monitor')
  t.equal(seen?.headers['leakgate-leak-id'], '72')
  t.equal(seen?.headers.te, 'trailers')
  t.equal(seen?.headers['content-type'], 'application/grpc+proto')
  t.same(seen?.body, frame(Buffer.from('hello')), 'the request message reaches the upstream byte for byte')

  const clean = await client.send('/test.Svc/Get', call({ authorization: 'Bearer not-leaked' }))
  t.equal(clean.trailers?.['grpc-status'], '0')
  t.equal(upstream.seen.at(-1)?.headers['leakgate-verdict'], undefined, 'a clean call carries no verdict')

  const missing = await client.send('/test.Svc/Missing', call())
  t.ok(missing.headersOnly, 'the upstream\'s trailers-only answer stays trailers-only')
  t.equal(missing.headers['grpc-status'], '5')
  t.equal(missing.headers['grpc-message'], 'no such thing')

  const refused = await client.send('/test.Svc/Get', call({ 'x-api-key': 'y'.repeat(9_000) }))
  t.equal(refused.headers['grpc-status'], '3', 'a refusal is a gRPC status too (INVALID_ARGUMENT)')
  t.equal(node.metrics.counters.block, 2)
  t.equal(node.metrics.counters.monitor, 1)
})

t.test('gRPC: an upstream that is down is UNAVAILABLE', async (t) => {
  const upstream = await startGrpcUpstream(t)
  const { url } = await startNode(t, { upstream: upstream.url.replace(/:\d+$/, ':1'), tls: true, deps: { index: indexOf(planted) } })
  const answer = await h2Client(t, url).send('/test.Svc/Get', call())
  t.equal(answer.status, 200)
  t.equal(answer.headers['grpc-status'], '14')
})
