/**
 * Setting a hash key on a control plane with an existing store converts every hash it holds (tokens,
 * index, change log, sightings, scan records), once, and logs it as one line without a hash. After
 * that, whatever arrives as a SHA-256 (added by hash, pushed by `leakgate scan --push`) is stored keyed
 * and enforced by a keyed node. The store then refuses to start without its key or with another, with
 * LEAKGATE_ERR_HASH_KEY_MISMATCH. Real control plane, real SQLite file, the real CLI for the refusal.
 */
import t from 'tap'
import { Rng } from '../detect/corpus/random.js'
import { keyedHash, sha256Hex } from '../../protocol/token-hash.js'
import { spawnPlane } from './process.js'
import { openTestStore, pushedFinding, snapshotIndex, startPlane, storeSql, tempDir } from './harness.js'

const rng = new Rng(0x636f6e76)
const KEY = rng.bytes(32)
const OTHER_KEY = rng.bytes(32)
const token = (): string => `tok_${rng.chars(24, 'abcdefghijklmnopqrstuvwxyz0123456789')}`
const [BY_VALUE, BY_HASH, PUSHED, LATER_BY_HASH, LATER_PUSHED] = [token(), token(), token(), token(), token()] as [string, string, string, string, string]
const keyed = (t: string): string => keyedHash(KEY, sha256Hex(t))

t.test('a new hash key converts the store once; SHA-256s received after are keyed; another key or none is refused', async (t) => {
  const dataDir = tempDir(t, 'leakgate-cp-')
  const before = await startPlane(t, { dataDir })
  const a = (await before.call('POST', '/v1/leaks', before.keys.admin, { tokens: [{ value: BY_VALUE }], action: 'block' })).json()
  const b = (await before.call('POST', '/v1/leaks', before.keys.admin, { tokens: [{ sha256: sha256Hex(BY_HASH) }], action: 'block' })).json()
  const pushed = await before.call('POST', '/v1/scans', before.keys.admin, { source: { type: 'dir', path: '/x' }, findings: [pushedFinding(PUSHED)] })
  t.equal(pushed.statusCode, 202, pushed.body)
  const sighting = { leakId: a.id, sha256: sha256Hex(BY_VALUE), at: '2026-11-28T10:00:00.000Z', verdict: 'block' }
  t.equal((await before.call('POST', '/v1/sightings', before.keys.node, { nodeId: 'edge-1', sightings: [sighting] })).statusCode, 202)
  t.equal(before.store.hashes.keyed, false)
  await before.app.close()
  await before.store.close()

  const after = await startPlane(t, { dataDir, hashKey: KEY.toString('hex') })
  const lines = after.logs.filter((l) => l.includes('"converted"'))
  t.equal(lines.length, 1, 'the conversion is logged as one line')
  t.notMatch(lines[0], /[0-9a-f]{64}/, 'with no hash in it')
  t.match(JSON.parse(lines[0]!), { converted: { tokens: 3, indexEntries: 3, sightings: 1, scans: 1 } })

  const leakA = (await after.call('GET', `/v1/leaks/${a.id}`, after.keys.analyst)).json()
  t.same(leakA.tokens.map((x: { sha256: string }) => x.sha256), [keyed(BY_VALUE)], 'a token added by value')
  t.equal(leakA.sightings[0].sha256, keyed(BY_VALUE), 'a sighting')
  const leakB = (await after.call('GET', `/v1/leaks/${b.id}`, after.keys.analyst)).json()
  t.same(leakB.tokens, [{ sha256: keyed(BY_HASH), preview: `sha256:${keyed(BY_HASH).slice(0, 8)}`, kind: null }], 'a token added by hash, and its placeholder preview')
  const scan = (await after.call('GET', `/v1/scans/${pushed.json().id}`, after.keys.analyst)).json()
  t.equal(scan.findings[0].sha256, keyed(PUSHED), "a scan record's finding")
  t.not(scan.findings[0].fingerprint, pushedFinding(PUSHED).fingerprint, "and its fingerprint, made from the token's SHA-256")
  const db = storeSql(t, after.store)
  const changes = await db.all<{ sha256: string }>('SELECT sha256 FROM changes')
  t.same(changes.map((c) => c.sha256).sort(), [keyed(BY_VALUE), keyed(BY_HASH), keyed(PUSHED)].sort(), 'the change log nodes follow')

  // Received as SHA-256s after the conversion: keyed on arrival.
  t.equal((await after.call('POST', '/v1/leaks', after.keys.admin, { tokens: [{ sha256: sha256Hex(LATER_BY_HASH) }], action: 'block' })).statusCode, 201)
  t.equal((await after.call('POST', '/v1/scans', after.keys.admin, { source: { type: 'dir', path: '/y' }, findings: [pushedFinding(LATER_PUSHED, { file: 'other.env' })] })).statusCode, 202)
  const index = await snapshotIndex(after)
  t.equal(index.size, 5)
  for (const tok of [BY_VALUE, BY_HASH, PUSHED, LATER_BY_HASH, LATER_PUSHED]) t.ok(index.check(tok) !== undefined, 'a keyed node finds every token')
  const stored = (await db.all<{ sha256: string }>('SELECT sha256 FROM tokens')).map((r) => r.sha256)
  t.same(stored.sort(), [BY_VALUE, BY_HASH, PUSHED, LATER_BY_HASH, LATER_PUSHED].map(keyed).sort(), 'no plain SHA-256 is stored')
  await after.app.close()
  await after.store.close()

  const options = { defaultAction: 'monitor', autoBlockRisk: 'off', sightingsKeptPerLeak: 10, changesRetention: 1000 } as const
  await t.rejects(openTestStore(t, dataDir, { ...options, hashKey: { key: OTHER_KEY } }), { code: 'LEAKGATE_ERR_HASH_KEY_MISMATCH' }, 'another key')
  await t.rejects(openTestStore(t, dataDir, { ...options, hashKey: { key: undefined } }), { code: 'LEAKGATE_ERR_HASH_KEY_MISMATCH' }, 'no key')
  const again = await openTestStore(t, dataDir, { ...options, hashKey: { key: KEY } })
  t.equal(again.hashKeyConversion, undefined, 'the same key converts nothing twice')
  t.same((await again.leaks.require(a.id)).tokens.map((x) => x.sha256), [keyed(BY_VALUE)])
  await again.close()

  // The command refuses to start, saying which option to set.
  await t.rejects(spawnPlane(t, { LEAKGATE_DATA_DIR: dataDir, LEAKGATE_HASH_KEY: OTHER_KEY.toString('hex') }), { message: /exited with 1[\s\S]*hashKey option \(LEAKGATE_HASH_KEY\)/ })
})
