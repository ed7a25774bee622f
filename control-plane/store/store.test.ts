import t from 'tap'
import { sha256Hex } from '../../protocol/token-hash.js'
import { storeFile, tempDir } from '../test/harness.js'
import { openDatabase } from './db.js'
import { MIGRATIONS } from './migrations.js'
import { DEFAULT_STORE_OPTIONS, Store } from './store.js'

const token = (s: string): { sha256: string; preview: string; kind: string } => ({ sha256: sha256Hex(s), preview: `${s.slice(0, 4)}…${s.slice(-4)}`, kind: 'github_pat' })

t.test('upsertFromFindings: a rescan updates the leak instead of duplicating it', async (t) => {
  const store = Store.open(tempDir(t))
  t.teardown(() => store.close())
  const revisions: number[] = []
  store.onRevision((r) => revisions.push(r))
  const group = {
    source: 'github', kind: 'github_pat', fingerprint: 'fp-1',
    location: { repo: 'acme/api', path: '.env', line: 3, url: 'https://github.com/acme/api/blob/abc/.env#L3' },
    tokens: [token('ghp_firstfirstfirstfirst')], inHistoryOnly: true, exposedAt: '2026-01-01T00:00:00.000Z',
  }
  const first = store.leaks.upsertFromFindings(group, 'scanner')
  t.equal(first.created, true)
  t.equal(first.leak.title, 'github_pat in acme/api .env')
  t.ok(first.leak.riskFactors.some((f) => f.factor === 'history_only'))
  t.ok(first.leak.riskFactors.some((f) => f.factor === 'old_exposure'))
  t.same(revisions, [1])

  const again = store.leaks.upsertFromFindings(group, 'scanner')
  t.equal(again.created, false)
  t.equal(again.leak.id, first.leak.id)
  t.same(revisions, [1], 'nothing changed for the nodes')

  const more = store.leaks.upsertFromFindings({ ...group, tokens: [token('ghp_secondsecondsecond')], inHistoryOnly: false }, 'scanner')
  t.equal(more.created, false)
  t.equal(more.leak.tokenCount, 2, 'a new token of the same exposure joins the leak')
  t.ok(more.leak.riskFactors.some((f) => f.factor === 'still_present'), 'present now that a finding is in the tree')
  t.same(revisions, [1, 2])
  t.equal(store.leaks.list({}).total, 1)

  // Without a fingerprint, source + location + tokens identify the exposure.
  const { fingerprint: _fp, ...noFingerprint } = group
  const a = store.leaks.upsertFromFindings(noFingerprint, 'scanner')
  const b = store.leaks.upsertFromFindings(noFingerprint, 'scanner')
  t.equal(a.created, true)
  t.equal(b.created, false)
  t.equal(a.leak.id, b.leak.id)

  // The operator's status stays: a closed leak found again is not reopened by a rescan.
  store.leaks.decide(first.leak.id, { status: 'closed' }, 'key_test')
  const rescanned = store.leaks.upsertFromFindings(group, 'scanner')
  t.equal(rescanned.leak.status, 'closed')
})

t.test('the store survives reopening: migrations once, revision and data kept', async (t) => {
  const dir = tempDir(t)
  const first = Store.open(dir, DEFAULT_STORE_OPTIONS)
  const leak = first.leaks.create({ source: 'manual', tokens: [token('abcd-efgh-ijkl-mnop')] }, 'key_test')
  first.leaks.decide(leak.id, { action: 'block' }, 'key_test')
  t.equal(first.index.revision(), 2)
  first.close()
  const second = Store.open(dir, DEFAULT_STORE_OPTIONS)
  t.teardown(() => second.close())
  t.equal(second.index.revision(), 2)
  t.equal(second.leaks.get(leak.id)?.action, 'block')
  t.equal(storeFile(t, second).prepare('SELECT count(*) FROM schema_migrations').pluck().get(), MIGRATIONS.length)
})

t.test('the database is opened in WAL mode with synchronous = FULL', async (t) => {
  const db = openDatabase(tempDir(t))
  t.teardown(() => db.close())
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal')
  t.equal(db.pragma('synchronous', { simple: true }), 2, 'synchronous = FULL')
})

t.test('a store written by a newer Leakgate is refused', async (t) => {
  const dir = tempDir(t)
  const store = Store.open(dir)
  storeFile(t, store).prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 'now')").run()
  store.close()
  t.throws(() => Store.open(dir), /newer Leakgate/)
})

t.test('writes nested in store.write are announced once, after the commit; a rollback announces nothing', async (t) => {
  const store = Store.open(tempDir(t))
  t.teardown(() => store.close())
  const heard: number[] = []
  store.onRevision((r) => heard.push(r))
  t.throws(() => store.write(() => {
    store.leaks.create({ source: 'manual', tokens: [token('rolled-back-token-1')] }, 'key_test')
    throw new Error('abort the batch')
  }), /abort the batch/)
  t.same(heard, [], 'nothing announced for a rolled-back write')
  t.equal(store.index.revision(), 0)
  store.write(() => {
    store.leaks.create({ source: 'manual', tokens: [token('batched-token-1')] }, 'key_test')
    store.leaks.create({ source: 'manual', tokens: [token('batched-token-2')] }, 'key_test')
  })
  t.same(heard, [2], 'one announcement after the commit')
})

t.test('scans: a finished record keeps at most 10 000 findings; what a history scan left survives reopening', async (t) => {
  const dir = tempDir(t)
  const before = Store.open(dir)
  const finding = { ruleId: 'github-pat', kind: 'github_pat', file: 'a.env', line: 1, column: 1, sha256: sha256Hex('x'), preview: 'ghp_…abcd', fingerprint: 'ab'.repeat(16), inHistoryOnly: false, source: 'dir', location: { path: 'a.env', line: 1 } }
  const id = before.scans.start({ type: 'git', url: '/srv/repo', history: true }, '2026-01-01T00:00:00.000Z')
  before.scans.finish(id, { status: 'done', progress: { commits: 3 }, findings: Array(10_001).fill(finding), leaksCreated: 1, leaksUpdated: 0, finishedAt: '2026-01-01T00:01:00.000Z', error: null })
  before.scans.saveState('git:/srv/repo:history', { tips: ['abc'] }, '2026-01-01T00:01:00.000Z')
  before.close()

  const store = Store.open(dir)
  t.teardown(() => store.close())
  const record = store.scans.get(id)
  t.match(record, { status: 'done', progress: { commits: 3 }, leaksCreated: 1, finishedAt: '2026-01-01T00:01:00.000Z' })
  t.equal(record?.findings.length, 10_000)
  t.same(store.scans.state('git:/srv/repo:history'), { tips: ['abc'] })
  t.equal(store.scans.state('git:/srv/other:history'), undefined)
  t.equal(store.scans.get(id + 1), undefined)
})
