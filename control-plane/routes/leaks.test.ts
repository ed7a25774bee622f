import t from 'tap'
import { sha256Hex } from '../../protocol/token-hash.js'
import { ALPHA, Rng } from '../detect/corpus/random.js'
import { allPages, snapshotIndex, startPlane, storeSql, type TestPlane } from '../test/harness.js'

async function changes(plane: TestPlane, since: number): Promise<{ revision: number; changes: { rev: number; op: string; sha256: string; action?: string; leakId?: number }[] }> {
  const res = await plane.call('GET', `/v1/sync/changes?since=${since}`, plane.keys.node)
  if (res.statusCode !== 200) throw new Error(`changes answered ${res.statusCode}`)
  return res.json()
}

t.test('a manual leak by raw value and one by sha256 are in the snapshot and the changes', async (t) => {
  const plane = await startPlane(t)
  const raw = 'sk_live_51Habcdefghijklmnopqrstuvwx'
  const other = 'AKIAIOSFODNN7EXAMPLEKEY0'
  const otherHash = sha256Hex(other)

  const a = await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: raw }], title: 'stripe key in a ticket' })
  t.equal(a.statusCode, 201)
  const leakA = a.json()
  t.equal(a.headers.location, `/v1/leaks/${leakA.id}`)
  t.equal(leakA.source, 'manual')
  t.equal(leakA.status, 'open')
  t.equal(leakA.action, 'monitor', 'defaultAction is monitor')
  t.same(leakA.tokens, [{ sha256: sha256Hex(raw), preview: 'sk_l…uvwx', kind: null }])
  t.equal(leakA.decisions.length, 1)
  t.equal(leakA.decisions[0].from, null, 'the creation is audited with from = null')

  const b = await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ sha256: otherHash.toUpperCase(), preview: 'AKIA…KEY0' }], action: 'block' })
  t.equal(b.statusCode, 201)
  const leakB = b.json()
  t.equal(leakB.tokens[0].sha256, otherHash, 'hashes are stored lowercase')
  t.equal(leakB.action, 'block')

  const index = await snapshotIndex(plane)
  t.same(index.check(raw), { action: 'monitor', leakId: leakA.id })
  t.same(index.check(other), { action: 'block', leakId: leakB.id })
  t.equal(index.check('not-leaked-at-all'), undefined)
  t.equal(index.size, 2)

  const log = await changes(plane, 0)
  t.equal(log.revision, 2)
  t.same(log.changes, [
    { rev: 1, op: 'upsert', sha256: sha256Hex(raw), action: 'monitor', leakId: leakA.id },
    { rev: 2, op: 'upsert', sha256: otherHash, action: 'block', leakId: leakB.id },
  ])
  t.same(await changes(plane, 2), { revision: 2, changes: [] })
})

t.test('decisions move the index entries, are audited, and closing or reopening leaves or rejoins the index', async (t) => {
  const plane = await startPlane(t)
  const raw = 'ghp_0123456789abcdefghijklmnopqrstuvwxyz'
  const created = (await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: raw }], kind: 'github_pat' })).json()
  const id = created.id as number

  const steps: [Record<string, string>, { action: string; leakId: number } | undefined][] = [
    [{ action: 'block', comment: 'rotating' }, { action: 'block', leakId: id }],
    [{ action: 'monitor' }, { action: 'monitor', leakId: id }],
    [{ status: 'closed', comment: 'rotated' }, undefined],
    [{ status: 'open' }, { action: 'monitor', leakId: id }],
    [{ status: 'false_positive' }, undefined],
    [{ status: 'open', action: 'block' }, { action: 'block', leakId: id }],
  ]
  for (const [body, expected] of steps) {
    const res = await plane.call('PATCH', `/v1/leaks/${id}`, plane.keys.admin, body)
    t.equal(res.statusCode, 200, JSON.stringify(body))
    const index = await snapshotIndex(plane)
    t.same(index.check(raw), expected, `index after ${JSON.stringify(body)}`)
  }

  const audit = (await plane.call('GET', `/v1/audit?leakId=${id}`, plane.keys.analyst)).json()
  t.equal(audit.items.length, steps.length + 1, 'every decision and the creation')
  t.equal(audit.items[0].to.action, 'block', 'newest first')
  t.same(audit.items.at(-1).from, null)
  const rotating = audit.items.find((d: { comment: string | null }) => d.comment === 'rotating')
  t.same(rotating.from, { action: 'monitor', status: 'open', risk: created.risk })
  t.same(rotating.to, { action: 'block', status: 'open', risk: created.risk })
  t.match(rotating.actor, /^key_[0-9a-f]{8}$/)

  const log = await changes(plane, 0)
  t.same(log.changes.map((c) => c.op), ['upsert', 'upsert', 'upsert', 'delete', 'upsert', 'delete', 'upsert'])

  const noop = await plane.call('PATCH', `/v1/leaks/${id}`, plane.keys.admin, { comment: 'just a note' })
  t.equal(noop.statusCode, 400)
  t.equal(noop.json().code, 'LEAKGATE_ERR_BAD_REQUEST')
  const missing = await plane.call('PATCH', '/v1/leaks/999', plane.keys.admin, { action: 'block' })
  t.equal(missing.statusCode, 404)
  t.equal(missing.json().code, 'LEAKGATE_ERR_NOT_FOUND')
})

