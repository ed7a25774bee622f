/**
 * What an SRE reads off the node's /metrics after real traffic: each request's duration under its
 * verdict, status class and method; the upstream's time to answer by status class; requests in flight;
 * the body bytes each way; the build's version. Tokens are made at test time.
 */
import { randomBytes } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import t from 'tap'
import { request } from 'undici'
import { indexOf, pooledGet, pooledSend, rawRequest, startNode, startUpstream, waitFor, type Answer } from './helpers.js'

const BLOCKED = `ghp_${randomBytes(18).toString('base64url')}`
const MONITORED = `sk_live_${randomBytes(18).toString('base64url')}`
const CLEAN = `sk_live_${randomBytes(18).toString('base64url')}`
const get = pooledGet(t)
const send = pooledSend(t)

/** The samples of a Prometheus text, `name{labels}` (as written) to value. */
async function scrape(adminUrl: string): Promise<{ text: string; value(series: string): number }> {
  const text = await (await request(`${adminUrl}/metrics`, { reset: true })).body.text()
  const samples = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    samples.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return { text, value: (series) => samples.get(series) ?? 0 }
}

const duration = (verdict: string, status: string, method: string): string =>
  `leakgate_node_request_duration_seconds_count{verdict="${verdict}",status_class="${status}",method="${method}"}`

t.test('requests by verdict, status class and method; upstream time; bytes each way', async (t) => {
  const upstream = await startUpstream(t)
  const { url, adminUrl } = await startNode(t, {
    upstream: upstream.url,
    deps: { version: '9.8.7-test', index: indexOf([{ token: BLOCKED, action: 'block', leakId: 3 }, { token: MONITORED, action: 'monitor', leakId: 4 }]) },
  })
  const before = await scrape(adminUrl)
  t.equal(before.value('leakgate_build_info{version="9.8.7-test"}'), 1, 'build info names the version')
  t.equal(before.value('leakgate_node_requests_in_flight'), 0, 'nothing in flight before any request')

  const answers: Answer[] = []
  const json = JSON.stringify({ note: 'clean body', pad: 'x'.repeat(300) })
  const upload = randomBytes(70_000)
  const chunks = ['first chunk, ', 'second chunk, ', 'third']
  const blockedBody = JSON.stringify({ access_token: BLOCKED })
  answers.push(await get(`${url}/a`, { authorization: `Bearer ${CLEAN}` }))
  answers.push(await get(`${url}/a`, { authorization: `Bearer ${BLOCKED}` }))
  answers.push(await get(`${url}/a`, { authorization: `Bearer ${MONITORED}` }))
  answers.push(await get(`${url}/status/500`))
  answers.push(await send(`${url}/json`, { headers: { 'content-type': 'application/json' }, body: json }))
  answers.push(await send(`${url}/upload`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: upload }))
  answers.push(await send(`${url}/chunked`, { headers: { 'content-type': 'text/plain' }, body: chunks }))
  answers.push(await send(`${url}/json`, { headers: { 'content-type': 'application/json' }, body: blockedBody }))
  answers.push(await send(`${url}/a`, { method: 'HEAD' }))
  const trace = await rawRequest(url, 'TRACE /a HTTP/1.1')
  t.same(answers.map((a) => a.status), [200, 403, 200, 500, 200, 200, 200, 403, 200], 'the answers the clients saw')
  t.equal(trace.status, 405)

  await waitFor('every answer to end', async () => (await scrape(adminUrl)).value('leakgate_node_requests_in_flight') === 0)
  const m = await scrape(adminUrl)
  const expected: [string, number][] = [
    [duration('pass', '2xx', 'GET'), 1],
    [duration('block', '4xx', 'GET'), 1],
    [duration('monitor', '2xx', 'GET'), 1],
    [duration('pass', '5xx', 'GET'), 1],
    [duration('pass', '2xx', 'POST'), 2],
    [duration('pass', '2xx', 'PUT'), 1],
    [duration('block', '4xx', 'POST'), 1],
    [duration('pass', '2xx', 'HEAD'), 1],
    [duration('refused', '4xx', 'other'), 1],
    ['leakgate_node_upstream_duration_seconds_count{status_class="2xx"}', 6],
    ['leakgate_node_upstream_duration_seconds_count{status_class="5xx"}', 1],
  ]
  for (const [series, n] of expected) t.equal(m.value(series), n, series)
  const counted = [...m.text.matchAll(/^leakgate_node_request_duration_seconds_count\{.*\} (\d+)$/gm)].reduce((sum, x) => sum + Number(x[1]), 0)
  t.equal(counted, 10, 'every request timed once, and nothing else')
  for (const verdict of ['pass', 'block', 'monitor']) {
    const timed = [...m.text.matchAll(new RegExp(`^leakgate_node_request_duration_seconds_count\\{verdict="${verdict}",.*\\} (\\d+)$`, 'gm'))].reduce((sum, x) => sum + Number(x[1]), 0)
    t.equal(timed, m.value(`leakgate_node_requests_total{verdict="${verdict}"}`), `${verdict}: as many timed as counted by verdict`)
  }
  const le = (bound: string): number => m.value(`leakgate_node_request_duration_seconds_bucket{verdict="pass",status_class="2xx",method="GET",le="${bound}"}`)
  t.equal(le('+Inf'), 1, 'a histogram with its +Inf bucket')
  t.ok(m.value('leakgate_node_request_duration_seconds_sum{verdict="pass",status_class="2xx",method="GET"}') > 0, 'and the time it took')

  const sentUp = Buffer.byteLength(json) + upload.length + Buffer.byteLength(chunks.join('')) + Buffer.byteLength(blockedBody)
  t.equal(m.value('leakgate_node_request_body_bytes_total'), sentUp, 'request body bytes: every body the clients sent, forwarded or read to be checked')
  const sentDown = answers.reduce((sum, a) => sum + Buffer.byteLength(a.text), 0) + Buffer.byteLength(trace.body, 'latin1')
  t.equal(m.value('leakgate_node_response_body_bytes_total'), sentDown, 'response body bytes: every body the clients received')

  for (const secret of [BLOCKED, MONITORED, CLEAN, '/status/500', '/upload', '127.0.0.1']) t.notOk(m.text.includes(secret), `no label holds ${secret}`)
})

