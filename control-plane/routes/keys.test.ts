import t from 'tap'
import { Rng } from '../detect/corpus/random.js'
import { startPlane } from '../test/harness.js'

const rng = new Rng(29)
const token = (): string => `glpat-${rng.chars(20, 'abcdefghijklmnopqrstuvwxyz0123456789')}`

interface KeyJson { keyId: string; key?: string; name: string | null; owner: string | null; role: string; state: string; expiresAt: string | null; revokedAt: string | null }

t.test('key routes are for admins only', async (t) => {
  const plane = await startPlane(t)
  const own = (await plane.store.keys.list()).find((k) => k.role === 'analyst')?.keyId ?? ''
  for (const [method, url] of [['GET', '/v1/keys'], ['POST', '/v1/keys'], ['POST', `/v1/keys/${own}/revoke`], ['POST', `/v1/keys/${own}/rotate`]] as const) {
    t.equal((await plane.call(method, url, plane.keys.analyst, method === 'GET' ? undefined : {})).statusCode, 403, `${method} ${url} refuses an analyst`)
    t.equal((await plane.call(method, url, plane.keys.node, method === 'GET' ? undefined : {})).statusCode, 403, `${method} ${url} refuses a node`)
    t.equal((await plane.call(method, url)).statusCode, 401, `${method} ${url} refuses no key`)
  }
  t.ok(await plane.store.keys.verify(plane.keys.analyst), 'the analyst could not revoke its own key')
})

t.test('a key made through the API is answered once, listed after without it, and works until revoked', async (t) => {
  const plane = await startPlane(t)
  const res = await plane.call('POST', '/v1/keys', plane.keys.admin, { role: 'analyst', name: 'dashboards', owner: 'carol@example.com', expiresAt: '2099-01-01T00:00:00Z' })
  t.equal(res.statusCode, 201)
  const made = res.json() as KeyJson
  t.match(made, { key: /^lgk_[0-9A-Za-z]{40}$/, keyId: /^key_[0-9a-f]{8}$/, name: 'dashboards', owner: 'carol@example.com', role: 'analyst', expiresAt: '2099-01-01T00:00:00.000Z', state: 'active' })
  const key = made.key ?? ''
  t.equal((await plane.call('GET', '/v1/me', key)).statusCode, 200, 'the new key works')

  const list = await plane.call('GET', '/v1/keys', plane.keys.admin)
  t.equal(list.statusCode, 200)
  const items = (list.json() as { items: KeyJson[] }).items
  t.equal(items[0]?.keyId, made.keyId, 'newest first')
  t.equal(items.length, 4, 'with the three keys the plane started with')
  t.notOk(list.body.includes(key), 'the list does not carry the key')
  t.notOk(/[0-9a-f]{64}/.test(list.body), 'nor any hash')

  const revoked = await plane.call('POST', `/v1/keys/${made.keyId}/revoke`, plane.keys.admin)
  t.equal(revoked.statusCode, 200)
  t.match(revoked.json(), { keyId: made.keyId, state: 'revoked', revokedAt: /^\d{4}-/ })
  const refused = await plane.call('GET', '/v1/me', key)
  t.equal(refused.statusCode, 401)
  t.match(refused.json(), { code: 'LEAKGATE_ERR_UNAUTHORIZED', detail: new RegExp(`^this API key \\(${made.keyId}\\) was revoked at \\d{4}-`) })
  t.equal(refused.headers['www-authenticate'], 'Bearer realm="leakgate"')
  t.match(((await plane.call('GET', '/v1/keys', plane.keys.admin)).json() as { items: KeyJson[] }).items.find((k) => k.keyId === made.keyId), { state: 'revoked' }, 'still listed')
  t.notOk(plane.logs.join('').includes(key), 'the key is not in the logs')
})

t.test('an expired key is refused, saying when it expired', async (t) => {
  const plane = await startPlane(t)
  const made = await plane.store.keys.create('analyst', { expiresAt: '2026-01-01T00:00:00.000Z' })
  const res = await plane.call('GET', '/v1/leaks', made.key)
  t.equal(res.statusCode, 401)
  t.match(res.json(), { code: 'LEAKGATE_ERR_UNAUTHORIZED', detail: `this API key (${made.keyId}) expired at 2026-01-01T00:00:00.000Z` })
})

t.test('the last admin key that works cannot be revoked, not even by itself', async (t) => {
  const plane = await startPlane(t)
  const admin = (await plane.store.keys.list()).find((k) => k.role === 'admin')?.keyId ?? ''
  const res = await plane.call('POST', `/v1/keys/${admin}/revoke`, plane.keys.admin)
  t.equal(res.statusCode, 409)
  t.match(res.json(), { code: 'LEAKGATE_ERR_LAST_ADMIN_KEY', detail: /last admin key.*create another admin key first/ })
  t.equal((await plane.call('GET', '/v1/keys', plane.keys.admin)).statusCode, 200, 'the key still works')

  const second = (await plane.call('POST', '/v1/keys', plane.keys.admin, { role: 'admin' })).json() as KeyJson
  t.equal((await plane.call('POST', `/v1/keys/${admin}/revoke`, second.key)).statusCode, 200, 'with another admin key, it can')
  t.equal((await plane.call('GET', '/v1/keys', plane.keys.admin)).statusCode, 401)
  t.equal((await plane.call('POST', `/v1/keys/${second.keyId}/revoke`, second.key)).statusCode, 409, 'and now the other is the last')
})

