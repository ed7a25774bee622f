import t from 'tap'
import { sha256Hex } from '../../protocol/token-hash.js'
import { Rng } from '../detect/corpus/random.js'
import { PublicSourceRunner } from '../public-sources/runner.js'
import { unitOf, type PublicSource, type PublicUnit } from '../public-sources/source.js'
import { startPlane } from '../test/harness.js'

const rng = new Rng(1516)
const hashes = Array.from({ length: 5 }, (_, i) => sha256Hex(`issued-${i}-${rng.chars(20, 'abcdef0123456789')}`))
const text = { 'content-type': 'text/plain' }

t.test('issued hashes are for admins; public source states for analysts too', async (t) => {
  const plane = await startPlane(t)
  for (const [method, url] of [['GET', '/v1/issued-hashes'], ['POST', '/v1/issued-hashes'], ['DELETE', '/v1/issued-hashes']] as const) {
    t.equal((await plane.call(method, url, plane.keys.analyst, method === 'GET' ? undefined : hashes[0], text)).statusCode, 403, `${method} ${url} refuses an analyst`)
    t.equal((await plane.call(method, url, undefined, method === 'GET' ? undefined : hashes[0], text)).statusCode, 401)
  }
  const states = await plane.call('GET', '/v1/public-sources', plane.keys.analyst)
  t.equal(states.statusCode, 200)
  t.same(states.json(), { items: [] })
})

t.test('hashes uploaded one a line: added, replaced, removed, with counts', async (t) => {
  const plane = await startPlane(t)
  const [a, b, c, d] = hashes as [string, string, string, string]
  const added = await plane.call('POST', '/v1/issued-hashes', plane.keys.admin, `${a}\n${b.toUpperCase()}\n\n  ${c}  \n${a}\n`, text)
  t.equal(added.statusCode, 200)
  t.same(added.json(), { added: 3, removed: 0, total: 3 }, 'a repeated hash and blank lines count once and not at all')
  t.same((await plane.call('GET', '/v1/issued-hashes', plane.keys.admin)).json(), { total: 3 })

  const replaced = await plane.call('POST', '/v1/issued-hashes?mode=replace', plane.keys.admin, `${c}\n${d}\n`, text)
  t.same(replaced.json(), { added: 1, removed: 2, total: 2 })
  const removed = await plane.call('DELETE', '/v1/issued-hashes', plane.keys.admin, `${c}\n${a}\n`, text)
  t.same(removed.json(), { added: 0, removed: 1, total: 1 })
  t.same([...await plane.store.issuedHashes.matching([d, c].map((h) => plane.store.hashes.of(h)))], [plane.store.hashes.of(d)])
})

t.test('a body with a bad line is refused whole, naming the line and not repeating it', async (t) => {
  const plane = await startPlane(t)
  const [a, b] = hashes as [string, string]
  await plane.call('POST', '/v1/issued-hashes', plane.keys.admin, `${a}\n`, text)
  // A raw token pasted where its hash belongs: refused, and not echoed back or logged.
  const pasted = `acme_live_${rng.chars(40, 'abcdefghijklmnopqrstuvwxyz0123456789')}`
  const refused = await plane.call('POST', '/v1/issued-hashes?mode=replace', plane.keys.admin, `${b}\n${pasted}\n${a.slice(0, 60)}\n`, text)
  t.equal(refused.statusCode, 400)
  t.match(refused.json(), { code: 'LEAKGATE_ERR_BAD_REQUEST', detail: /2 lines are not a SHA-256 \(64 hex characters\): lines 2, 3; nothing was changed/ })
  t.notOk(refused.body.includes(pasted), 'the answer does not repeat the line')
  t.notOk(plane.logs.join('').includes(pasted), 'nor does the log')
  t.same((await plane.call('GET', '/v1/issued-hashes', plane.keys.admin)).json(), { total: 1 }, 'nothing changed')

  const empty = await plane.call('POST', '/v1/issued-hashes', plane.keys.admin, '\n\n', text)
  t.equal(empty.statusCode, 400)
  t.match(empty.json(), { detail: /holds no hash/ })
  const json = await plane.call('POST', '/v1/issued-hashes', plane.keys.admin, { hashes: [a] })
  t.equal(json.statusCode, 415, 'JSON is not what this route takes')
  t.equal((await plane.call('POST', '/v1/leaks', plane.keys.admin, 'x', text)).statusCode, 415, 'and the other routes still take no text')
})

