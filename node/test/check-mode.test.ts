/**
 * Check mode on its own: what the node answers a subrequest whatever the gateway. Before an index,
 * `noIndex` decides (open: 200, closed: 503); a check port beside the proxy answers checks while the
 * proxy keeps forwarding; the gateway's headers and the node's own are never credentials; a client's
 * Leakgate-* headers never sway the verdict; bodies past the check limit follow bodyCheckOverflow;
 * refusals and verdicts are counted and timed on /metrics as in proxy mode.
 */
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { indexOf, metricValue, pooledGet, pooledSend, rawRequest, startNode, startUpstream, tempDir } from './helpers.js'
import { startCheckNode, tokenMaker } from './check-mode-helpers.js'

const token = tokenMaker(0x636b)
const BLOCKED = token('xoxb-')
const MONITORED = token('xoxb-')
const CLEAN = token('xoxb-')
const planted = [{ token: BLOCKED, action: 'block' as const, leakId: 31 }, { token: MONITORED, action: 'monitor' as const, leakId: 32 }]

t.test('before any index, noIndex decides: open allows, closed answers 503', async (t) => {
  const get = pooledGet(t)
  const open = await startCheckNode(t, { env: { LEAKGATE_CACHE_DIR: tempDir(t) } })
  t.equal((await get(`${open.url}/`, { 'x-original-uri': `/v1/x?api_key=${BLOCKED}` })).status, 200, 'open: allowed')
  const closed = await startCheckNode(t, { env: { LEAKGATE_CACHE_DIR: tempDir(t), LEAKGATE_NO_INDEX: 'closed' } })
  const r = await get(`${closed.url}/`, { 'x-original-uri': `/v1/x?api_key=${CLEAN}` })
  t.equal(r.status, 503, 'closed: denied')
  t.equal(JSON.parse(r.text).code, 'LEAKGATE_ERR_NO_INDEX')
  t.equal(await metricValue(closed.adminUrl, 'leakgate_node_requests_refused_total', '{reason="no_index"}'), 1)
})

t.test('checkPort: a proxy node answers checks on a second port and keeps forwarding', async (t) => {
  const upstream = await startUpstream(t)
  const { node, url } = await startNode(t, { upstream: upstream.url, env: { LEAKGATE_CHECK_PORT: '0' }, deps: { index: indexOf(planted) } })
  const checks = node.checks
  if (checks === undefined) throw new Error('no check server built for checkPort')
  await checks.listen({ port: 0, host: '127.0.0.1' })
  const checkUrl = `http://127.0.0.1:${(checks.server.address() as AddressInfo).port}`
  const get = pooledGet(t)

  const allowed = await get(`${checkUrl}/auth`, { 'x-original-uri': '/v1/a', authorization: `Bearer ${CLEAN}` })
  t.equal(allowed.status, 200)
  t.equal(upstream.seen.length, 0, 'a check forwards nothing')
  t.equal((await get(`${checkUrl}/auth`, { 'x-original-uri': `/v1/a?key=${BLOCKED}` })).status, 403)
  t.equal((await get(`${url}/v1/a`, { authorization: `Bearer ${CLEAN}` })).status, 200, 'the proxy port still forwards')
  t.equal(upstream.seen.length, 1)
  t.equal((await get(`${url}/v1/a?key=${BLOCKED}`)).status, 403, 'and still blocks')
  t.equal(await metricValue(`http://127.0.0.1:${(node.admin.server.address() as AddressInfo).port}`, 'leakgate_node_requests_total', '{verdict="block"}'), 2, 'both ports count on one /metrics')

  const plain = await startNode(t, { upstream: upstream.url, deps: { index: indexOf(planted) } })
  t.equal(plain.node.checks, undefined, 'no check port unless configured')
})

t.test('a gateway\'s headers and the node\'s own are never credentials, even when configured as places', async (t) => {
  const places = JSON.stringify([{ in: 'header', name: 'authorization' }, { in: 'header', name: 'x-forwarded-host' }, { in: 'header', name: 'X-Original-Method' }, { in: 'header', name: 'leakgate-leak-id' }, { in: 'query', name: 'api_key' }])
  const { url } = await startCheckNode(t, { env: { LEAKGATE_CREDENTIAL_PLACES: places }, deps: { index: indexOf(planted) } })
  const get = pooledGet(t)
  t.equal((await get(`${url}/`, { 'x-forwarded-host': BLOCKED, 'leakgate-leak-id': BLOCKED })).status, 200, 'not read from X-Forwarded-Host or Leakgate-Leak-Id')
  t.equal((await get(`${url}/`, { authorization: `Bearer ${BLOCKED}` })).status, 403, 'the other places still are')
})

