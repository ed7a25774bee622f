import t from 'tap'
import { generateKey } from '../store/keys.js'
import { startPlane } from './harness.js'

t.test('failed authentication is limited per client address: 429 problem with Retry-After', async (t) => {
  const plane = await startPlane(t, { authFailuresPerMinute: 5 })
  for (let i = 0; i < 5; i++) {
    const res = await plane.call('GET', '/v1/leaks', generateKey())
    t.equal(res.statusCode, 401, `wrong key ${i + 1} of 5: 401`)
  }
  const limited = await plane.call('GET', '/v1/leaks', generateKey())
  t.equal(limited.statusCode, 429)
  t.equal(limited.json().code, 'LEAKGATE_ERR_RATE_LIMITED')
  t.match(limited.headers['content-type'], /^application\/problem\+json/)
  t.match(limited.headers['retry-after'], /^\d+$/)
  t.ok(Number(limited.headers['retry-after']) >= 1 && Number(limited.headers['retry-after']) <= 60)
  const malformed = await plane.call('GET', '/v1/leaks', undefined, undefined, { authorization: 'Basic Zm9vOmJhcg==' })
  t.equal(malformed.statusCode, 429, 'a malformed key too')
  for (let i = 0; i < 200; i++) {
    const res = await plane.call('GET', '/v1/leaks', generateKey())
    if (res.statusCode !== 429) t.fail(`wrong key ${i} past the limit got ${res.statusCode}`)
  }
  // A right key from the same address is never limited: the limit is on failures.
  t.equal((await plane.call('GET', '/v1/leaks', plane.keys.analyst)).statusCode, 200)
  t.equal((await plane.call('GET', '/healthz')).statusCode, 200, 'public routes are not limited')

  // Another address is not affected.
  const elsewhere = await plane.app.inject({ method: 'GET', url: '/v1/leaks', remoteAddress: '203.0.113.7', headers: { authorization: `Bearer ${generateKey()}` } })
  t.equal(elsewhere.statusCode, 401, 'a failure elsewhere is still a plain 401')
})

t.test('failed authentication is limited per key id, across addresses', async (t) => {
  const plane = await startPlane(t, { authFailuresPerMinute: 3 })
  const wrong = generateKey()
  for (let i = 0; i < 3; i++) {
    const res = await plane.app.inject({ method: 'GET', url: '/v1/leaks', remoteAddress: `198.51.100.${i + 1}`, headers: { authorization: `Bearer ${wrong}` } })
    t.equal(res.statusCode, 401)
  }
  const res = await plane.app.inject({ method: 'GET', url: '/v1/leaks', remoteAddress: '198.51.100.99', headers: { authorization: `Bearer ${wrong}` } })
  t.equal(res.statusCode, 429, 'the same key id from a fourth address')
  t.equal(res.json().code, 'LEAKGATE_ERR_RATE_LIMITED')
})

t.test('successful requests are not limited, nor requests without a key', async (t) => {
  const plane = await startPlane(t, { authFailuresPerMinute: 2 })
  for (let i = 0; i < 50; i++) {
    const res = await plane.call('GET', '/v1/me', plane.keys.analyst)
    if (res.statusCode !== 200) t.fail(`request ${i} got ${res.statusCode}`)
  }
  for (let i = 0; i < 10; i++) {
    const res = await plane.call('GET', '/v1/me')
    if (res.statusCode !== 401) t.fail(`keyless request ${i} got ${res.statusCode}`)
  }
  // A known key without the role is a refusal (403), not a failed authentication.
  for (let i = 0; i < 10; i++) {
    const res = await plane.call('GET', '/v1/leaks', plane.keys.node)
    if (res.statusCode !== 403) t.fail(`wrong role ${i} got ${res.statusCode}`)
  }
  t.equal((await plane.call('GET', '/v1/me', plane.keys.analyst)).statusCode, 200)
})
