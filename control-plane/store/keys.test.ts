import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { Rng } from '../detect/corpus/random.js'
import { openTestStore, storeSql, tempDir, TEST_STORE, waitFor } from '../test/harness.js'
import { KeyRepo, keyIdOf } from './keys.js'

/** A store of the engine under test, and a KeyRepo over it whose clock the test moves. */
async function keysWithClock(t: Test) {
  const dir = tempDir(t)
  const store = await openTestStore(t, dir)
  t.teardown(() => store.close())
  const clock = { now: Date.parse('2026-12-02T09:00:00Z') }
  const keys = new KeyRepo(storeSql(t, store), () => clock.now)
  return { dir, store, keys, clock }
}

t.test(`made with a name, an owner and an expiry; listed newest first without hashes (${TEST_STORE})`, async (t) => {
  const { dir, store, keys, clock } = await keysWithClock(t)
  const first = await keys.create('node', { name: 'edge-eu-1' })
  clock.now += 1000
  const second = await keys.create('admin', { name: 'ops', owner: 'alice@example.com', expiresAt: '2027-03-01T00:00:00.000Z' })
  t.match(second.key, /^lgk_[0-9A-Za-z]{40}$/)
  t.equal(second.keyId, keyIdOf(second.key))
  const list = await keys.list()
  t.same(list.map((k) => k.keyId), [second.keyId, first.keyId], 'newest first')
  t.same(list[0], {
    keyId: second.keyId, name: 'ops', owner: 'alice@example.com', role: 'admin', createdAt: '2026-12-02T09:00:01.000Z',
    expiresAt: '2027-03-01T00:00:00.000Z', lastUsedAt: null, revokedAt: null, revokedBy: null, state: 'active',
  })
  t.notOk(JSON.stringify(list).includes(second.key), 'no key in the list')
  t.notOk(/[0-9a-f]{64}/.test(JSON.stringify(list)), 'no hash in the list')
  t.same(await keys.verify(second.key), { keyId: second.keyId, role: 'admin', person: 'alice@example.com' }, 'the owner is the person acting')
  t.same(await keys.verify(first.key), { keyId: first.keyId, role: 'node' }, 'a key without an owner names no person')
  await keys.settled()
  await store.close()
  if (TEST_STORE === 'sqlite') {
    for (const f of readdirSync(dir)) t.notOk(readFileSync(join(dir, f)).includes(second.key), `the key is not in ${f}`)
  }
})

t.test(`revoked and expired keys are refused, saying so and when (${TEST_STORE})`, async (t) => {
  const { keys, clock } = await keysWithClock(t)
  await keys.create('admin')
  const soon = await keys.create('analyst', { expiresAt: '2026-12-02T10:00:00.000Z' })
  const doomed = await keys.create('analyst')
  t.ok(await keys.verify(soon.key))
  clock.now = Date.parse('2026-12-02T10:00:00Z')
  t.same(await keys.check(soon.key), { refused: `this API key (${soon.keyId}) expired at 2026-12-02T10:00:00.000Z` })
  t.equal(await keys.verify(soon.key), undefined)
  const revoked = await keys.revoke(doomed.keyId, 'carol@example.com via key_00000001')
  t.match(revoked, { keyId: doomed.keyId, revokedAt: '2026-12-02T10:00:00.000Z', revokedBy: 'carol@example.com via key_00000001', state: 'revoked' })
  t.same(await keys.check(doomed.key), { refused: `this API key (${doomed.keyId}) was revoked at 2026-12-02T10:00:00.000Z` })
  t.same(await keys.revoke(doomed.keyId, 'carol@example.com via key_00000001'), revoked, 'revoking again changes nothing')
  t.same((await keys.list()).map((k) => k.state).sort(), ['active', 'expired', 'revoked'], 'revoked and expired keys stay listed')
  t.same(await keys.count(), 1, 'count is of keys that work')
})

t.test(`the last admin key that works cannot be revoked (${TEST_STORE})`, async (t) => {
  const { keys, clock } = await keysWithClock(t)
  const a = await keys.create('admin')
  const b = await keys.create('admin', { expiresAt: '2026-12-03T00:00:00.000Z' })
  await keys.revoke(a.keyId, 'carol@example.com via key_00000001')
  await t.rejects(keys.revoke(b.keyId, 'carol@example.com via key_00000001'), { code: 'LEAKGATE_ERR_LAST_ADMIN_KEY' })
  t.ok(await keys.verify(b.key), 'and it still works')
  const c = await keys.create('admin')
  clock.now = Date.parse('2026-12-03T00:00:00Z')
  await t.rejects(keys.revoke(c.keyId, 'carol@example.com via key_00000001'), { code: 'LEAKGATE_ERR_LAST_ADMIN_KEY' }, 'an expired admin key does not count')
  // A rotation leaves an admin: the new key.
  const rotated = await keys.rotate(c.keyId, 0, 'test')
  t.equal(rotated.role, 'admin')
  t.equal(await keys.verify(c.key), undefined)
})

