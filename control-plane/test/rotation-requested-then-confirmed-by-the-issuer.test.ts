/**
 * The revocation loop: an analyst asks for a leak's credential to be rotated (the leak stays open and
 * blocked, the request is audited and recorded as an event carrying hashes and previews only), the
 * issuer confirms (the leak closes, its tokens leave the nodes' index, the audit names the issuer key).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { makePreview, sha256Hex } from '../../protocol/token-hash.js'
import { ALPHA, Rng } from '../detect/corpus/random.js'
import { eventsAfter, type StoredEvent } from '../store/events.js'
import { generateKey, keyIdOf } from '../store/keys.js'
import type { LeakDetail } from '../store/leaks.js'
import type { Sql } from '../store/sql.js'
import { snapshotIndex, startPlane, storeSql, TEST_STORE, type Teardown, type TestPlane } from './harness.js'

const rng = new Rng(0x726f7461)

const connections = new WeakMap<TestPlane, Sql>()

/** Every event recorded so far, read from the store's own tables. */
async function events(t: Teardown, plane: TestPlane): Promise<StoredEvent[]> {
  let sql = connections.get(plane)
  if (sql === undefined) {
    sql = storeSql(t, plane.store)
    connections.set(plane, sql)
  }
  return eventsAfter(sql, 0, 1000)
}

async function issuerKey(plane: TestPlane): Promise<string> {
  const key = generateKey()
  await plane.store.keys.add(key, 'issuer', 'test issuer')
  return key
}

async function blockedLeak(plane: TestPlane, token: string): Promise<LeakDetail> {
  const res = await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: token }], kind: 'github_pat', source: 'github', action: 'block' })
  if (res.statusCode !== 201) throw new Error(`create answered ${res.statusCode}: ${res.body}`)
  return res.json() as LeakDetail
}

t.test('a requested rotation keeps the leak open and blocked, is audited, and its event carries hashes, never the raw token', async (t) => {
  const plane = await startPlane(t)
  const planted = `ghp_${rng.chars(36, ALPHA.base62)}`
  const leak = await blockedLeak(plane, planted)

  const res = await plane.call('POST', `/v1/leaks/${leak.id}/request-rotation`, plane.keys.analyst, { comment: 'rotate it at the issuer' })
  t.equal(res.statusCode, 200)
  const requested = res.json() as LeakDetail
  t.equal(requested.rotation, 'requested')
  t.ok(requested.rotationRequestedAt !== null && Date.parse(requested.rotationRequestedAt) > 0, 'when it was requested')
  t.equal(requested.rotatedAt, null)
  t.equal(requested.status, 'open', 'still open')
  t.equal(requested.action, 'block', 'still blocked')
  t.ok((await snapshotIndex(plane)).has(sha256Hex(planted)), 'nodes still enforce the token')
  const entry = requested.decisions[0]
  t.equal(entry?.actor, keyIdOf(plane.keys.analyst), 'the audit names the analyst')
  t.equal(entry?.comment, 'rotate it at the issuer')
  t.same(entry?.from, { action: 'block', status: 'open', risk: leak.risk, rotation: null })
  t.same(entry?.to, { action: 'block', status: 'open', risk: leak.risk, rotation: 'requested' })

  await blockedLeak(plane, `ghp_${rng.chars(36, ALPHA.base62)}`)
  const pending = (await plane.call('GET', '/v1/leaks?rotation=requested', plane.keys.analyst)).json() as { items: LeakDetail[]; total: number }
  t.same(pending.items.map((l) => l.id), [leak.id], 'the list filters by rotation state')

  const recorded = (await events(t, plane)).filter((e) => e.type === 'leak.rotation_requested')
  t.equal(recorded.length, 1, 'one event')
  t.equal(recorded[0]?.leakId, leak.id)
  const { leak: snapshot, ...data } = recorded[0]?.data ?? {}
  t.same(data, {
    tokens: [{ sha256: sha256Hex(planted), preview: makePreview(planted) }],
    requestedBy: keyIdOf(plane.keys.analyst),
    requestedAt: requested.rotationRequestedAt,
    comment: 'rotate it at the issuer',
  })
  t.match(snapshot, { id: leak.id, status: 'open', action: 'block' }, 'with the leak as it was, still open and blocked')

  // Asked again while requested: the same answer, nothing recorded twice.
  const again = await plane.call('POST', `/v1/leaks/${leak.id}/request-rotation`, plane.keys.admin)
  t.equal(again.statusCode, 200)
  t.equal((again.json() as LeakDetail).rotationRequestedAt, requested.rotationRequestedAt)
  t.equal((again.json() as LeakDetail).decisions.length, requested.decisions.length, 'no second audit entry')
  t.equal((await events(t, plane)).filter((e) => e.type === 'leak.rotation_requested').length, 1, 'no second event')

  const every = JSON.stringify(await events(t, plane))
  t.notOk(every.includes(planted), 'no event holds the raw token')
  t.notOk(every.includes(planted.slice(4)), 'nor its body without the prefix')
  if (TEST_STORE === 'sqlite') {
    for (const f of readdirSync(plane.dir).filter((name) => name.startsWith('leakgate.db'))) {
      t.notOk(readFileSync(join(plane.dir, f)).includes(planted), `not in ${f}`)
    }
  }
})

