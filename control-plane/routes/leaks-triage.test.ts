/**
 * Triage at scale through the API: bulk decisions (by ids, by a confirmed filter), the list's total and
 * facets, the CSV export, and the index revision a decision answers with.
 */
import t from 'tap'
import { sha256Hex } from '../../protocol/token-hash.js'
import { ALPHA, Rng } from '../detect/corpus/random.js'
import { startPlane, type TestPlane } from '../test/harness.js'

const rng = new Rng(20261202)
/** A fresh random token value (never a literal in the repository). */
const token = (prefix: string): string => `${prefix}${rng.chars(30, ALPHA.base62)}`

async function addLeak(plane: TestPlane, over: Record<string, unknown> = {}): Promise<{ id: number; value: string }> {
  const value = token('tk_')
  const res = await plane.call('POST', '/v1/leaks', plane.keys.admin, { title: 'a leak', source: 'github', kind: 'generic_api_key', tokens: [{ value }], ...over })
  if (res.statusCode !== 201) throw new Error(`adding a leak answered ${res.statusCode}: ${res.body}`)
  return { id: (res.json() as { id: number }).id, value }
}

interface AuditEntry { leakId: number; actor: string; from: { action: string; status: string } | null; to: { action: string; status: string }; comment: string | null }

async function auditOf(plane: TestPlane, leakId: number): Promise<AuditEntry[]> {
  return ((await plane.call('GET', `/v1/audit?leakId=${leakId}`, plane.keys.analyst)).json() as { items: AuditEntry[] }).items
}

t.test('a bulk decision by ids decides each leak, audits each, and reports the ones it left', async (t) => {
  const plane = await startPlane(t)
  const a = await addLeak(plane)
  const b = await addLeak(plane)
  const blocked = await addLeak(plane, { action: 'block' })
  const closed = await addLeak(plane)
  await plane.call('PATCH', `/v1/leaks/${closed.id}`, plane.keys.admin, { status: 'closed' })

  const before = (await plane.call('GET', '/v1/nodes', plane.keys.analyst)).json() as { revision: number }
  const res = await plane.call('POST', '/v1/leaks/bulk-decisions', plane.keys.admin, { ids: [a.id, b.id, blocked.id, closed.id, 999_999], action: 'block', comment: 'triage' })
  t.equal(res.statusCode, 200, res.body)
  const out = res.json() as { matched: number; changed: number[]; skipped: Array<{ id: number; reason: string; detail: string }>; revision: number }
  t.equal(out.matched, 5)
  t.same(out.changed, [a.id, b.id])
  t.same(out.skipped.map((s) => [s.id, s.reason]), [[blocked.id, 'unchanged'], [closed.id, 'not_open'], [999_999, 'not_found']])
  t.match(out.skipped[1]?.detail, /reopen it first/)
  t.ok(out.revision > before.revision, 'the answer carries the revision the blocks committed')

  for (const leak of [a, b]) {
    const detail = (await plane.call('GET', `/v1/leaks/${leak.id}`, plane.keys.analyst)).json() as { action: string }
    t.equal(detail.action, 'block', `leak ${leak.id} is blocked`)
    const entries = await auditOf(plane, leak.id)
    t.equal(entries.length, 2, 'created, then the bulk decision')
    t.match(entries[0], { actor: /^key_/, from: { action: 'monitor' }, to: { action: 'block' }, comment: 'triage' })
  }
  t.equal((await auditOf(plane, blocked.id)).length, 1, 'a leak left as it was gets no audit entry')
  const events = await plane.store.leaks.get(a.id)
  t.equal(events?.decisions.length, 2)

  // The nodes' index has the new action.
  const changes = (await plane.call('GET', `/v1/sync/changes?since=${before.revision}`, plane.keys.node)).json() as { changes: Array<{ sha256: string; action?: string }> }
  t.same(new Set(changes.changes.map((c) => c.sha256)), new Set([sha256Hex(a.value), sha256Hex(b.value)]))

  // An analyst may not; a body must say which leaks, and what.
  t.equal((await plane.call('POST', '/v1/leaks/bulk-decisions', plane.keys.analyst, { ids: [a.id], action: 'monitor' })).statusCode, 403)
  t.equal((await plane.call('POST', '/v1/leaks/bulk-decisions', plane.keys.admin, { ids: [a.id] })).statusCode, 400)
  t.equal((await plane.call('POST', '/v1/leaks/bulk-decisions', plane.keys.admin, { action: 'monitor' })).statusCode, 400)
  t.equal((await plane.call('POST', '/v1/leaks/bulk-decisions', plane.keys.admin, { filter: {}, action: 'monitor' })).statusCode, 400, 'a filter needs its confirmed count')
  const tooMany = await plane.call('POST', '/v1/leaks/bulk-decisions', plane.keys.admin, { ids: Array.from({ length: 10_001 }, (_, i) => i + 1), action: 'monitor' })
  t.equal(tooMany.statusCode, 400, 'more ids than one request takes')
})

