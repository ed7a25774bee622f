/**
 * gRPC to an https upstream: the node reaches it over HTTP/2 negotiated by ALPN, verifying its
 * certificate with the trust store the process was given (`NODE_EXTRA_CA_CERTS`, as an operator would set
 * it for a private CA), and a blocked call still never reaches it. A real `leakgate node` process, since
 * the extra CA is read only when a process starts.
 */
import { createSecureServer, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2'
import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { ALPHA, Rng } from '../../control-plane/detect/corpus/random.js'
import { encodeSnapshot } from '../../protocol/snapshot.js'
import { sha256Hex } from '../../protocol/token-hash.js'
import { writeFileAtomic } from '../leakdb/write-file-atomic.js'
import { listening, spawnNode } from './cli-process.js'
import { h2Client, makeCertificate, tempDir, type Teardown } from './helpers.js'

const rng = new Rng(0x6f_9d)
const BLOCKED = `ghp_${rng.chars(36, ALPHA.base62)}`

function frame(message: Buffer): Buffer {
  const head = Buffer.alloc(5)
  head.writeUInt32BE(message.length, 1)
  return Buffer.concat([head, message])
}

/**
 * An https upstream (HTTP/2 by ALPN, a certificate of its own) answering with `onStream`, and a real
 * `leakgate node` over TLS in front of it enforcing a snapshot that blocks BLOCKED; the node's process
 * is given the upstream's certificate as an extra CA when `trusted`. Answers an HTTP/2 client of the node.
 */
async function nodeBeforeUpstream(t: Teardown, trusted: boolean, onStream: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void): Promise<ReturnType<typeof h2Client>> {
  const dir = tempDir(t)
  const upstreamPair = makeCertificate(dir, 'upstream')
  const upstream = createSecureServer({ cert: readFileSync(upstreamPair.cert), key: readFileSync(upstreamPair.key) })
  upstream.on('stream', onStream)
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => upstream.close(() => resolve())))
  const index = join(dir, 'leaks.snapshot')
  await writeFileAtomic(index, encodeSnapshot([{ sha256: sha256Hex(BLOCKED), action: 'block', leakId: 81 }], 1))
  const nodePair = makeCertificate(dir, 'node')
  const p = spawnNode(t, [
    '--upstream', `https://localhost:${(upstream.address() as AddressInfo).port}`, '--index', index,
    '--port', '0', '--admin-port', '0', '--host', '127.0.0.1', '--admin-host', '127.0.0.1',
  ], { LEAKGATE_TLS_CERT: nodePair.cert, LEAKGATE_TLS_KEY: nodePair.key, ...(trusted ? { NODE_EXTRA_CA_CERTS: upstreamPair.cert } : {}) })
  const { url } = await listening(p)
  return h2Client(t, url.replace('http:', 'https:'))
}

t.test('gRPC to an https upstream goes over HTTP/2 by ALPN, certificate verified; blocked calls stay out', async (t) => {
  const seen: { scheme: string; alpn: string | false; path: string }[] = []
  const client = await nodeBeforeUpstream(t, true, (stream, headers) => {
    stream.resume()
    stream.on('end', () => {
      seen.push({ scheme: String(headers[':scheme']), alpn: stream.session?.alpnProtocol ?? false, path: String(headers[':path']) })
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true })
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }))
      stream.end(frame(Buffer.from('pong')))
    })
  })
  const call = (authorization: string): { method: string; headers: Record<string, string>; body: Buffer } => ({
    method: 'POST', headers: { 'content-type': 'application/grpc', te: 'trailers', authorization }, body: frame(Buffer.from('ping')),
  })

  const blocked = await client.send('/test.Svc/Ping', call(`Bearer ${BLOCKED}`))
  t.equal(blocked.headers['grpc-status'], '7', 'PERMISSION_DENIED')
  t.equal(seen.length, 0, 'the blocked call never reached the upstream')

  const clean = await client.send('/test.Svc/Ping', call('Bearer not-leaked'))
  t.equal(clean.trailers?.['grpc-status'], '0', 'the upstream\'s status comes back')
  t.equal(clean.body.subarray(5).toString(), 'pong')
  t.same(seen, [{ scheme: 'https', alpn: 'h2', path: '/test.Svc/Ping' }], 'reached over TLS, HTTP/2 chosen by ALPN')
})

t.test('gRPC to an https upstream whose certificate the node does not trust: UNAVAILABLE, nothing sent', async (t) => {
  let reached = 0
  const client = await nodeBeforeUpstream(t, false, (stream) => {
    reached++
    stream.respond({ ':status': 200 }, { endStream: true })
  })
  const answer = await client.send('/test.Svc/Ping', {
    method: 'POST', headers: { 'content-type': 'application/grpc', te: 'trailers' }, body: frame(Buffer.from('ping')),
  })
  t.equal(answer.headers['grpc-status'], '14', 'UNAVAILABLE: the upstream could not be reached safely')
  t.equal(reached, 0, 'no request was sent to an upstream it could not verify')
})
