/**
 * The admin port (readyz, healthz, metrics), the no-index modes, and the promise that a planted token
 * appears in no log line, metric or sighting the node produces.
 */
import t from 'tap'
import { startNode, startUpstream, indexOf, pooledGet, tempDir } from './helpers.js'

const TOKEN = 'ghp_PlantedSecretValue1234567890abcdefXYZ'
const MONITOR_TOKEN = 'AKIAPLANTEDMONITOR0042'
const get = pooledGet(t)

t.test('readyz, healthz and metrics with an index', async (t) => {
  const upstream = await startUpstream(t)
  const { url, adminUrl } = await startNode(t, { upstream: upstream.url, deps: { index: indexOf([{ token: TOKEN, action: 'block', leakId: 5 }], 9) } })
  t.equal((await get(`${adminUrl}/healthz`)).status, 200)
  const ready = await get(`${adminUrl}/readyz`)
  t.equal(ready.status, 200)
  t.match(JSON.parse(ready.text), { status: 'ready', revision: 9, indexEntries: 1 })
  await get(`${url}/a`, { authorization: `Bearer ${TOKEN}` })
  await get(`${url}/a`, { authorization: 'Bearer clean' })
  await get(`${url}/a`)
  const metrics = await get(`${adminUrl}/metrics`)
  t.equal(metrics.status, 200)
  t.match(metrics.headers['content-type'], /^text\/plain/)
  for (const line of [
    'leakgate_node_requests_total{verdict="pass"} 2',
    'leakgate_node_requests_total{verdict="block"} 1',
    'leakgate_node_requests_total{verdict="monitor"} 0',
    'leakgate_node_index_entries 1',
    'leakgate_node_index_revision 9',
    'leakgate_node_check_seconds_count 2',
    'leakgate_node_cache_misses_total 2',
    'leakgate_node_sightings_dropped_total 0',
    'leakgate_node_upstream_errors_total 0',
    'leakgate_node_sync_errors_total 0',
  ]) {
    t.ok(metrics.text.split('\n').includes(line), line)
  }
  for (const name of ['leakgate_node_sync_age_seconds', 'leakgate_node_cache_hits_total', 'leakgate_node_bloom_false_positives_total', 'process_cpu_user_seconds_total', 'leakgate_node_check_seconds_bucket{le="0.000001"}']) {
    t.match(metrics.text, name, `${name} exported`)
  }
  const again = await get(`${adminUrl}/metrics`)
  t.ok(again.text.split('\n').includes('leakgate_node_requests_total{verdict="pass"} 2'), 'counters do not double on a second scrape')
})

t.test('never had an index: open forwards, closed answers 503; not ready either way', async (t) => {
  const upstream = await startUpstream(t)
  const open = await startNode(t, { upstream: upstream.url, env: { LEAKGATE_CACHE_DIR: tempDir(t) } })
  t.equal((await get(`${open.adminUrl}/readyz`)).status, 503, 'not ready without an index')
  const passed = await get(`${open.url}/x`, { authorization: `Bearer ${TOKEN}` })
  t.equal(passed.status, 200, 'open: forwarded')
  t.equal(upstream.seen.length, 1)

  const closed = await startNode(t, { upstream: upstream.url, env: { LEAKGATE_CACHE_DIR: tempDir(t), LEAKGATE_NO_INDEX: 'closed' } })
  const refused = await get(`${closed.url}/x`)
  t.equal(refused.status, 503, 'closed: 503')
  t.match(refused.headers['content-type'], /problem\+json/)
  t.equal(JSON.parse(refused.text).code, 'LEAKGATE_ERR_NO_INDEX')
  t.equal(upstream.seen.length, 1, 'closed: the upstream saw nothing')
  const ready = await get(`${closed.adminUrl}/readyz`)
  t.equal(ready.status, 503)
})

t.test('a planted token appears in no log line, metric or sighting', async (t) => {
  const upstream = await startUpstream(t)
  const index = indexOf([{ token: TOKEN, action: 'block', leakId: 5 }, { token: MONITOR_TOKEN, action: 'monitor', leakId: 6 }])
  // debug logs every request: the most the node ever writes
  const { url, adminUrl, logs, node } = await startNode(t, { upstream: upstream.url, env: { LEAKGATE_LOG_LEVEL: 'trace', LEAKGATE_CREDENTIAL_PLACES: JSON.stringify([{ in: 'header', name: 'authorization' }, { in: 'header', name: 'x-api-key' }, { in: 'query', name: 'key' }, { in: 'cookie', name: 'session' }]) }, deps: { index } })
  const b64 = (s: string): string => Buffer.from(s).toString('base64')
  for (const token of [TOKEN, MONITOR_TOKEN]) {
    await get(`${url}/v1/users/1/${token}?key=${token}&other=${token}`)
    await get(`${url}/v1/x`, { authorization: `Bearer ${token}` })
    await get(`${url}/v1/x`, { authorization: `Basic ${b64(`u:${token}`)}` })
    await get(`${url}/v1/x`, { 'x-api-key': token, cookie: `session=${token}; a=b` })
    await get(`${url}/v1/x`, { 'proxy-authorization': `Bearer ${token}`, 'x-auth-token': token })
  }
  await upstream.close() // upstream errors are logged too
  await get(`${url}/v1/x?key=clean`, { authorization: `Bearer ${MONITOR_TOKEN}` })
  const metrics = (await get(`${adminUrl}/metrics`)).text
  const sightings = JSON.stringify(node.sightings.take(1000))
  t.ok(logs.lines.length > 10, 'the node logged')
  t.match(logs.text, /blocked a request carrying a leaked credential/)
  t.ok(sightings.length > 100, 'sightings were recorded')
  for (const token of [TOKEN, MONITOR_TOKEN]) {
    for (const [where, text] of [['logs', logs.text], ['metrics', metrics], ['sightings', sightings]] as const) {
      t.notOk(text.includes(token), `${token.slice(0, 4)}…: not in ${where}`, { found: text.split("\n").filter((l) => l.includes(token)).slice(0, 3) })
      t.notOk(text.includes(b64(`u:${token}`)), `${token.slice(0, 4)}… Basic form: not in ${where}`)
    }
  }
})