t.test('rotate answers the new key once and revokes the old one, now or after the overlap', async (t) => {
  const plane = await startPlane(t)
  const old = (await plane.call('POST', '/v1/keys', plane.keys.admin, { role: 'node', name: 'edge-1', owner: 'dave@example.com' })).json() as KeyJson
  const res = await plane.call('POST', `/v1/keys/${old.keyId}/rotate`, plane.keys.admin)
  t.equal(res.statusCode, 200)
  const made = res.json() as KeyJson & { replaced: KeyJson }
  t.match(made, { key: /^lgk_/, role: 'node', name: 'edge-1', owner: 'dave@example.com', replaced: { keyId: old.keyId, state: 'revoked' } })
  t.equal((await plane.call('GET', '/v1/me', old.key)).statusCode, 401, 'the old key stopped')
  t.equal((await plane.call('GET', '/v1/me', made.key)).statusCode, 200)

  const overlapped = (await plane.call('POST', `/v1/keys/${made.keyId}/rotate`, plane.keys.admin, { overlapSeconds: 3600 })).json() as KeyJson & { replaced: KeyJson }
  t.match(overlapped.replaced, { keyId: made.keyId, state: 'retiring' })
  t.equal((await plane.call('GET', '/v1/me', made.key)).statusCode, 200, 'the replaced key works during the overlap')
  t.equal((await plane.call('GET', '/v1/me', overlapped.key)).statusCode, 200)
  const again = await plane.call('POST', `/v1/keys/${old.keyId}/rotate`, plane.keys.admin)
  t.match({ status: again.statusCode, code: again.json().code }, { status: 409, code: 'LEAKGATE_ERR_KEY_REVOKED' }, 'a revoked key cannot be rotated')
  t.notOk(plane.logs.join('').includes(made.key ?? '-') || plane.logs.join('').includes(overlapped.key ?? '-'), 'no key in the logs')
})

t.test('bad input gets a clear 400 or 404 and nothing changes', async (t) => {
  const plane = await startPlane(t)
  // The admin key's first use records its last use, written beside the request: let it land first.
  await plane.call('GET', '/v1/keys', plane.keys.admin)
  await plane.store.keys.settled()
  const before = (await plane.call('GET', '/v1/keys', plane.keys.admin)).body
  const cases: Array<[string, string, unknown, number, RegExp]> = [
    ['POST', '/v1/keys', { role: 'root' }, 400, /role/],
    ['POST', '/v1/keys', {}, 400, /role/],
    ['POST', '/v1/keys', { role: 'analyst', name: 'a\u0007b' }, 400, /name/],
    ['POST', '/v1/keys', { role: 'analyst', owner: 'x'.repeat(300) }, 400, /owner/],
    ['POST', '/v1/keys', { role: 'analyst', expiresAt: 'tomorrow' }, 400, /expiresAt/],
    ['POST', '/v1/keys', { role: 'analyst', expiresAt: '2020-01-01T00:00:00Z' }, 400, /not in the future/],
    ['POST', '/v1/keys', { role: 'analyst', hash: 'x' }, 400, /hash/],
    ['POST', '/v1/keys/key_XYZ/revoke', undefined, 400, /id/],
    ['POST', '/v1/keys/key_00000000/revoke', undefined, 404, /no key key_00000000/],
    ['POST', '/v1/keys/key_00000000/rotate', { overlapSeconds: 8 * 86_400 }, 400, /overlapSeconds/],
    ['POST', '/v1/keys/key_00000000/rotate', {}, 404, /no key/],
  ]
  for (const [method, url, body, status, detail] of cases) {
    const res = await plane.call(method, url, plane.keys.admin, body)
    t.equal(res.statusCode, status, `${url} ${JSON.stringify(body)}`)
    t.match(res.json().detail, detail)
  }
  t.equal((await plane.call('GET', '/v1/keys', plane.keys.admin)).body, before, 'no key made or changed')
})

t.test("the audit of a decision made with an owned key names the owner and the key", async (t) => {
  const plane = await startPlane(t)
  const owned = (await plane.call('POST', '/v1/keys', plane.keys.admin, { role: 'admin', owner: 'alice@example.com' })).json() as KeyJson
  const leak = (await plane.call('POST', '/v1/leaks', owned.key, { tokens: [{ value: token() }] })).json() as { id: number }
  t.equal((await plane.call('PATCH', `/v1/leaks/${leak.id}`, owned.key, { action: 'block', comment: 'in use' })).statusCode, 200)
  t.equal((await plane.call('PATCH', `/v1/leaks/${leak.id}`, plane.keys.admin, { action: 'monitor', comment: 'checked' })).statusCode, 200)
  const audit = (await plane.call('GET', `/v1/audit?leakId=${leak.id}`, plane.keys.analyst)).json() as { items: Array<{ actor: string }> }
  const anonymous = (await plane.store.keys.list()).find((k) => k.role === 'admin' && k.owner === null)?.keyId
  t.same(audit.items.map((d) => d.actor), [anonymous, `alice@example.com via ${owned.keyId}`, `alice@example.com via ${owned.keyId}`])
})
