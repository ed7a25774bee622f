/**
 * The proxy port over TLS: HTTP/2 and HTTP/1.1 by ALPN, the same credential check on both (blocked,
 * monitored, clean; headers, query, body), TLS 1.2 at least, failed handshakes counted, and the
 * certificate pair reloaded on demand and when its files are replaced, a bad pair refused; a WebSocket
 * over TLS judged and tunnelled.
 */
import { X509Certificate } from 'node:crypto'
import { copyFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { connect as tlsConnect, type PeerCertificate } from 'node:tls'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { Agent, request } from 'undici'
import { WebSocket, WebSocketServer } from 'ws'
import { Rng, ALPHA } from '../../control-plane/detect/corpus/random.js'
import { buildNode } from '../app.js'
import { loadNodeConfig } from '../config.js'
import { h2Client, indexOf, makeCertificate, metricValue, startNode, startUpstream, tempDir, waitFor, type Teardown } from './helpers.js'

const rng = new Rng(0x71_5e_c0)
const BLOCKED = `ghp_${rng.chars(36, ALPHA.base62)}`
const MONITORED = `sk_live_${rng.chars(32, ALPHA.base62)}`
const planted = [
  { token: BLOCKED, action: 'block' as const, leakId: 11 },
  { token: MONITORED, action: 'monitor' as const, leakId: 22 },
]

/** An HTTP/1.1-over-TLS client (no ALPN for h2), closed at teardown. */
function h1Client(t: Teardown): (url: string, options?: { method?: string; headers?: Record<string, string>; body?: string }) => Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  const agent = new Agent({ connections: 2, connect: { rejectUnauthorized: false } })
  t.teardown(() => agent.close())
  return async (url, options = {}) => {
    const res = await request(url, { dispatcher: agent, method: (options.method ?? 'GET') as 'GET', headers: options.headers ?? {}, body: options.body ?? null })
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() }
  }
}

/** The certificate a TLS client is shown by `url` now (a fresh connection). */
function servedCertificate(url: string): Promise<PeerCertificate> {
  const { port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: Number(port), rejectUnauthorized: false, servername: 'localhost' }, () => {
      resolve(socket.getPeerCertificate())
      socket.end()
    })
    socket.on('error', reject)
  })
}

const fingerprintOf = (file: string): string => new X509Certificate(readFileSync(file)).fingerprint256