t.test('a client\'s Leakgate headers never sway the verdict', async (t) => {
  const { url } = await startCheckNode(t, { deps: { index: indexOf(planted) } })
  const get = pooledGet(t)
  const clean = await get(`${url}/`, { authorization: `Bearer ${CLEAN}`, 'leakgate-verdict': 'monitor', 'leakgate-leak-id': '32' })
  t.equal(clean.status, 200)
  t.equal(clean.headers['leakgate-verdict'], undefined, 'a clean request: no verdict header, whatever the client sent')
  t.equal(clean.headers['leakgate-leak-id'], undefined)
  const blocked = await get(`${url}/`, { authorization: `Bearer ${BLOCKED}`, 'leakgate-verdict': 'pass' })
  t.equal(blocked.status, 403, 'a blocked one: denied, whatever the client sent')
})

t.test('bodies past bodyCheckLimit follow bodyCheckOverflow; other bodies are not read', async (t) => {
  const send = pooledSend(t)
  const big = JSON.stringify({ pad: 'x'.repeat(200), api_key: BLOCKED })
  const refuse = await startCheckNode(t, { env: { LEAKGATE_BODY_CHECK_LIMIT: '64' }, deps: { index: indexOf(planted) } })
  const r = await send(`${refuse.url}/`, { headers: { 'content-type': 'application/json', 'x-forwarded-method': 'POST' }, body: big })
  t.equal(r.status, 413, 'refuse: 413, so the gateway denies')
  const pass = await startCheckNode(t, { env: { LEAKGATE_BODY_CHECK_LIMIT: '64', LEAKGATE_BODY_CHECK_OVERFLOW: 'pass' }, deps: { index: indexOf(planted) } })
  t.equal((await send(`${pass.url}/`, { headers: { 'content-type': 'application/json' }, body: big })).status, 200, 'pass: allowed unchecked')
  t.equal(pass.node.metrics.counters.bodyUnchecked, 1, 'and counted')
  const chunked = await send(`${pass.url}/`, { headers: { 'content-type': 'application/json' }, body: ['{"api_key":', JSON.stringify(BLOCKED), '}'] })
  t.equal(chunked.status, 403, 'a chunked body within the limit is read and checked')
  const text = await send(`${pass.url}/`, { headers: { 'content-type': 'text/plain' }, body: `api_key=${BLOCKED}` })
  t.equal(text.status, 200, 'a body no stack parses into parameters is not read, as in proxy mode')
})

t.test('refusals, upgrades and monitor answers', async (t) => {
  const { url, adminUrl } = await startCheckNode(t, { env: { LEAKGATE_MAX_CREDENTIALS: '2' }, deps: { index: indexOf(planted) } })
  const get = pooledGet(t)
  const many = await get(`${url}/`, { 'x-original-uri': `/v1?api_key=${token('a')}&token=${token('b')}&key=${token('c')}` })
  t.equal(many.status, 400)
  t.equal(JSON.parse(many.text).code, 'LEAKGATE_ERR_TOO_MANY_CREDENTIALS')
  const monitored = await get(`${url}/`, { 'x-forwarded-uri': `/v1/x?api_key=${MONITORED}` })
  t.equal(monitored.status, 200)
  t.equal(monitored.headers['leakgate-verdict'], 'monitor')
  t.equal(monitored.headers['leakgate-leak-id'], '32')
  const upgrade = await rawRequest(url, `GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Original-URI: /ws?access_token=${BLOCKED}`)
  t.equal(upgrade.status, 403, 'an upgrade request is judged like any check')
  t.equal(await metricValue(adminUrl, 'leakgate_node_requests_total', '{verdict="monitor"}'), 1)
  t.equal(await metricValue(adminUrl, 'leakgate_node_requests_total', '{verdict="block"}'), 1)
  const timed = (verdict: string, status: string): Promise<number> =>
    metricValue(adminUrl, 'leakgate_node_request_duration_seconds_count', `{verdict="${verdict}",status_class="${status}",method="GET"}`)
  t.equal(await timed('monitor', '2xx'), 1, 'checks are timed under their verdict and answer, as proxied requests are')
  t.equal((await timed('block', '4xx')) || 0, 0, 'an upgrade is not timed (it has its own counters)')
  t.equal((await get(`${url}/`, { 'x-original-uri': `/v1/x?api_key=${BLOCKED}` })).status, 403)
  t.equal(await timed('block', '4xx'), 1)
})
