import t from 'tap'
import { sha256Hex } from '../../protocol/token-hash.js'
import { openTestStore, sqliteOnly, storeSql, tempDir } from '../test/harness.js'
import { openSqlite } from './sqlite.js'
import { MIGRATIONS } from './migrations.js'
import { DEFAULT_STORE_OPTIONS } from './store.js'

const token = (s: string): { sha256: string; preview: string; kind: string } => ({ sha256: sha256Hex(s), preview: `${s.slice(0, 4)}…${s.slice(-4)}`, kind: 'github_pat' })

t.test('upsertFromFindings: a rescan updates the leak instead of duplicating it', async (t) => {
  const store = await openTestStore(t, tempDir(t))
  t.teardown(() => store.close())
  const revisions: number[] = []
  store.onRevision((r) => revisions.push(r))
  const group = {
    source: 'github', kind: 'github_pat', fingerprint: 'fp-1',
    location: { repo: 'acme/api', path: '.env', line: 3, url: 'https://github.com/acme/api/blob/abc/.env#L3' },
    tokens: [token('ghp_firstfirstfirstfirst')], inHistoryOnly: true, exposedAt: '2026-01-01T00:00:00.000Z',
  }
  const first = await store.leaks.upsertFromFindings(group, 'scanner')
  t.equal(first.created, true)
  t.equal(first.leak.title, 'github_pat in acme/api .env')
  t.ok(first.leak.riskFactors.some((f) => f.factor === 'history_only'))
  t.ok(first.leak.riskFactors.some((f) => f.factor === 'old_exposure'))
  t.same(revisions, [1])

  const again = await store.leaks.upsertFromFindings(group, 'scanner')
  t.equal(again.created, false)
  t.equal(again.leak.id, first.leak.id)
  t.same(revisions, [1], 'nothing changed for the nodes')

  const more = await store.leaks.upsertFromFindings({ ...group, tokens: [token('ghp_secondsecondsecond')], inHistoryOnly: false }, 'scanner')
  t.equal(more.created, false)
  t.equal(more.leak.tokenCount, 2, 'a new token of the same exposure joins the leak')
  t.ok(more.leak.riskFactors.some((f) => f.factor === 'still_present'), 'present now that a finding is in the tree')
  t.same(revisions, [1, 2])
  t.equal((await store.leaks.list({})).total, 1)

  // Without a fingerprint, source + location + tokens identify the exposure.
  const { fingerprint: _fp, ...noFingerprint } = group
  const a = await store.leaks.upsertFromFindings(noFingerprint, 'scanner')
  const b = await store.leaks.upsertFromFindings(noFingerprint, 'scanner')
  t.equal(a.created, true)
  t.equal(b.created, false)
  t.equal(a.leak.id, b.leak.id)

  // The operator's status stays: a closed leak found again is not reopened by a rescan.
  await store.leaks.decide(first.leak.id, { status: 'closed' }, 'key_test')
  const rescanned = await store.leaks.upsertFromFindings(group, 'scanner')
  t.equal(rescanned.leak.status, 'closed')
})

t.test('the store survives reopening: migrations once, revision and data kept', async (t) => {
  const dir = tempDir(t)
  const first = await openTestStore(t, dir, DEFAULT_STORE_OPTIONS)
  const leak = await first.leaks.create({ source: 'manual', tokens: [token('abcd-efgh-ijkl-mnop')] }, 'key_test')
  await first.leaks.decide(leak.id, { action: 'block' }, 'key_test')
  t.equal(await first.index.revision(), 2)
  await first.close()
  const second = await openTestStore(t, dir, DEFAULT_STORE_OPTIONS)
  t.teardown(() => second.close())
  t.equal(await second.index.revision(), 2)
  t.equal((await second.leaks.get(leak.id))?.action, 'block')
  t.equal((await storeSql(t, second).get<{ n: number }>('SELECT count(*) AS n FROM schema_migrations'))?.n, MIGRATIONS.length)
})

t.test('the database is opened in WAL mode with synchronous = FULL', sqliteOnly, async (t) => {
  const sql = openSqlite(tempDir(t))
  t.teardown(() => sql.close())
  t.same(await sql.get('PRAGMA journal_mode'), { journal_mode: 'wal' })
  t.same(await sql.get('PRAGMA synchronous'), { synchronous: 2 }, 'synchronous = FULL')
})

t.test('a store written by a newer Leakgate is refused', async (t) => {
  const dir = tempDir(t)
  const store = await openTestStore(t, dir)
  await storeSql(t, store).run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 'now')")
  await store.close()
  await t.rejects(openTestStore(t, dir), /newer Leakgate/)
})

t.test('writes nested in store.write are announced once, after the commit; a rollback announces nothing', async (t) => {
  const store = await openTestStore(t, tempDir(t))
  t.teardown(() => store.close())
  const heard: number[] = []
  store.onRevision((r) => heard.push(r))
  await t.rejects(store.write(async () => {
    await store.leaks.create({ source: 'manual', tokens: [token('rolled-back-token-1')] }, 'key_test')
    throw new Error('abort the batch')
  }), /abort the batch/)
  t.same(heard, [], 'nothing announced for a rolled-back write')
  t.equal(await store.index.revision(), 0)
  await store.write(async () => {
    await store.leaks.create({ source: 'manual', tokens: [token('batched-token-1')] }, 'key_test')
    await store.leaks.create({ source: 'manual', tokens: [token('batched-token-2')] }, 'key_test')
  })
  t.same(heard, [2], 'one announcement after the commit')
})

t.test('scans: a finished record keeps at most 10 000 findings; what a history scan left survives reopening', async (t) => {
  const dir = tempDir(t)
  const before = await openTestStore(t, dir)
  const finding = { ruleId: 'github-pat', kind: 'github_pat', file: 'a.env', line: 1, column: 1, sha256: sha256Hex('x'), preview: 'ghp_…abcd', fingerprint: 'ab'.repeat(16), inHistoryOnly: false, source: 'dir', location: { path: 'a.env', line: 1 } }
  const id = await before.scans.start({ type: 'git', url: '/srv/repo', history: true }, '2026-01-01T00:00:00.000Z')
  await before.scans.finish(id, { status: 'done', progress: { commits: 3 }, findings: Array(10_001).fill(finding), leaksCreated: 1, leaksUpdated: 0, finishedAt: '2026-01-01T00:01:00.000Z', error: null })
  await before.scans.saveState('git:/srv/repo:history', { tips: ['abc'] }, '2026-01-01T00:01:00.000Z')
  await before.close()

  const store = await openTestStore(t, dir)
  t.teardown(() => store.close())
  const record = await store.scans.get(id)
  t.match(record, { status: 'done', progress: { commits: 3 }, leaksCreated: 1, finishedAt: '2026-01-01T00:01:00.000Z' })
  t.equal(record?.findings.length, 10_000)
  t.same(await store.scans.state('git:/srv/repo:history'), { tips: ['abc'] })
  t.equal(await store.scans.state('git:/srv/other:history'), undefined)
  t.equal(await store.scans.get(id + 1), undefined)
})