t.test('the same verdicts over HTTP/2 and HTTP/1.1 on TLS', async (t) => {
  const upstream = await startUpstream(t)
  const { url, node } = await startNode(t, { upstream: upstream.url, tls: true, env: { LEAKGATE_BODY_LIMIT: '200000' }, deps: { index: indexOf(planted) } })
  t.match(url, /^https:/)
  const h2 = h2Client(t, url)
  const h1 = h1Client(t)
  const authority = url.replace('https://', '')

  // Blocked in each place, on both protocols; the upstream sees none of them.
  const blocked: [string, string, Record<string, string>, string?][] = [
    ['Authorization', '/v1/a', { authorization: `Bearer ${BLOCKED}` }],
    ['X-API-Key', '/v1/a', { 'x-api-key': BLOCKED }],
    ['query', `/v1/a?api_key=${BLOCKED}`, {}],
    ['form body', '/v1/a', { 'content-type': 'application/x-www-form-urlencoded' }, `access_token=${BLOCKED}`],
    ['JSON body', '/v1/a', { 'content-type': 'application/json' }, JSON.stringify({ token: BLOCKED })],
  ]
  for (const [name, path, headers, body] of blocked) {
    const method = body === undefined ? 'GET' : 'POST'
    const a = await h2.send(path, { method, headers, ...(body === undefined ? {} : { body }) })
    t.equal(a.status, 403, `h2 ${name}: 403`)
    t.match(a.headers['content-type'], /^application\/problem\+json/, `h2 ${name}: problem+json`)
    t.equal(a.headers['leakgate-leak-id'], '11', `h2 ${name}: the leak's id`)
    t.match(JSON.parse(a.text), { status: 403, leakId: 11, code: 'LEAKGATE_ERR_LEAKED_CREDENTIAL' }, `h2 ${name}: body`)
    const b = await h1(url + path, { method, headers, ...(body === undefined ? {} : { body }) })
    t.equal(b.status, 403, `HTTP/1.1 over TLS ${name}: 403`)
    t.equal(b.headers['leakgate-leak-id'], '11')
  }
  t.equal(upstream.seen.length, 0, 'the upstream was never contacted')
  t.equal(node.metrics.counters.block, blocked.length * 2, 'every block counted, whatever the protocol')

  // Monitored: forwarded with the verdict headers.
  const m = await h2.send('/v1/m', { headers: { 'x-api-key': MONITORED } })
  t.equal(m.status, 200)
  const seenM = upstream.seen.at(-1)
  t.equal(seenM?.headers['leakgate-verdict'], 'monitor', 'h2 monitored: Leakgate-Verdict')
  t.equal(seenM?.headers['leakgate-leak-id'], '22')
  t.equal(seenM?.headers['x-api-key'], MONITORED)

  // Clean: method, path, query and body through; no pseudo-header upstream; :authority as the forwarded host.
  const c = await h2.send('/status/201?x=1&token=clean-token-value', { method: 'POST', headers: { 'content-type': 'text/plain', 'x-custom': 'kept' }, body: 'hello over h2' })
  t.equal(c.status, 201)
  t.equal(c.headers['x-upstream'], 'yes', 'the upstream\'s headers come back')
  t.equal(c.headers.connection, undefined, 'no connection header on HTTP/2')
  const seen = upstream.seen.at(-1)
  t.equal(seen?.method, 'POST')
  t.equal(seen?.url, '/status/201?x=1&token=clean-token-value')
  t.equal(seen?.body, 'hello over h2', 'a body without Content-Length is streamed through')
  t.same(Object.keys(seen?.headers ?? {}).filter((k) => k.startsWith(':')), [], 'no pseudo-header reaches the upstream')
  t.equal(seen?.headers['x-forwarded-host'], authority, ':authority is the client\'s host')
  t.equal(seen?.headers['x-forwarded-proto'], 'https')
  t.equal(seen?.headers['x-custom'], 'kept')
  const sightings = node.sightings.take(100)
  t.ok(sightings.some((s) => s.leakId === 22 && s.host === authority), 'a sighting over HTTP/2 names the :authority host')

  const plain = await h1(`${url}/v1/plain`)
  t.equal(plain.status, 200, 'HTTP/1.1 over TLS passes a clean request')
  t.equal(upstream.seen.at(-1)?.headers['x-forwarded-proto'], 'https')

  // HTTP/2 refusals are the same problems.
  t.equal((await h2.send('//evil.example/x')).status, 400, 'a path that would leave the upstream: 400')
  t.equal((await h2.send('/v1/a', { headers: { 'x-api-key': 'y'.repeat(9_000) } })).status, 400, 'a credential past the length limit: 400')
  const before = upstream.seen.length
  const big = await h2.send('/v1/a', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'z'.repeat(300_000) })
  t.equal(big.status, 413, 'a body past the limit, without Content-Length: 413')
  t.equal(JSON.parse(big.text).code, 'LEAKGATE_ERR_BODY_TOO_LARGE')
  const bigJson = await h2.send('/v1/a', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pad: 'p'.repeat(70_000), token: BLOCKED }) })
  t.equal(bigJson.status, 413, 'a JSON body past the check limit is refused, not forwarded unchecked')
  t.equal(upstream.seen.length, before, 'neither reached the upstream whole')
})

t.test('TLS 1.2 at least; failed handshakes are counted', async (t) => {
  const upstream = await startUpstream(t)
  const { url, adminUrl } = await startNode(t, { upstream: upstream.url, tls: true, deps: { index: indexOf(planted) } })
  const { port } = new URL(url)
  const old = await new Promise<string>((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port: Number(port), rejectUnauthorized: false, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }, () => resolve('connected'))
    s.on('error', (err: Error & { code?: string }) => resolve(err.code ?? 'error'))
  })
  t.not(old, 'connected', 'a TLS 1.1 client is refused')
  const v12 = await new Promise<string | null>((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: Number(port), rejectUnauthorized: false, maxVersion: 'TLSv1.2' }, () => {
      resolve(s.getProtocol())
      s.end()
    })
    s.on('error', reject)
  })
  t.equal(v12, 'TLSv1.2', 'TLS 1.2 is served')
  // Plain HTTP on the TLS port is a failed handshake too.
  const plain = await fetch(url.replace('https:', 'http:')).then(() => 'answered', () => 'failed')
  t.equal(plain, 'failed')
  const errors = await waitFor('handshake errors counted', async () => {
    const n = await metricValue(adminUrl, 'leakgate_node_tls_handshake_errors_total')
    return n >= 2 ? n : 0
  })
  t.ok(errors >= 2, `failed handshakes on /metrics (${errors})`)
})