t.test('a token already in an open leak is linked, not duplicated; the index prefers a blocking leak', async (t) => {
  const plane = await startPlane(t)
  const raw = 'xoxb-1234567890-abcdefghijklmnop'
  const first = (await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ sha256: sha256Hex(raw) }] })).json()
  t.equal(first.tokens[0].preview, `sha256:${sha256Hex(raw).slice(0, 8)}`, 'a placeholder preview for a hash-only token')
  const second = (await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: raw }, { value: raw }], action: 'block' })).json()
  t.equal(second.tokenCount, 1, 'the same token twice in one body counts once')
  const db = storeSql(t, plane.store)
  t.equal((await db.get<{ n: number }>('SELECT count(*) AS n FROM tokens'))?.n, 1, 'one token row')
  t.equal((await db.get<{ n: number }>('SELECT count(*) AS n FROM leak_tokens'))?.n, 2, 'linked to both leaks')
  const again = (await plane.call('GET', `/v1/leaks/${first.id}`, plane.keys.analyst)).json()
  t.equal(again.tokens[0].preview, 'xoxb…mnop', 'the real preview replaced the placeholder')

  let index = await snapshotIndex(plane)
  t.same(index.check(raw), { action: 'block', leakId: second.id })
  await plane.call('PATCH', `/v1/leaks/${second.id}`, plane.keys.admin, { status: 'closed' })
  index = await snapshotIndex(plane)
  t.same(index.check(raw), { action: 'monitor', leakId: first.id }, 'the other open leak still holds it')
  await plane.call('PATCH', `/v1/leaks/${first.id}`, plane.keys.admin, { status: 'closed' })
  index = await snapshotIndex(plane)
  t.equal(index.check(raw), undefined, 'no open leak holds it: gone')
})

t.test("a search's total stops at its bound and says so; other totals are exact", async (t) => {
  // A bound of 3 stands for the control plane's 10,000, which a test cannot fill quickly.
  const plane = await startPlane(t, {}, { leakList: { searchTotalUpTo: 3 } })
  const rng = new Rng(31)
  for (const title of ['widget alpha', 'widget alpha', 'widget beta', 'widget beta', 'gadget beta']) {
    const res = await plane.call('POST', '/v1/leaks', plane.keys.admin, { title, tokens: [{ value: `tok_${rng.chars(32, ALPHA.base62)}` }] })
    t.equal(res.statusCode, 201)
  }
  const list = async (query: string): Promise<{ items: unknown[]; total: number; totalIsLowerBound: boolean }> =>
    (await plane.call('GET', `/v1/leaks?${query}`, plane.keys.analyst)).json()

  const common = await list('q=widget')
  t.same([common.total, common.totalIsLowerBound, common.items.length], [3, true, 4], 'four match: the total stops at 3 and is a lower bound; the page holds all four')
  const paged = await list('q=widget&limit=2')
  t.same([paged.total, paged.totalIsLowerBound, paged.items.length], [3, true, 2])
  const few = await list('q=widget%20alpha')
  t.same([few.total, few.totalIsLowerBound], [2, false], 'under the bound: exact')
  const atBound = await list('q=beta')
  t.same([atBound.total, atBound.totalIsLowerBound], [3, false], 'as many as the bound: exact')
  const unsearched = await list('status=open')
  t.same([unsearched.total, unsearched.totalIsLowerBound], [5, false], 'without a search the total is exact, whatever the bound')
})

