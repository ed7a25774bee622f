/**
 * The real node in front of a small upstream, both on port 0: what a client and the upstream see.
 */
import { Readable } from 'node:stream'
import t from 'tap'
import { Agent, request } from 'undici'
import { startNode, startUpstream, indexOf, type Planted } from './helpers.js'

const BLOCKED = 'ghp_R3alLeakedToken0000000000000000000001'
const MONITORED = 'sk_live_MonitoredToken00000000000000002'
const MONITORED_2 = 'xoxb-SecondMonitored-000000000000000003'
const PAIR_USER = 'deploy'
const PAIR_PASS = 'hunter2-but-longer-pass-0000004'
const planted: Planted[] = [
  { token: BLOCKED, action: 'block', leakId: 11 },
  { token: MONITORED, action: 'monitor', leakId: 22 },
  { token: MONITORED_2, action: 'monitor', leakId: 33 },
  { token: `${PAIR_USER}:${PAIR_PASS}`, action: 'block', leakId: 44 },
]
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64')

const agent = new Agent({ connections: 4 })
t.teardown(() => agent.close())

async function send(url: string, opts: { method?: string; headers?: Record<string, string | string[]>; body?: string } = {}) {
  const res = await request(url, {
    dispatcher: agent,
    method: (opts.method ?? 'GET') as 'GET',
    ...(opts.headers === undefined ? {} : { headers: opts.headers }),
    ...(opts.body === undefined ? {} : { body: opts.body }),
  })
  const text = await res.body.text()
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> }
}

t.test('a leaked token in each default place is answered 403 and the upstream sees nothing', async (t) => {
  const upstream = await startUpstream(t)
  const { url, node } = await startNode(t, { upstream: upstream.url, deps: { index: indexOf(planted) } })
  const places: [string, { path?: string; headers?: Record<string, string> }, number][] = [
    ['Authorization Bearer', { headers: { authorization: `Bearer ${BLOCKED}` } }, 11],
    ['Authorization bearer (lower case, extra spaces)', { headers: { authorization: `bearer   ${BLOCKED}  ` } }, 11],
    ['Basic password alone', { headers: { authorization: `Basic ${b64(`anyone:${BLOCKED}`)}` } }, 11],
    ['Basic user with empty password', { headers: { authorization: `Basic ${b64(`${BLOCKED}:`)}` } }, 11],
    ['Basic user:password pair', { headers: { authorization: `Basic ${b64(`${PAIR_USER}:${PAIR_PASS}`)}` } }, 44],
    ['X-API-Key', { headers: { 'x-api-key': BLOCKED } }, 11],
    ['Api-Key', { headers: { 'Api-Key': BLOCKED } }, 11],
    ['query api_key', { path: `/v1/x?api_key=${BLOCKED}` }, 11],
    ['query access_token', { path: `/v1/x?a=1&access_token=${encodeURIComponent(BLOCKED)}` }, 11],
    ['query token', { path: `/v1/x?token=${BLOCKED}&b=2` }, 11],
    ['query key (percent-encoded)', { path: `/v1/x?key=${BLOCKED.replace('_', '%5F')}` }, 11],
  ]
  for (const [name, req, leakId] of places) {
    const res = await send(url + (req.path ?? '/v1/resource/42'), req.headers === undefined ? {} : { headers: req.headers })
    t.equal(res.status, 403, `${name}: 403`)
    t.match(res.headers['content-type'], /^application\/problem\+json/, `${name}: problem+json`)
    t.equal(res.headers['leakgate-leak-id'], String(leakId), `${name}: Leakgate-Leak-Id`)
    const body = res.json()
    t.match(body, { type: String, title: String, status: 403, detail: String, leakId, code: 'LEAKGATE_ERR_LEAKED_CREDENTIAL' }, `${name}: body`)
  }
  t.equal(upstream.seen.length, 0, 'the upstream was never contacted')
  t.equal(node.metrics.counters.block, places.length)
})