t.test('the issuer confirming closes the leak, takes its token out of the index, and the audit names the issuer key', async (t) => {
  const plane = await startPlane(t)
  const issuer = await issuerKey(plane)
  const token = `ghp_${rng.chars(36, ALPHA.base62)}`
  const leak = await blockedLeak(plane, token)
  t.equal((await plane.call('POST', `/v1/leaks/${leak.id}/request-rotation`, plane.keys.analyst, {})).statusCode, 200)

  const res = await plane.call('POST', `/v1/leaks/${leak.id}/rotated`, issuer, { comment: 'revoked, new key issued' })
  t.equal(res.statusCode, 200)
  const rotated = res.json() as LeakDetail
  t.equal(rotated.status, 'closed')
  t.equal(rotated.rotation, 'rotated')
  t.ok(rotated.rotatedAt !== null && Date.parse(rotated.rotatedAt) > 0)
  t.same(rotated.sightings, [], 'an issuer is not shown sightings')
  const entry = rotated.decisions[0]
  t.equal(entry?.actor, keyIdOf(issuer), 'the audit names the issuer key')
  t.equal(entry?.comment, 'revoked, new key issued')
  t.same(entry?.to, { action: 'block', status: 'closed', risk: leak.risk, rotation: 'rotated' })
  t.notOk((await snapshotIndex(plane)).has(sha256Hex(token)), 'nodes no longer hold the token')
  const audit = (await plane.call('GET', `/v1/audit?leakId=${leak.id}`, plane.keys.analyst)).json() as { items: Array<{ actor: string }> }
  t.equal(audit.items[0]?.actor, keyIdOf(issuer), 'the audit log shows it too')

  const rotatedEvents = (await events(t, plane)).filter((e) => e.type === 'leak.rotated')
  t.equal(rotatedEvents.length, 1)
  const { leak: closedLeak, ...rotatedData } = rotatedEvents[0]?.data ?? {}
  t.same(rotatedData, { rotatedBy: keyIdOf(issuer), requestedAt: rotated.rotationRequestedAt, rotatedAt: rotated.rotatedAt, comment: 'revoked, new key issued' })
  t.match(closedLeak, { id: leak.id, status: 'closed' }, 'with the leak closed')

  // A retried confirmation (its answer lost on the way) answers the same and records nothing new.
  const again = await plane.call('POST', `/v1/leaks/${leak.id}/rotated`, issuer)
  t.equal(again.statusCode, 200)
  t.equal((again.json() as LeakDetail).rotatedAt, rotated.rotatedAt)
  t.equal((again.json() as LeakDetail).decisions.length, rotated.decisions.length)
  t.equal((await events(t, plane)).filter((e) => e.type === 'leak.rotated').length, 1)
})

t.test('confirming a rotation nobody requested is a 409, and so is requesting one of a closed leak', async (t) => {
  const plane = await startPlane(t)
  const issuer = await issuerKey(plane)
  const leak = await blockedLeak(plane, `ghp_${rng.chars(36, ALPHA.base62)}`)

  const unasked = await plane.call('POST', `/v1/leaks/${leak.id}/rotated`, issuer, {})
  t.equal(unasked.statusCode, 409)
  t.equal(unasked.json().code, 'LEAKGATE_ERR_ROTATION_NOT_REQUESTED')
  t.match(unasked.json().detail, /request-rotation/, 'says what to do')
  const after = (await plane.call('GET', `/v1/leaks/${leak.id}`, plane.keys.analyst)).json() as LeakDetail
  t.equal(after.status, 'open', 'the leak is untouched')
  t.equal(after.rotation, null)
  t.equal((await events(t, plane)).filter((e) => e.type === 'leak.rotated').length, 0)

  t.equal((await plane.call('PATCH', `/v1/leaks/${leak.id}`, plane.keys.admin, { status: 'closed' })).statusCode, 200)
  const closed = await plane.call('POST', `/v1/leaks/${leak.id}/request-rotation`, plane.keys.analyst, {})
  t.equal(closed.statusCode, 409)
  t.equal(closed.json().code, 'LEAKGATE_ERR_LEAK_NOT_OPEN')

  t.equal((await plane.call('POST', '/v1/leaks/999999/request-rotation', plane.keys.analyst, {})).statusCode, 404)
  t.equal((await plane.call('POST', '/v1/leaks/999999/rotated', issuer, {})).statusCode, 404)
  t.equal((await plane.call('POST', `/v1/leaks/${leak.id}/request-rotation`, plane.keys.node, {})).statusCode, 403, 'a node key cannot request one')
  t.equal((await plane.call('POST', `/v1/leaks/${leak.id}/rotated`, plane.keys.analyst, {})).statusCode, 403, 'an analyst cannot confirm one')
})

t.test('a rotated leak reopened can have its rotation requested again', async (t) => {
  const plane = await startPlane(t)
  const issuer = await issuerKey(plane)
  const leak = await blockedLeak(plane, `ghp_${rng.chars(36, ALPHA.base62)}`)
  await plane.call('POST', `/v1/leaks/${leak.id}/request-rotation`, plane.keys.analyst, {})
  await plane.call('POST', `/v1/leaks/${leak.id}/rotated`, issuer, {})
  t.equal((await plane.call('PATCH', `/v1/leaks/${leak.id}`, plane.keys.admin, { status: 'open', comment: 'the new key leaked too' })).statusCode, 200)
  const res = await plane.call('POST', `/v1/leaks/${leak.id}/request-rotation`, plane.keys.analyst, {})
  t.equal(res.statusCode, 200)
  t.equal((res.json() as LeakDetail).rotation, 'requested')
  t.equal((res.json() as LeakDetail).rotatedAt, null)
  t.equal((await events(t, plane)).filter((e) => e.type === 'leak.rotation_requested').length, 2)
  t.equal((await plane.call('POST', `/v1/leaks/${leak.id}/rotated`, issuer, {})).statusCode, 200)
  t.equal((await events(t, plane)).filter((e) => e.type === 'leak.rotated').length, 2)
})