t.test(`rotate: same role, name, owner and lifetime; the old key works until the overlap ends (${TEST_STORE})`, async (t) => {
  const { keys, clock } = await keysWithClock(t)
  await keys.create('admin')
  const old = await keys.create('node', { name: 'edge-eu-1', owner: 'bob@example.com', expiresAt: '2027-03-02T09:00:00.000Z' })
  clock.now += 86_400_000
  const made = await keys.rotate(old.keyId, 3600, 'test')
  t.match(made, { role: 'node', name: 'edge-eu-1', owner: 'bob@example.com', expiresAt: '2027-03-03T09:00:00.000Z', state: 'active' }, '90 days from now, as the old key had')
  t.match(made.replaced, { keyId: old.keyId, revokedAt: '2026-12-03T10:00:00.000Z', state: 'retiring' })
  t.ok(await keys.verify(old.key), 'the old key works during the overlap')
  t.ok(await keys.verify(made.key))
  clock.now += 3600_000
  t.equal(await keys.verify(old.key), undefined, 'and not after')
  await t.rejects(keys.rotate(old.keyId, 0, 'test'), { code: 'LEAKGATE_ERR_KEY_REVOKED' })
  await t.rejects(keys.rotate('key_00000000', 0, 'test'), { code: 'LEAKGATE_ERR_NOT_FOUND' })
})

t.test(`a key id two keys share is refused by revoke and rotate, naming longer ids that work (${TEST_STORE})`, async (t) => {
  const { keys } = await keysWithClock(t)
  await keys.create('admin')
  // Two keys whose hashes start alike: about 80,000 tries for a 32-bit id, from a fixed seed.
  const rng = new Rng(11)
  const seen = new Map<string, string>()
  let pair: [string, string] | undefined
  while (pair === undefined) {
    const key = `lgk_${rng.chars(40, '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz')}`
    const other = seen.get(keyIdOf(key))
    if (other !== undefined) pair = [other, key]
    seen.set(keyIdOf(key), key)
  }
  const id = await keys.add(pair[0], 'analyst')
  t.equal(await keys.add(pair[1], 'node'), id)
  t.same((await keys.verify(pair[0]))?.role, 'analyst', 'each key still verifies as itself')
  t.same((await keys.verify(pair[1]))?.role, 'node')
  const err = await keys.revoke(id, 'carol@example.com via key_00000001').then(() => undefined, (e: Error & { code: string }) => e)
  t.equal(err?.code, 'LEAKGATE_ERR_KEY_ID_AMBIGUOUS')
  await t.rejects(keys.rotate(id, 0, 'test'), { code: 'LEAKGATE_ERR_KEY_ID_AMBIGUOUS' })
  t.ok((await keys.verify(pair[0])) && (await keys.verify(pair[1])), 'nothing was revoked')
  const longer = /key_[0-9a-f]{16} \(node/.exec(err?.message ?? '')?.[0].slice(0, 20)
  t.ok(longer, 'the error names a longer id for each')
  await keys.revoke(longer ?? '', 'carol@example.com via key_00000001')
  t.equal(await keys.verify(pair[1]), undefined, 'the longer id revokes the one it names')
  t.ok(await keys.verify(pair[0]), 'and only it')
})

t.test(`last use is written at most once a minute, off the request (${TEST_STORE})`, async (t) => {
  const { keys, clock } = await keysWithClock(t)
  const made = await keys.create('node')
  const lastUsed = async () => (await keys.list())[0]?.lastUsedAt
  await keys.verify(made.key)
  await keys.settled()
  t.equal(await lastUsed(), '2026-12-02T09:00:00.000Z')
  clock.now += 59_000
  await Promise.all([keys.verify(made.key), keys.verify(made.key)])
  await keys.settled()
  t.equal(await lastUsed(), '2026-12-02T09:00:00.000Z', 'not again within the minute')
  clock.now += 2000
  await keys.verify(made.key)
  await waitFor('the second write', async () => (await lastUsed()) === '2026-12-02T09:01:01.000Z')
  t.pass('written again after the minute')
})

t.test(`seeding from the environment revokes the previous seed; it comes back with the variable, unless a person revoked it (${TEST_STORE})`, async (t) => {
  const { keys } = await keysWithClock(t)
  const admin = await keys.create('admin')
  const rng = new Rng(3)
  const first = `lgk_${rng.chars(40, 'abcdefghijklmnopqrstuvwxyz0123456789')}`
  const second = `lgk_${rng.chars(40, 'abcdefghijklmnopqrstuvwxyz0123456789')}`
  await keys.seed(first, 'admin', 'LEAKGATE_ADMIN_KEY')
  await keys.seed(second, 'admin', 'LEAKGATE_ADMIN_KEY')
  t.equal(await keys.verify(first), undefined)
  t.match((await keys.list()).find((k) => k.keyId === keyIdOf(first)), { state: 'revoked', revokedBy: 'env:LEAKGATE_ADMIN_KEY', name: 'LEAKGATE_ADMIN_KEY' }, 'the previous seed stays listed, revoked')
  // A replica restarted with the old value during a rollout: the old key works again, the new one stops.
  await keys.seed(first, 'admin', 'LEAKGATE_ADMIN_KEY')
  t.ok(await keys.verify(first), 'the variable brings back the key it replaced')
  t.equal(await keys.verify(second), undefined)
  await keys.seed(second, 'admin', 'LEAKGATE_ADMIN_KEY')
  t.ok(await keys.verify(second))
  await keys.revoke(keyIdOf(first), 'carol@example.com via key_00000001')
  await keys.revoke(keyIdOf(second), 'carol@example.com via key_00000001')
  await keys.seed(second, 'admin', 'LEAKGATE_ADMIN_KEY')
  t.equal(await keys.verify(second), undefined, 'a seeded key a person revoked stays revoked at the next start')
  await keys.seed(first, 'admin', 'LEAKGATE_ADMIN_KEY')
  t.equal(await keys.verify(first), undefined, 'and so does one the variable had replaced before a person revoked it')
  t.ok(await keys.verify(admin.key))
})