t.test('a request in flight is seen; a client that leaves before its answer is timed without a status', async (t) => {
  const upstream = await startUpstream(t)
  const { url, adminUrl } = await startNode(t, { upstream: upstream.url, deps: { index: indexOf([]) } })
  const abort = new AbortController()
  const pending = request(`${url}/slow`, { signal: abort.signal }).catch(() => 'aborted')
  await waitFor('the request to be in flight', async () => (await scrape(adminUrl)).value('leakgate_node_requests_in_flight') === 1)
  abort.abort()
  t.equal(await pending, 'aborted')
  await waitFor('the request to end', async () => (await scrape(adminUrl)).value('leakgate_node_requests_in_flight') === 0)
  upstream.release()
  const m = await scrape(adminUrl)
  t.equal(m.value(duration('pass', 'none', 'GET')), 1, 'judged pass, but no answer was sent')
  t.equal(m.value('leakgate_node_upstream_duration_seconds_count{status_class="2xx"}'), 0, 'the upstream never answered it')
})

t.test('the node\'s /metrics after this traffic passes promtool check metrics', { skip: spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0 ? false : 'promtool not installed' }, async (t) => {
  const upstream = await startUpstream(t)
  const { url, adminUrl } = await startNode(t, { upstream: upstream.url, deps: { index: indexOf([{ token: BLOCKED, action: 'block', leakId: 3 }]) } })
  await get(`${url}/a`, { authorization: `Bearer ${BLOCKED}` })
  await get(`${url}/status/503`)
  await send(`${url}/json`, { headers: { 'content-type': 'application/json' }, body: '{"a":1}' })
  const { text } = await scrape(adminUrl)
  const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
  t.equal(run.status, 0, `promtool check metrics: ${run.stdout}${run.stderr}`.trim())
})
