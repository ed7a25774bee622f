import t from 'tap'
import { startPlane, storeSql } from './test/harness.js'
import { generateKey, keyIdOf } from './store/keys.js'

t.test('keys: lgk_ + 40 base62, stored as SHA-256 only, key id from the hash', async (t) => {
  const plane = await startPlane(t)
  const key = generateKey()
  t.match(key, /^lgk_[0-9A-Za-z]{40}$/)
  t.not(generateKey(), key)
  const keyId = await plane.store.keys.add(key, 'analyst')
  t.equal(keyId, keyIdOf(key))
  t.match(keyId, /^key_[0-9a-f]{8}$/)
  const rows = await storeSql(t, plane.store).all<Record<string, unknown>>('SELECT * FROM api_keys')
  t.notOk(JSON.stringify(rows).includes(key), 'the raw key is not in the table')
  t.same(await plane.store.keys.verify(key), { keyId, role: 'analyst' })
  // Another last character (a key may already end in `x`: 1 in 62): a key one character off is refused.
  t.equal(await plane.store.keys.verify(`${key.slice(0, -1)}${key.endsWith('x') ? 'y' : 'x'}`), undefined)
  const me = await plane.call('GET', '/v1/me', key)
  t.same(me.json(), { keyId, role: 'analyst' })
})

t.test('roles are enforced on every route', async (t) => {
  const plane = await startPlane(t)
  const created = await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: 'some-leaked-token-1234567' }] })
  t.equal(created.statusCode, 201)
  const { admin, analyst, node } = plane.keys
  const heartbeat = { nodeId: 'edge-1', version: '0.1.0', revision: 0 }
  const sightings = { nodeId: 'edge-1', sightings: [] }
  // [method, url, body, roles allowed]
  const table: [string, string, unknown, ('admin' | 'analyst' | 'node')[]][] = [
    ['GET', '/v1/leaks', undefined, ['admin', 'analyst']],
    ['POST', '/v1/leaks', { tokens: [{ value: 'another-leaked-token-9876' }] }, ['admin']],
    ['GET', '/v1/leaks/1', undefined, ['admin', 'analyst']],
    ['PATCH', '/v1/leaks/1', { action: 'block' }, ['admin']],
    ['GET', '/v1/stats', undefined, ['admin', 'analyst']],
    ['GET', '/v1/audit', undefined, ['admin', 'analyst']],
    ['GET', '/v1/sync/snapshot', undefined, ['admin', 'node']],
    ['GET', '/v1/sync/changes?since=0', undefined, ['admin', 'node']],
    ['POST', '/v1/sightings', sightings, ['admin', 'node']],
    ['POST', '/v1/nodes/heartbeat', heartbeat, ['admin', 'node']],
    ['GET', '/v1/nodes', undefined, ['admin', 'analyst']],
    ['GET', '/v1/me', undefined, ['admin', 'analyst', 'node']],
  ]
  for (const [method, url, body, allowed] of table) {
    const none = await plane.call(method, url, undefined, body)
    t.equal(none.statusCode, 401, `${method} ${url} without a key`)
    t.equal(none.json().code, 'LEAKGATE_ERR_UNAUTHORIZED')
    t.match(none.headers['content-type'], /^application\/problem\+json/)
    t.equal(none.headers['www-authenticate'], 'Bearer realm="leakgate"')
    const bad = await plane.call(method, url, generateKey(), body)
    t.equal(bad.statusCode, 401, `${method} ${url} with an unknown key`)
    for (const [role, key] of Object.entries({ admin, analyst, node })) {
      const res = await plane.call(method, url, key, body)
      if (allowed.includes(role as 'admin')) {
        t.ok(res.statusCode < 300, `${role} may ${method} ${url} (got ${res.statusCode})`)
      } else {
        t.equal(res.statusCode, 403, `${role} may not ${method} ${url}`)
        t.equal(res.json().code, 'LEAKGATE_ERR_FORBIDDEN')
      }
    }
  }
  const malformed = await plane.call('GET', '/v1/leaks', undefined, undefined, { authorization: `Basic ${admin}` })
  t.equal(malformed.statusCode, 401)
  const leak = (await plane.call('GET', '/v1/leaks/1', admin)).json()
  t.equal(leak.action, 'block', 'only the admin PATCH landed')
  t.equal(leak.decisions.length, 2)
})

t.test('public routes answer without a key', async (t) => {
  const plane = await startPlane(t)
  t.equal((await plane.call('GET', '/healthz')).statusCode, 200)
  const metrics = await plane.call('GET', '/metrics')
  t.equal(metrics.statusCode, 200)
  t.match(metrics.body, /leakgate_cp_leaks/)
  t.match(metrics.body, /leakgate_cp_sync_clients 0/)
  const doc = await plane.call('GET', '/docs/json')
  t.equal(doc.statusCode, 200)
  const paths = Object.keys(doc.json().paths as object)
  for (const p of ['/v1/leaks', '/v1/leaks/{id}', '/v1/stats', '/v1/audit', '/v1/sync/snapshot', '/v1/sync/snapshot/{revision}', '/v1/sync/changes', '/v1/sightings', '/v1/nodes', '/v1/nodes/heartbeat', '/v1/me']) {
    t.ok(paths.includes(p), `OpenAPI documents ${p}`)
  }
  t.equal((await plane.call('GET', '/docs')).statusCode < 400, true)
  const missing = await plane.call('GET', '/v1/nothing-here', plane.keys.admin)
  t.equal(missing.statusCode, 404)
  t.equal(missing.json().code, 'LEAKGATE_ERR_NOT_FOUND')
})

t.test('a key seeded from the environment is rotated by seeding another under the same label', async (t) => {
  const plane = await startPlane(t)
  const first = generateKey()
  const second = generateKey()
  await plane.store.keys.seed(first, 'admin', 'LEAKGATE_ADMIN_KEY')
  t.equal((await plane.store.keys.verify(first))?.role, 'admin')
  await plane.store.keys.seed(first, 'admin', 'LEAKGATE_ADMIN_KEY')
  t.equal((await plane.store.keys.verify(first))?.role, 'admin', 'seeding the same key again keeps it')
  await plane.store.keys.seed(second, 'admin', 'LEAKGATE_ADMIN_KEY')
  t.equal(await plane.store.keys.verify(first), undefined, 'the previous seed is revoked')
  t.equal((await plane.store.keys.verify(second))?.role, 'admin')
  t.equal((await plane.store.keys.verify(plane.keys.admin))?.role, 'admin', 'keys made otherwise stay')
})

t.test('a /v1 route that does not declare its roles refuses to register', async (t) => {
  const { default: Fastify } = await import('fastify')
  const { installAuth } = await import('./auth.js')
  const plane = await startPlane(t)
  const app = Fastify()
  t.teardown(() => app.close())
  await installAuth(app, plane.store.keys, { failuresPerMinute: 30 })
  t.throws(() => app.get('/v1/open', async () => 'oops'), /must declare config\.roles/)
  app.get('/v1/closed', { config: { roles: ['analyst'] } }, async () => 'ok')
  app.get('/public', async () => 'ok')
  t.equal((await app.inject('/v1/closed')).statusCode, 401)
  t.equal((await app.inject({ url: '/v1/closed', headers: { authorization: `Bearer ${plane.keys.analyst}` } })).body, 'ok')
  t.equal((await app.inject('/public')).statusCode, 200)
})
