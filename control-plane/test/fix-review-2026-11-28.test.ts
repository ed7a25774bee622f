/**
 * Regressions for the defects a review of the control plane found on 2026-11-28, one test each
 * (STYLE.md: one regression test per security bug fixed). Real control plane, real SQLite file.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { LeakIndex } from '../../node/leakdb/index.js'
import { makePreview, sha256Hex } from '../../protocol/token-hash.js'
import { startPlane } from './harness.js'

function finding(token: string, over: Record<string, unknown> = {}) {
  return {
    ruleId: 'github-pat', kind: 'github_pat', file: '.env', line: 1, column: 1,
    sha256: sha256Hex(token), preview: makePreview(token), fingerprint: sha256Hex(`fp:${token}`).slice(0, 32),
    inHistoryOnly: false, source: 'github', location: { repo: 'acme/api', path: '.env' }, ...over,
  }
}

async function snapshotIndex(plane: Awaited<ReturnType<typeof startPlane>>): Promise<LeakIndex> {
  const res = await plane.call('GET', '/v1/sync/snapshot', plane.keys.node)
  if (res.statusCode !== 200) throw new Error(`snapshot answered ${res.statusCode}: ${res.body}`)
  return LeakIndex.fromSnapshot(res.rawPayload)
}

t.test('an uppercase sha256 in pushed findings is stored lowercase, and sync keeps working', async (t) => {
  const plane = await startPlane(t)
  const token = 'ghp_uppercaseHashRegression000000000000'
  const created = await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ sha256: sha256Hex(token) }], action: 'block' })
  t.equal(created.statusCode, 201)
  const upper = finding(token, { sha256: sha256Hex(token).toUpperCase() })
  const res = await plane.call('POST', '/v1/scans', plane.keys.admin, { source: { type: 'dir', path: '/x' }, findings: [upper] })
  t.equal(res.statusCode, 202, res.body)
  const index = await snapshotIndex(plane)
  t.equal(index.size, 1, 'one token, not an uppercase twin')
  t.same(index.check(token)?.action, 'block')
  const changes = await plane.call('GET', '/v1/sync/changes?since=0', plane.keys.node)
  t.equal(changes.statusCode, 200)
  for (const c of (changes.json() as { changes: Array<{ sha256: string }> }).changes) t.match(c.sha256, /^[0-9a-f]{64}$/)
})

t.test('a new token found where a closed leak was becomes a new open leak, enforced', async (t) => {
  const plane = await startPlane(t)
  const oldToken = 'ghp_rotatedAwayRegressionToken0000000000'
  const newToken = 'ghp_leakedAgainRegressionToken000000000'
  const first = await plane.call('POST', '/v1/scans', plane.keys.admin, { source: { type: 'dir', path: '/x' }, findings: [finding(oldToken)] })
  t.equal(first.statusCode, 202)
  const leakId = (await plane.call('GET', '/v1/leaks?status=open', plane.keys.admin)).json().items[0].id as number
  t.equal((await plane.call('PATCH', `/v1/leaks/${leakId}`, plane.keys.admin, { status: 'closed', comment: 'rotated' })).statusCode, 200)
  // The rescan still sees the old token in history, and a new one in the same file.
  const again = await plane.call('POST', '/v1/scans', plane.keys.admin, { source: { type: 'dir', path: '/x' }, findings: [finding(oldToken), finding(newToken)] })
  t.equal(again.statusCode, 202)
  const open = (await plane.call('GET', '/v1/leaks?status=open', plane.keys.admin)).json().items as Array<{ id: number; tokenCount: number }>
  t.equal(open.length, 1, 'the new exposure is an open leak')
  t.not(open[0]!.id, leakId)
  t.equal(open[0]!.tokenCount, 1, 'holding only the new token')
  const index = await snapshotIndex(plane)
  t.ok(index.check(newToken), 'the new token is enforced')
  t.notOk(index.check(oldToken), 'the rotated one stays out')
  const third = await plane.call('POST', '/v1/scans', plane.keys.admin, { source: { type: 'dir', path: '/x' }, findings: [finding(oldToken), finding(newToken)] })
  t.equal(third.json().leaksCreated, 0, 'a rescan finds the successor: no duplicate')
})

t.test('a git URL with credentials is refused and stored nowhere', async (t) => {
  const plane = await startPlane(t)
  const secret = 'ghp_urlCredentialRegression00000000000000'
  const res = await plane.call('POST', '/v1/scans', plane.keys.admin, { source: { type: 'git', url: `https://bob:${secret}@example.invalid/x.git` } })
  t.equal(res.statusCode, 400)
  t.equal(res.json().code, 'LEAKGATE_ERR_BAD_REQUEST')
  t.notOk(res.body.includes(secret))
  for (const f of readdirSync(plane.dir).filter((n) => n.includes('.db') || n.includes('sqlite'))) {
    t.notOk(readFileSync(join(plane.dir, f)).includes(secret), `${f} holds no credential`)
  }
  t.notOk(plane.logs.some((l) => l.includes(secret)), 'no log line holds it')
})

t.test('a raw token echoed in kind, source or an escaped location field is refused', async (t) => {
  const plane = await startPlane(t)
  const cases: Array<[string, Record<string, unknown>]> = [
    ['kind', { kind: 'ghp_ABCDEFghijklmnop0123456789', tokens: [{ value: 'ghp_ABCDEFghijklmnop0123456789' }] }],
    ['source', { source: 'xoxb-12345678-abcdefgh', tokens: [{ value: 'xoxb-12345678-abcdefgh' }] }],
    ['location', { location: { path: 'abc"def\\ghi' }, tokens: [{ value: 'abc"def\\ghi' }] }],
  ]
  for (const [field, body] of cases) {
    const res = await plane.call('POST', '/v1/leaks', plane.keys.admin, body)
    t.equal(res.statusCode, 400, `${field}: ${res.body}`)
  }
  t.equal((await plane.call('GET', '/v1/leaks', plane.keys.admin)).json().total, 0, 'nothing stored')
})

t.test('a sighting time Date cannot hold (leap second) is a 400, not a 500 that blocks the batch', async (t) => {
  const plane = await startPlane(t)
  const res = await plane.call('POST', '/v1/sightings', plane.keys.node, { nodeId: 'e1', sightings: [{ leakId: 1, at: '2025-12-31T23:59:60Z', host: 'a', method: 'GET', route: '/', client: '127.0.0.1', verdict: 'block' }] })
  t.equal(res.statusCode, 400, res.body)
})

t.test('a pushed finding without a location is accepted, not a 500', async (t) => {
  const plane = await startPlane(t)
  const f = finding('ghp_noLocationRegressionToken0000000000')
  delete (f as { location?: unknown }).location
  const res = await plane.call('POST', '/v1/scans', plane.keys.admin, { source: { type: 'dir', path: '/x' }, findings: [f] })
  t.equal(res.statusCode, 202, res.body)
  t.equal(res.json().leaksCreated, 1)
})