t.test('tlsCert and tlsKey go together', async (t) => {
  const thrown = t.throws(() => loadNodeConfig({ env: { LEAKGATE_UPSTREAM: 'http://x', LEAKGATE_TLS_CERT: '/tmp/cert.pem' } }), { code: 'LEAKGATE_ERR_CONFIG' }) as Error
  t.match(thrown.message, /LEAKGATE_TLS_CERT/)
  t.match(thrown.message, /LEAKGATE_TLS_KEY/)
  t.throws(() => loadNodeConfig({ env: { LEAKGATE_UPSTREAM: 'http://x' }, flags: { 'tls-key': '/tmp/key.pem' } }), { message: /--tls-cert/ })
  // A pair that does not load stops the node at start, naming the options (not the index, not the key's bytes).
  const dir = tempDir(t)
  const a = makeCertificate(dir, 'a')
  const b = makeCertificate(dir, 'b')
  for (const [name, cert, key] of [['a missing file', join(dir, 'none.pem'), a.key], ['a key that is not the certificate\'s', a.cert, b.key]] as const) {
    const config = loadNodeConfig({ env: { LEAKGATE_UPSTREAM: 'http://127.0.0.1:1', LEAKGATE_TLS_CERT: cert, LEAKGATE_TLS_KEY: key, LEAKGATE_LOG_LEVEL: 'silent' } })
    const err = t.throws(() => buildNode(config, { index: indexOf(planted) }), { code: 'LEAKGATE_ERR_CONFIG' }, name) as Error
    t.match(err.message, /LEAKGATE_TLS_CERT.*LEAKGATE_TLS_KEY/, `${name}: both options named`)
  }
})

