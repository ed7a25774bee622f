/**
 * An issuer key (the credential issuer's system closing the revocation loop) confirms rotations and
 * reads the leaks it was asked to rotate, and nothing else: every other route of the app answers it 403,
 * and a leak whose rotation nobody requested is, to it, a leak that does not exist.
 */
import t from 'tap'
import { ALPHA, Rng } from '../detect/corpus/random.js'
import { generateKey } from '../store/keys.js'
import type { LeakDetail } from '../store/leaks.js'
import { startPlane } from './harness.js'

const rng = new Rng(0x69737375)

/** The routes an issuer key may call (method and OpenAPI path). */
const ALLOWED = new Set(['GET /v1/leaks/{id}', 'POST /v1/leaks/{id}/rotated'])

t.test('an issuer key gets 403 on every route of the app but reading a leak and confirming its rotation', async (t) => {
  const plane = await startPlane(t)
  const issuer = generateKey()
  await plane.store.keys.add(issuer, 'issuer')
  const created = await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: `ghp_${rng.chars(36, ALPHA.base62)}` }] })
  const leak = created.json() as LeakDetail
  await plane.call('POST', `/v1/leaks/${leak.id}/request-rotation`, plane.keys.analyst, {})

  // Every route the app registered, from its own OpenAPI document (the console's files are hidden from
  // it and need no key): a route added later is covered without touching this test.
  const spec = plane.app.swagger() as { paths: Record<string, Record<string, unknown>> }
  const routes = Object.entries(spec.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`))
  const v1 = routes.filter((r) => r.split(' ')[1]?.startsWith('/v1/'))
  t.ok(v1.length >= 19, `the app's /v1 routes are all listed (${v1.length})`)
  for (const allowed of ALLOWED) t.ok(v1.includes(allowed), `${allowed} is one of them`)

  for (const route of v1) {
    const [method = '', path = ''] = route.split(' ')
    const url = path.replace(/\{[^}]+\}/g, String(leak.id))
    const res = await plane.call(method, url, issuer, method === 'GET' || method === 'HEAD' || method === 'DELETE' ? undefined : {})
    if (ALLOWED.has(route)) {
      t.not(res.statusCode, 403, `${route} is the issuer's`)
    } else {
      t.equal(res.statusCode, 403, `${route}: 403`)
      t.equal(res.json().code, 'LEAKGATE_ERR_FORBIDDEN')
    }
  }
  // Outside /v1: health, docs and the console's sign-in options (whether OpenID Connect is on) are public,
  // /metrics takes its own key (or none): nothing there is a leak's.
  t.same(routes.filter((r) => !r.split(' ')[1]?.startsWith('/v1/') && !r.includes('/docs')).sort(), ['GET /auth/oidc', 'GET /healthz', 'GET /metrics', 'GET /readyz'])
})

t.test('an issuer key reads a leak whose rotation was requested, without its sightings; another leak is a 404', async (t) => {
  const plane = await startPlane(t)
  const issuer = generateKey()
  await plane.store.keys.add(issuer, 'issuer')
  const asked = (await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: `ghp_${rng.chars(36, ALPHA.base62)}` }] })).json() as LeakDetail
  const other = (await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: `ghp_${rng.chars(36, ALPHA.base62)}` }] })).json() as LeakDetail
  // A sighting of the leak asked about: the issuer is not shown where it was seen from.
  await plane.call('POST', '/v1/sightings', plane.keys.node, { nodeId: 'edge-1', sightings: [{ leakId: asked.id, at: new Date().toISOString(), client: '203.0.113.9' }] })
  t.equal(((await plane.call('GET', `/v1/leaks/${asked.id}`, plane.keys.analyst)).json() as LeakDetail).sightings.length, 1, 'an analyst sees the sighting')

  t.equal((await plane.call('GET', `/v1/leaks/${asked.id}`, issuer)).statusCode, 404, 'before the request: not the issuer\'s to read')
  await plane.call('POST', `/v1/leaks/${asked.id}/request-rotation`, plane.keys.analyst, { comment: 'please rotate' })

  const read = await plane.call('GET', `/v1/leaks/${asked.id}`, issuer)
  t.equal(read.statusCode, 200)
  const leak = read.json() as LeakDetail
  t.equal(leak.rotation, 'requested')
  t.equal(leak.tokens.length, 1, 'with its tokens (hashes and previews)')
  t.same(leak.sightings, [], 'without its sightings')
  t.notOk(read.body.includes('203.0.113.9'), 'no client address')

  const notSent = await plane.call('GET', `/v1/leaks/${other.id}`, issuer)
  const missing = await plane.call('GET', '/v1/leaks/999999', issuer)
  t.equal(notSent.statusCode, 404)
  t.equal(notSent.json().code, 'LEAKGATE_ERR_NOT_FOUND')
  t.equal(missing.statusCode, 404)
  t.equal(notSent.json().detail.replace(String(other.id), 'N'), missing.json().detail.replace('999999', 'N'), 'the same answer as a leak that does not exist')
  t.equal((await plane.call('GET', '/v1/leaks', issuer)).statusCode, 403, 'and no list to find others')
})