t.test('a clean request passes unchanged: method, path, query, body, headers, status, streaming', async (t) => {
  const upstream = await startUpstream(t)
  const { url } = await startNode(t, { upstream: upstream.url, deps: { index: indexOf(planted) } })
  const res = await send(`${url}/status/201?x=1&y=%7e&x=2&flag&token=clean-token-value`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-custom': 'kept', authorization: 'Bearer not-a-leaked-token', 'x-forwarded-for': '198.51.100.1' },
    body: '{"hello":"world"}',
  })
  t.equal(res.status, 201)
  t.equal(res.headers['x-upstream'], 'yes')
  t.equal(res.headers['set-cookie'], 'a=b')
  t.same(res.json(), { method: 'POST', url: '/status/201?x=1&y=%7e&x=2&flag&token=clean-token-value', body: '{"hello":"world"}' })
  const seen = upstream.seen[0]
  t.ok(seen)
  t.equal(seen?.method, 'POST')
  t.equal(seen?.url, '/status/201?x=1&y=%7e&x=2&flag&token=clean-token-value', 'the query reaches the upstream byte for byte')
  t.equal(seen?.body, '{"hello":"world"}')
  t.equal(seen?.headers['x-custom'], 'kept')
  t.equal(seen?.headers.authorization, 'Bearer not-a-leaked-token')
  t.equal(seen?.headers['content-type'], 'application/json')
  t.equal(seen?.headers['x-forwarded-for'], '198.51.100.1, 127.0.0.1', 'X-Forwarded-For appended')
  t.equal(seen?.headers['x-forwarded-proto'], 'http')
  t.equal(seen?.headers['x-forwarded-host'], url.replace('http://', ''))

  const stream = await send(`${url}/stream`)
  t.equal(stream.status, 200)
  t.equal(stream.text, 'chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\nend\n', 'a streamed answer arrives whole')

  for (const method of ['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
    const r = await send(`${url}/m`, { method })
    t.equal(r.status, 200, `${method} forwarded`)
    t.equal(upstream.seen.at(-1)?.method, method)
  }

  const chunked = await request(`${url}/upload`, { dispatcher: agent, method: 'PUT', body: Readable.from(['part1-', 'part2']) })
  t.equal(chunked.statusCode, 200)
  await chunked.body.dump()
  t.equal(upstream.seen.at(-1)?.body, 'part1-part2', 'a chunked body is streamed through')
})

t.test('monitor forwards with Leakgate-Leak-Id and Leakgate-Verdict; several credentials in one request', async (t) => {
  const upstream = await startUpstream(t)
  const { url, node } = await startNode(t, { upstream: upstream.url, deps: { index: indexOf(planted) } })

  const one = await send(`${url}/v1/a`, { headers: { 'x-api-key': MONITORED } })
  t.equal(one.status, 200)
  t.equal(upstream.seen.at(-1)?.headers['leakgate-leak-id'], '22')
  t.equal(upstream.seen.at(-1)?.headers['leakgate-verdict'], 'monitor')
  t.equal(upstream.seen.at(-1)?.headers['x-api-key'], MONITORED, 'the credential itself still reaches the upstream')

  const two = await send(`${url}/v1/b?token=${MONITORED_2}`, { headers: { authorization: `Bearer ${MONITORED}`, 'x-api-key': 'clean-one' } })
  t.equal(two.status, 200)
  t.equal(upstream.seen.at(-1)?.headers['leakgate-leak-id'], '22, 33', 'every monitored leak is named')

  const seenBefore = upstream.seen.length
  const mixed = await send(`${url}/v1/c?key=${MONITORED_2}`, { headers: { authorization: 'Bearer clean', 'api-key': BLOCKED } })
  t.equal(mixed.status, 403, 'block wins over monitor and pass')
  t.equal(mixed.json().leakId, 11)
  const later = await send(`${url}/v1/d`, { headers: { 'x-api-key': `clean, ${BLOCKED}` } })
  t.equal(later.status, 403, 'a repeated header: every value is checked')
  t.equal(upstream.seen.length, seenBefore, 'blocked requests never reach the upstream')

  const sightings = node.sightings.take(100)
  t.equal(sightings.length, 6, 'a sighting for each leaked credential seen')
  t.match(sightings[0], { leakId: 22, verdict: 'monitor', method: 'GET', route: '/v1/a', client: '127.0.0.1', host: url.replace('http://', '') })
  t.ok(sightings.some((s) => s.leakId === 33 && s.verdict === 'block'), 'a monitored credential in a blocked request is a sighting of the block')
  t.equal(node.metrics.counters.monitor, 2)
  t.equal(node.metrics.counters.block, 2)
})

t.test('client-sent Leakgate-* headers never reach the upstream', async (t) => {
  const upstream = await startUpstream(t)
  const { url } = await startNode(t, { upstream: upstream.url, deps: { index: indexOf(planted) } })
  const spoof = { 'Leakgate-Verdict': 'monitor', 'Leakgate-Leak-Id': '999', 'LEAKGATE-Anything': 'x' }
  const clean = await send(`${url}/v1/a`, { headers: spoof })
  t.equal(clean.status, 200)
  const h = upstream.seen.at(-1)?.headers ?? {}
  t.same(Object.keys(h).filter((k) => k.startsWith('leakgate-')), [], 'no Leakgate-* header on a clean request')
  await send(`${url}/v1/b`, { headers: { ...spoof, 'x-api-key': MONITORED } })
  const m = upstream.seen.at(-1)?.headers ?? {}
  t.equal(m['leakgate-leak-id'], '22', 'the node\'s own value, not the client\'s')
  t.equal(m['leakgate-verdict'], 'monitor')
  t.equal(m['leakgate-anything'], undefined)
})