t.test('reload: a renewed pair is taken up, on demand, on SIGHUP and when the files are replaced; a bad one is refused', async (t) => {
  const dir = tempDir(t)
  const live = { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key') }
  const first = makeCertificate(dir, 'first')
  copyFileSync(first.cert, live.cert)
  copyFileSync(first.key, live.key)
  const upstream = await startUpstream(t)
  const { url, node, logs } = await startNode(t, { upstream: upstream.url, tls: live, deps: { index: indexOf(planted) } })
  const tls = node.tls
  if (tls === undefined) throw new Error('the node has no TLS')
  t.equal((await servedCertificate(url)).fingerprint256, fingerprintOf(first.cert), 'the first pair is served')

  // Replaced as cert-manager and certbot do: a new file renamed over the old one.
  const second = makeCertificate(dir, 'second')
  copyFileSync(second.cert, join(dir, '.tls.crt.tmp'))
  copyFileSync(second.key, join(dir, '.tls.key.tmp'))
  renameSync(join(dir, '.tls.key.tmp'), live.key)
  renameSync(join(dir, '.tls.crt.tmp'), live.cert)
  await waitFor('the renewed pair served', async () => (await servedCertificate(url)).fingerprint256 === fingerprintOf(second.cert), 10_000)
  t.pass('the watch took up the renamed files')

  // A key that is not the certificate's: refused, logged, the pair in force kept.
  const third = makeCertificate(dir, 'third')
  copyFileSync(third.cert, live.cert)
  t.equal(tls.reload(), false, 'a mismatched pair is refused')
  t.match(logs.text, /TLS certificate not reloaded/)
  writeFileSync(live.key, 'not a key')
  t.equal(tls.reload(), false, 'an unreadable key is refused')
  t.equal((await servedCertificate(url)).fingerprint256, fingerprintOf(second.cert), 'the pair in force stays')
  const h2 = h2Client(t, url)
  t.equal((await h2.send('/still-serving')).status, 200, 'and the node still serves')

  const refused = (await node.reload('SIGHUP')).find((o) => o.name === 'TLS files')
  t.equal(refused?.ok, false, 'SIGHUP reloads the pair too, and refuses a bad one')

  copyFileSync(third.key, live.key)
  const taken = (await node.reload('SIGHUP')).find((o) => o.name === 'TLS files')
  t.equal(taken?.ok, true, 'a good pair is taken up on SIGHUP')
  t.equal((await servedCertificate(url)).fingerprint256, fingerprintOf(third.cert))
  t.notMatch(logs.text, /BEGIN/, 'no PEM text in the logs')
})

t.test('a WebSocket over TLS (HTTP/1.1) is judged and tunnelled as on plain HTTP', async (t) => {
  const echo = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  echo.on('connection', (ws) => ws.on('message', (data) => ws.send(`echo ${String(data)}`)))
  await new Promise<void>((resolve) => echo.once('listening', () => resolve()))
  t.teardown(() => new Promise<void>((resolve) => {
    for (const c of echo.clients) c.terminate()
    echo.close(() => resolve())
  }))
  const { url } = await startNode(t, { upstream: `http://127.0.0.1:${(echo.address() as AddressInfo).port}`, tls: true, deps: { index: indexOf(planted) } })
  const open = (headers: Record<string, string>): Promise<WebSocket | number> => new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace('https:', 'wss:')}/socket`, { headers, rejectUnauthorized: false })
    ws.once('open', () => resolve(ws))
    ws.once('unexpected-response', (_req, res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    ws.once('error', reject)
  })
  t.equal(await open({ 'x-api-key': BLOCKED }), 403, 'a blocked handshake: 403')
  const ws = await open({ 'x-api-key': 'clean-value-0000000000' })
  if (typeof ws === 'number') throw new Error(`refused: ${ws}`)
  const reply = new Promise<string>((resolve) => ws.once('message', (data) => resolve(String(data))))
  ws.send('over tls')
  t.equal(await reply, 'echo over tls')
  ws.terminate()
})

t.test('closing the node sends HTTP/2 clients away and does not wait on their idle sessions', async (t) => {
  const upstream = await startUpstream(t)
  const { url, node } = await startNode(t, { upstream: upstream.url, tls: true, deps: { index: indexOf(planted) } })
  const client = h2Client(t, url)
  t.equal((await client.send('/v1/a')).status, 200)
  const goaway = new Promise<void>((resolve) => client.session.once('goaway', () => resolve()))
  const started = Date.now()
  await node.close()
  await goaway
  t.ok(Date.now() - started < 5_000, 'closed without waiting for the client')
})

t.test('an idle HTTP/2 connection is closed after keepAliveTimeoutMs, a busy one is not', async (t) => {
  const upstream = await startUpstream(t)
  const { url } = await startNode(t, { upstream: upstream.url, tls: true, env: { LEAKGATE_KEEP_ALIVE_TIMEOUT_MS: '300' }, deps: { index: indexOf(planted) } })
  const client = h2Client(t, url)
  const slow = client.send('/slow')
  await waitFor('the slow request at the upstream', () => upstream.seen.length === 1, 5_000)
  await new Promise((resolve) => setTimeout(resolve, 800))
  t.notOk(client.session.closed, 'a session with a request in flight stays open past the idle time')
  upstream.release()
  t.equal((await slow).status, 200)
  await waitFor('the idle session closed', () => client.session.closed || client.session.destroyed, 5_000)
  t.pass('the idle session was sent away')
})

t.test('maxHeaderSize holds on HTTP/1.1 over TLS: 431', async (t) => {
  const upstream = await startUpstream(t)
  const { url } = await startNode(t, { upstream: upstream.url, tls: true, env: { LEAKGATE_MAX_HEADER_SIZE: '4096' }, deps: { index: indexOf(planted) } })
  const h1 = h1Client(t)
  t.equal((await h1(`${url}/a`, { headers: { 'x-pad': 'p'.repeat(6000) } })).status, 431)
  t.equal((await h1(`${url}/a`)).status, 200, 'the node still serves')
})