t.test('risk: computed with factors, an override is kept and marked, autoBlockRisk blocks new leaks', async (t) => {
  const plane = await startPlane(t, { autoBlockRisk: 'high' })
  const low = (await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: 'test_token_for_sandbox_1234' }], kind: 'stripe_test' })).json()
  t.equal(low.risk, 'low')
  t.equal(low.action, 'monitor')
  t.ok(low.riskFactors.some((f: { factor: string }) => f.factor === 'test_token'))

  const high = (await plane.call('POST', '/v1/leaks', plane.keys.admin, {
    tokens: [{ value: 'ghp_liveliveliveliveliveliveliveliveli' }], kind: 'github_pat', source: 'github',
    location: { repo: 'acme/api', path: '.env', line: 3 },
  })).json()
  t.equal(high.risk, 'high')
  t.equal(high.action, 'block', 'autoBlockRisk high blocks a high leak at creation')
  t.equal(high.title, 'github_pat in acme/api .env')

  const patched = (await plane.call('PATCH', `/v1/leaks/${low.id}`, plane.keys.admin, { risk: 'critical', comment: 'prod after all' })).json()
  t.equal(patched.risk, 'critical')
  t.equal(patched.riskOverridden, true)
  t.ok(patched.riskFactors.some((f: { factor: string }) => f.factor === 'operator_override'))
  t.ok(patched.riskFactors.some((f: { factor: string }) => f.factor === 'test_token'), 'computed factors stay beside the override')
})

t.test('listing: filters, q, sort and cursor paging', async (t) => {
  const plane = await startPlane(t)
  for (let i = 0; i < 7; i++) {
    const res = await plane.call('POST', '/v1/leaks', plane.keys.admin, {
      title: `leak number ${i}`, source: i % 2 === 0 ? 'github' : 'manual', tokens: [{ value: `token-value-number-${i}-abcdef` }],
      ...(i === 3 ? { location: { repo: 'Acme/Widgets' } } : {}),
    })
    t.equal(res.statusCode, 201)
  }
  const pages = await allPages(plane, '/v1/leaks?limit=3', plane.keys.analyst)
  for (const page of pages) t.equal(page.total, 7)
  const seen = pages.flatMap((page) => (page.items as Array<{ id: number }>).map((l) => l.id))
  t.equal(pages.length, 3)
  t.same(seen, [7, 6, 5, 4, 3, 2, 1], 'newest first, each once')

  const asc = (await plane.call('GET', '/v1/leaks?sort=title&order=asc&limit=2', plane.keys.analyst)).json()
  t.same(asc.items.map((l: { title: string }) => l.title), ['leak number 0', 'leak number 1'])
  const wrongCursor = await plane.call('GET', `/v1/leaks?sort=hits&cursor=${asc.nextCursor}`, plane.keys.analyst)
  t.equal(wrongCursor.statusCode, 400, 'a cursor of another sort is refused')

  const github = (await plane.call('GET', '/v1/leaks?source=github', plane.keys.analyst)).json()
  t.equal(github.total, 4)
  const q = (await plane.call('GET', '/v1/leaks?q=acme%2Fwidg', plane.keys.analyst)).json()
  t.same(q.items.map((l: { id: number }) => l.id), [4], 'q matches location, case-insensitively')
  const byPreview = (await plane.call('GET', '/v1/leaks?q=toke', plane.keys.analyst)).json()
  t.equal(byPreview.total, 7, 'q matches token previews')

  const stats = (await plane.call('GET', '/v1/stats', plane.keys.analyst)).json()
  t.equal(stats.total, 7)
  t.same(stats.bySource, { github: 4, manual: 3 })
  t.same(stats.byStatus, { open: 7, closed: 0, false_positive: 0 })
  await plane.call('PATCH', '/v1/leaks/1', plane.keys.admin, { status: 'closed' })
  const open = (await plane.call('GET', '/v1/stats', plane.keys.analyst)).json()
  t.equal(open.total, 6)
  t.same(open.byStatus, { open: 6, closed: 1, false_positive: 0 })
  t.equal((await plane.call('GET', '/v1/stats?status=all', plane.keys.analyst)).json().total, 7)
})
