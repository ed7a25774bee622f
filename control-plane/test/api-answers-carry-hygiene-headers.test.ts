import t from 'tap'
import { generateKey } from '../store/keys.js'
import { startPlane } from './harness.js'

t.test('every API answer carries Cache-Control: no-store and frame protection; console assets keep their own caching', async (t) => {
  const plane = await startPlane(t)
  const answers = [
    await plane.call('GET', '/v1/leaks', plane.keys.analyst),
    await plane.call('GET', '/v1/leaks/999', plane.keys.analyst),
    await plane.call('GET', '/v1/leaks'),
    await plane.call('GET', '/v1/nodes', plane.keys.analyst),
    await plane.call('GET', '/v1/sync/snapshot', plane.keys.node),
    await plane.call('POST', '/v1/sightings', plane.keys.node, { nodeId: 'edge-1', sightings: [] }),
    await plane.call('GET', '/healthz'),
    await plane.call('GET', '/metrics'),
    await plane.call('GET', '/no-such-route'),
  ]
  for (const res of answers) {
    const what = `${res.statusCode} ${res.raw.req.url}`
    t.equal(res.headers['cache-control'], 'no-store', `no-store on ${what}`)
    t.equal(res.headers['x-frame-options'], 'DENY', `not framed: ${what}`)
    t.match(res.headers['content-security-policy'], /frame-ancestors 'none'/, `CSP on ${what}`)
    t.equal(res.headers['x-content-type-options'], 'nosniff')
  }
  const page = await plane.call('GET', '/')
  t.equal(page.statusCode, 200)
  t.equal(page.headers['cache-control'], 'no-cache', 'the console keeps its own caching (revalidated by ETag)')
})

t.test('/docs is served with a CSP and frame protection', async (t) => {
  const plane = await startPlane(t)
  for (const url of ['/docs', '/docs/static/index.html', '/docs/json', '/docs/static/swagger-initializer.js']) {
    const res = await plane.call('GET', url)
    t.ok(res.statusCode < 400, `${url} answers (${res.statusCode})`)
    const csp = String(res.headers['content-security-policy'])
    t.match(csp, /frame-ancestors 'none'/, `${url}: frame-ancestors 'none'`)
    t.match(csp, /script-src 'self'(;|$)/, `${url}: scripts from this origin only`)
    t.notMatch(csp, /unsafe-eval|script-src[^;]*unsafe-inline/, `${url}: no inline or eval script`)
    t.equal(res.headers['x-frame-options'], 'DENY', `${url}: X-Frame-Options`)
  }
})

t.test('/metrics answers without a key by default, and only with the metrics key when metricsKey is set', async (t) => {
  const open = await startPlane(t)
  t.equal((await open.call('GET', '/metrics')).statusCode, 200)

  const metricsKey = generateKey()
  const plane = await startPlane(t, { metricsKey })
  const none = await plane.call('GET', '/metrics')
  t.equal(none.statusCode, 401)
  t.equal(none.json().code, 'LEAKGATE_ERR_UNAUTHORIZED')
  t.match(none.headers['content-type'], /^application\/problem\+json/)
  t.notMatch(none.body, /leakgate_cp_/, 'no metric in the refusal')
  t.equal((await plane.call('GET', '/metrics', generateKey())).statusCode, 401, 'another key')
  t.equal((await plane.call('GET', '/metrics', plane.keys.admin)).statusCode, 401, 'not an API key, even an admin one')
  t.equal((await plane.call('GET', '/metrics', undefined, undefined, { authorization: `Bearer ${metricsKey}x` })).statusCode, 401)
  const ok = await plane.call('GET', '/metrics', metricsKey)
  t.equal(ok.statusCode, 200)
  t.match(ok.body, /leakgate_cp_leaks/)
  t.notOk(plane.logs.some((l) => l.includes(metricsKey)), 'the key is never logged')

  // Wrong metrics keys are failed authentications like any other: limited.
  const limited = await startPlane(t, { metricsKey, authFailuresPerMinute: 3 })
  const codes: number[] = []
  for (let i = 0; i < 5; i++) codes.push((await limited.call('GET', '/metrics', generateKey())).statusCode)
  t.same(codes, [401, 401, 401, 429, 429])
  t.equal((await limited.call('GET', '/metrics', metricsKey)).statusCode, 200, 'the right key still works')
})

t.test('listening beyond loopback logs a warning to put TLS in front; loopback does not', async (t) => {
  const loopback = await startPlane(t)
  await loopback.app.listen({ port: 0, host: '127.0.0.1' })
  t.notOk(loopback.logs.some((l) => /TLS/.test(l)), 'no warning on 127.0.0.1')

  const wide = await startPlane(t)
  await wide.app.listen({ port: 0, host: '0.0.0.0' })
  const line = wide.logs.find((l) => /TLS/.test(l))
  t.ok(line, 'a warning when listening on 0.0.0.0')
  t.match(JSON.parse(line ?? '{}'), { level: 40, host: '0.0.0.0', msg: /beyond loopback.*TLS/ })
})