t.test('a bulk decision by filter applies only when the filter still matches the confirmed count', async (t) => {
  const plane = await startPlane(t)
  const paste = [await addLeak(plane, { source: 'paste' }), await addLeak(plane, { source: 'paste' })]
  const other = await addLeak(plane, { source: 'gitlab' })

  const stale = await plane.call('POST', '/v1/leaks/bulk-decisions', plane.keys.admin, { filter: { source: 'paste' }, expectedCount: 3, status: 'false_positive' })
  t.equal(stale.statusCode, 409)
  t.equal(stale.json().code, 'LEAKGATE_ERR_BULK_COUNT_CHANGED')
  for (const leak of paste) t.equal((await auditOf(plane, leak.id)).length, 1, 'nothing changed')

  const ok = await plane.call('POST', '/v1/leaks/bulk-decisions', plane.keys.admin, { filter: { source: 'paste' }, expectedCount: 2, status: 'false_positive' })
  t.equal(ok.statusCode, 200, ok.body)
  t.same(ok.json().changed, paste.map((l) => l.id))
  const list = (await plane.call('GET', '/v1/leaks?status=false_positive', plane.keys.analyst)).json() as { items: Array<{ id: number }>; total: number }
  t.equal(list.total, 2)
  t.equal((await plane.call('GET', `/v1/leaks/${other.id}`, plane.keys.analyst)).json().status, 'open', 'a leak outside the filter stays')

  // Reopen them all again: the reverse decision, audited too.
  const back = await plane.call('POST', '/v1/leaks/bulk-decisions', plane.keys.admin, { ids: paste.map((l) => l.id), status: 'open' })
  t.same(back.json().changed, paste.map((l) => l.id))
  t.equal((await auditOf(plane, paste[0]?.id ?? 0)).length, 3)
})

t.test('the list answers its total; facets list the sources and kinds with counts', async (t) => {
  const plane = await startPlane(t)
  for (let i = 0; i < 3; i++) await addLeak(plane, { source: 'github', kind: 'github_pat' })
  await addLeak(plane, { source: 'paste', kind: 'stripe_secret_key' })
  const noKind = await plane.call('POST', '/v1/leaks', plane.keys.admin, { source: 'paste', tokens: [{ value: token('nk_') }] })
  t.equal(noKind.statusCode, 201)

  const page = (await plane.call('GET', '/v1/leaks?limit=2', plane.keys.analyst)).json() as { items: unknown[]; total: number }
  t.equal(page.items.length, 2)
  t.equal(page.total, 5, 'the total counts every match, not the page')
  t.equal((await plane.call('GET', '/v1/leaks?source=github&limit=1', plane.keys.analyst)).json().total, 3)

  const facets = await plane.call('GET', '/v1/leaks/facets', plane.keys.analyst)
  t.equal(facets.statusCode, 200)
  t.same(facets.json(), {
    sources: [{ value: 'github', count: 3 }, { value: 'paste', count: 2 }],
    kinds: [{ value: 'github_pat', count: 3 }, { value: 'stripe_secret_key', count: 1 }],
  })
  t.equal((await plane.call('GET', '/v1/leaks/facets')).statusCode, 401)
})

t.test('the CSV export streams every matching leak, with hash prefixes and no token, formulas escaped', async (t) => {
  const plane = await startPlane(t)
  const planted = await addLeak(plane, { title: '=HYPERLINK("http://evil.example","x")', source: 'paste', kind: 'stripe_secret_key' })
  const other = await addLeak(plane, { title: '@SUM(1,2)', source: 'paste' })
  const outside = await addLeak(plane, { title: 'elsewhere', source: 'github' })
  for (let i = 0; i < 1100; i++) await plane.store.leaks.create({ source: 'bulk', tokens: [{ sha256: sha256Hex(`bulk-${i}`), preview: `sha256:${i}` }] }, 'test')

  const res = await plane.call('GET', '/v1/leaks/export.csv?source=paste', plane.keys.analyst)
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/csv/)
  t.match(res.headers['content-disposition'], /attachment; filename="leaks-\d{4}-\d{2}-\d{2}\.csv"/)
  t.equal(res.headers['cache-control'], 'no-store')
  const lines = res.body.trimEnd().split('\r\n')
  t.equal(lines[0], 'id,title,kind,source,risk,state,decision,rotation,hits,first_seen,last_seen,fingerprint,token_hash_prefixes')
  t.equal(lines.length, 3, 'the header and the two paste leaks')
  t.match(lines[1], new RegExp(`^${planted.id},"'=HYPERLINK\\(""http://evil\\.example"",""x""\\)",stripe_secret_key,paste,`))
  t.match(lines[2], new RegExp(`^${other.id},"'@SUM\\(1,2\\)",`))
  t.ok(lines[1]?.endsWith(`,${sha256Hex(planted.value).slice(0, 16)}`), 'the token as its hash prefix')
  for (const leak of [planted, other, outside]) t.notOk(res.body.includes(leak.value), 'no raw token in the export')
  t.notOk(res.body.includes(sha256Hex(planted.value)), 'nor a whole hash')

  const all = await plane.call('GET', '/v1/leaks/export.csv', plane.keys.analyst)
  t.equal(all.body.trimEnd().split('\r\n').length, 1 + 1103, 'every leak, past the first batch, not only a page')
  t.equal((await plane.call('GET', '/v1/leaks/export.csv?status=nope', plane.keys.analyst)).statusCode, 400)
  t.equal((await plane.call('GET', '/v1/leaks/export.csv')).statusCode, 401)
})

t.test('a decision answers the index revision it committed', async (t) => {
  const plane = await startPlane(t)
  const leak = await addLeak(plane)
  const before = (await plane.call('GET', '/v1/nodes', plane.keys.analyst)).json() as { revision: number }
  const res = await plane.call('PATCH', `/v1/leaks/${leak.id}`, plane.keys.admin, { action: 'block' })
  t.equal(res.statusCode, 200)
  const body = res.json() as { action: string; revision: number }
  t.equal(body.action, 'block')
  t.equal(body.revision, before.revision + 1, 'one index change: the token now blocks')
  const after = (await plane.call('GET', '/v1/nodes', plane.keys.analyst)).json() as { revision: number }
  t.equal(after.revision, body.revision)
  t.equal((await plane.call('GET', `/v1/leaks/${leak.id}`, plane.keys.analyst)).json().revision, undefined, 'reading a leak carries no revision')
})
