import t from 'tap'
import { LATEST_SCHEMA_VERSION } from '../store/migrations.js'
import { startPlane, storeSql } from '../test/harness.js'

t.test('healthz answers with the revision; the leaks gauge counts by status, risk and action', async (t) => {
  const plane = await startPlane(t)
  await plane.call('POST', '/v1/leaks', plane.keys.admin, { risk: 'high', action: 'block', tokens: [{ value: 'health-token-one-abcdefgh' }] })
  await plane.call('POST', '/v1/leaks', plane.keys.admin, { risk: 'high', action: 'block', tokens: [{ value: 'health-token-two-abcdefgh' }] })

  const health = await plane.call('GET', '/healthz')
  t.equal(health.statusCode, 200)
  t.same(health.json(), { status: 'ok', revision: 2 })
  const metrics = await plane.call('GET', '/metrics')
  t.match(metrics.body, /leakgate_cp_leaks\{status="open",risk="high",action="block"\} 2/)
  t.match(metrics.body, /leakgate_cp_index_entries 2/)
})

t.test('a long-poll is counted but kept out of the duration histogram; other requests are in both', async (t) => {
  const plane = await startPlane(t)
  const poll = await plane.call('GET', '/v1/sync/changes?since=0&wait=1', plane.keys.node)
  t.equal(poll.statusCode, 200, 'the long-poll answered after its wait')
  t.equal((await plane.call('GET', '/healthz')).statusCode, 200)
  t.equal((await plane.call('GET', '/no-such-route')).statusCode, 404)
  const text = (await plane.call('GET', '/metrics')).body
  const lines = text.split('\n')
  t.ok(lines.includes('leakgate_cp_http_requests_total{method="GET",route="/v1/sync/changes",status_code="200"} 1'), 'the long-poll is counted')
  t.notMatch(text, /^leakgate_cp_http_request_duration_seconds_\w+\{[^}]*route="\/v1\/sync\/changes"/m, 'and has no duration series')
  t.ok(lines.includes('leakgate_cp_http_request_duration_seconds_count{method="GET",route="/healthz",status_code="200"} 1'), 'a plain request has its duration')
  t.ok(lines.includes('leakgate_cp_http_requests_total{method="GET",route="unmatched",status_code="404"} 1'), 'an unknown route is counted without its path')
  t.match(text, /^leakgate_build_info\{version="\d+\.\d+\.\d+[^"]*"\} 1$/m, 'the build info names the version')
})

t.test('readyz: 200 with every check ok on a healthy store', async (t) => {
  const plane = await startPlane(t)
  const res = await plane.call('GET', '/readyz')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { status: 'ready', checks: { database: 'ok', migrations: 'ok' }, schemaVersion: LATEST_SCHEMA_VERSION })
})

t.test('readyz: 503 naming the database when the store cannot be queried', async (t) => {
  const plane = await startPlane(t)
  await plane.store.close()
  const res = await plane.call('GET', '/readyz')
  t.equal(res.statusCode, 503)
  t.match(res.headers['content-type'], /application\/problem\+json/)
  t.match(res.json(), { code: 'LEAKGATE_ERR_NOT_READY', status: 503, checks: { database: 'failed', migrations: 'not_checked' }, detail: /database/ })
  t.match(plane.logs.join(''), /readyz: the database cannot be queried/, 'the cause is logged')
})

t.test("readyz: 503 naming the migrations when the store's schema is not this build's", async (t) => {
  const plane = await startPlane(t)
  const db = storeSql(t, plane.store)
  await db.run('DELETE FROM schema_migrations WHERE version = ?', [LATEST_SCHEMA_VERSION])
  const behind = await plane.call('GET', '/readyz')
  t.equal(behind.statusCode, 503)
  t.match(behind.json(), { code: 'LEAKGATE_ERR_NOT_READY', checks: { database: 'ok', migrations: 'behind' }, schemaVersion: LATEST_SCHEMA_VERSION - 1, latestSchemaVersion: LATEST_SCHEMA_VERSION })
  await db.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'from a newer build', '2026-01-01T00:00:00Z'), (?, 'from a newer build', '2026-01-01T00:00:00Z')", [LATEST_SCHEMA_VERSION, LATEST_SCHEMA_VERSION + 1])
  const ahead = await plane.call('GET', '/readyz')
  t.equal(ahead.statusCode, 503)
  t.match(ahead.json(), { checks: { database: 'ok', migrations: 'ahead' }, detail: /upgrade/ })
  t.equal((await plane.call('GET', '/healthz')).statusCode, 200, 'still alive: only readiness depends on the schema')
})