t.test('each public source\'s state is listed, and its figures are on /metrics', async (t) => {
  const plane = await startPlane(t)
  const now = new Date().toISOString()
  t.ok(await plane.store.publicSources.advance('github-events', 0, { cursor: '42', state: { lagSeconds: 7, rateLimitRemaining: 4999 }, units: 3, bytes: 120 }, now))
  await plane.store.publicSources.recordError('other-source', 'GET /events answered 500', undefined, now)
  await plane.store.publicSources.recordError('other-source', 'GET /events answered 502', undefined, now)
  const until = new Date(Date.now() + 60_000).toISOString()
  t.ok(await plane.store.publicSources.takeLease('gharchive#2/4', 'worker-a', until, now), 'a free shard is taken')
  t.notOk(await plane.store.publicSources.takeLease('gharchive#2/4', 'worker-b', until, now), 'and not by another worker while its lease holds')
  const listed = (await plane.call('GET', '/v1/public-sources', plane.keys.analyst)).json() as { items: unknown[] }
  t.match(listed.items, [
    { sourceId: 'gharchive#2/4', cursor: null, version: 0, leaseOwner: 'worker-a', leaseUntil: until, errors: 0 },
    { sourceId: 'github-events', cursor: '42', version: 1, state: { lagSeconds: 7, rateLimitRemaining: 4999 }, lastError: null, units: 3, bytes: 120, leaseOwner: null, leaseUntil: null, errors: 0 },
    { sourceId: 'other-source', cursor: null, version: 0, lastError: 'GET /events answered 502', units: 0, errors: 2 },
  ])
  const metrics = (await plane.call('GET', '/metrics')).body
  t.match(metrics, /leakgate_cp_public_source_scanned_units\{source="github-events"\} 3/)
  t.match(metrics, /leakgate_cp_public_source_scanned_bytes\{source="github-events"\} 120/)
  t.match(metrics, /leakgate_cp_public_source_lag_seconds\{source="github-events"\} 7/)
  t.match(metrics, /leakgate_cp_public_source_rate_limit_remaining\{source="github-events"\} 4999/)
  t.match(metrics, /leakgate_cp_public_source_failing\{source="github-events"\} 0/)
  t.match(metrics, /leakgate_cp_public_source_failing\{source="other-source"\} 1/)
  t.match(metrics, /leakgate_cp_public_source_errors\{source="other-source"\} 2/)
  t.match(metrics, /leakgate_cp_public_source_errors\{source="github-events"\} 0/)
})

t.test('a leak\'s public places: each place its token was seen at, first seen first', async (t) => {
  const plane = await startPlane(t)
  const token = `acme_live_${rng.chars(40, 'abcdefghijklmnopqrstuvwxyz0123456789')}`
  await plane.store.issuedHashes.add([sha256Hex(token)])
  const unit = (repo: string, line: number): PublicUnit => unitOf(`${repo}@c1:f`, `${'\n'.repeat(line - 1)}k=${token}\n`, { repo, commit: 'c1', path: 'f', link: (l) => `https://github.com/${repo}/blob/c1/f#L${l}` })
  const source: PublicSource = {
    id: 'two-places', leakSource: 'github',
    read: async () => ({ units: [unit('a/one', 3), unit('b/two', 5)], next: '1', state: {}, more: false }),
  }
  t.match(await new PublicSourceRunner(plane.store).runBatch(source), { leaksCreated: 1, leaksUpdated: 1 })
  const leak = (await plane.store.leaks.list({})).items[0]!
  t.ok(leak.riskFactors.some((f) => f.factor === 'public_source'), 'GitHub is public exposure to the risk model')
  const res = await plane.call('GET', `/v1/leaks/${leak.id}/public-places`, plane.keys.analyst)
  t.equal(res.statusCode, 200)
  t.match(res.json(), { items: [
    { sourceId: 'two-places', location: { repo: 'a/one', line: 3, url: 'https://github.com/a/one/blob/c1/f#L3' }, seenAt: /^\d{4}-/ },
    { sourceId: 'two-places', location: { repo: 'b/two', line: 5, url: 'https://github.com/b/two/blob/c1/f#L5' } },
  ] })
  t.notOk(res.body.includes(token))
  t.equal((await plane.call('GET', '/v1/leaks/999999/public-places', plane.keys.analyst)).statusCode, 404)
})