t.test('malformed input is answered sensibly and the node keeps serving', async (t) => {
  const upstream = await startUpstream(t)
  const { url } = await startNode(t, { upstream: upstream.url, deps: { index: indexOf(planted) } })
  const cases: [string, Record<string, string>, string, number][] = [
    ['empty Bearer', { authorization: 'Bearer' }, '/a', 200],
    ['Bearer and spaces', { authorization: 'Bearer    ' }, '/a', 200],
    ['empty Basic', { authorization: 'Basic ' }, '/a', 200],
    ['bad Base64', { authorization: 'Basic !!!not*base64' }, '/a', 200],
    ['Basic with the raw leaked token instead of Base64', { authorization: `Basic ${BLOCKED}!` }, '/a', 200],
    ['Base64 of binary', { authorization: `Basic ${Buffer.from([0xff, 0xfe, 0x00, 0x3a, 0x80]).toString('base64')}` }, '/a', 200],
    ['unknown scheme', { authorization: `Token ${BLOCKED}` }, '/a', 403],
    ['bare token in Authorization', { authorization: BLOCKED }, '/a', 403],
    ['bad percent escapes in the query', {}, '/a?key=%zz%&token=%E0%A4%A&api_key', 200],
    ['empty query values', {}, '/a?key=&token&=x&&', 200],
  ]
  for (const [name, headers, path, status] of cases) {
    const res = await send(url + path, { headers })
    t.equal(res.status, status, name)
  }
  // Node reads header bytes as latin1: a non-ASCII value must not break the check.
  const latin = await request(`${url}/a`, { dispatcher: agent, headers: { 'x-api-key': Buffer.from('clé-ünïcödé', 'utf8').toString('latin1') } })
  t.equal(latin.statusCode, 200, 'non-ASCII header value')
  await latin.body.dump()

  const long = await send(`${url}/a`, { headers: { 'x-api-key': 'x'.repeat(20_000) } })
  t.equal(long.status, 431, 'a header past the size limit: 431')
  const longCred = await send(`${url}/a`, { headers: { 'x-api-key': 'y'.repeat(9_000) } })
  t.equal(longCred.status, 400, 'a credential past maxCredentialLength: 400')
  t.equal(longCred.json().code, 'LEAKGATE_ERR_CREDENTIAL_TOO_LONG')

  const many = Array.from({ length: 200 }, (_, i) => `key=v${i}`).join('&')
  const manyRes = await send(`${url}/a?${many}`)
  t.equal(manyRes.status, 400, 'too many credentials: 400 rather than a partial check')
  t.equal(manyRes.json().code, 'LEAKGATE_ERR_TOO_MANY_CREDENTIALS')
  const manyOther = Array.from({ length: 500 }, (_, i) => `q${i}=v`).join('&')
  t.equal((await send(`${url}/a?${manyOther}`)).status, 200, 'many values of other parameters pass')

  const longPath = await send(`${url}/${'p'.repeat(3000)}/x?q=1`)
  t.equal(longPath.status, 200, 'a long path passes')
  const before = upstream.seen.length
  const escape = await send(`${url}//evil.example/x`)
  t.equal(escape.status, 400, 'a path that would leave the upstream: 400')
  t.equal(escape.json().code, 'LEAKGATE_ERR_BAD_REQUEST')
  t.equal(upstream.seen.length, before, 'and nothing forwarded')

  const trace = await send(`${url}/a`, { method: 'TRACE' })
  t.equal(trace.status, 405, 'a method the node does not forward: 405')
  t.equal(trace.json().code, 'LEAKGATE_ERR_METHOD_NOT_FORWARDED')

  const after = await send(`${url}/still-alive`)
  t.equal(after.status, 200, 'the node still serves')
})

t.test('limits, upstream failures', async (t) => {
  const upstream = await startUpstream(t)
  const { url, node } = await startNode(t, { upstream: upstream.url, env: { LEAKGATE_BODY_LIMIT: '1000', LEAKGATE_UPSTREAM_TIMEOUT_MS: '300' }, deps: { index: indexOf(planted) } })
  const big = await send(`${url}/up`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'z'.repeat(2000) })
  t.equal(big.status, 413)
  t.equal(big.json().code, 'LEAKGATE_ERR_BODY_TOO_LARGE')
  const seen = upstream.seen.length
  const chunkedBig = await request(`${url}/up`, { dispatcher: agent, method: 'POST', body: Readable.from(Array.from({ length: 10 }, () => 'z'.repeat(500))) })
  t.equal(chunkedBig.statusCode, 413, 'a chunked body past the limit: 413')
  await chunkedBig.body.dump()
  t.equal(upstream.seen.length, seen, 'the upstream did not get the oversized body')

  const slow = await send(`${url}/slow`)
  t.equal(slow.status, 504, 'an upstream slower than upstreamTimeoutMs: 504')
  t.equal(slow.json().code, 'LEAKGATE_ERR_UPSTREAM_TIMEOUT')
  upstream.release()

  await upstream.close()
  const down = await send(`${url}/x`)
  t.equal(down.status, 502)
  t.equal(down.json().code, 'LEAKGATE_ERR_UPSTREAM')
  t.equal(node.metrics.counters.upstreamErrors, 2)
})
