/**
 * Two stores on one PostgreSQL database, as two replicas hold them: each announces the revisions the
 * other writes (LISTEN/NOTIFY), its own once, and after its listening connection is cut, a revision
 * written meanwhile.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import t from 'tap'
import { sha256Hex } from '../../protocol/token-hash.js'
import { tempDir, waitFor } from '../test/harness.js'
import { freshDatabase, withPostgres } from '../test/postgres.js'
import { DEFAULT_STORE_OPTIONS, Store } from './store.js'

const token = (s: string): { sha256: string; preview: string; kind: string } => ({ sha256: sha256Hex(s), preview: `${s.slice(0, 4)}…${s.slice(-4)}`, kind: 'github_pat' })

t.test('stores on one database announce each other\'s revisions, their own once', withPostgres, async (t) => {
  const databaseUrl = await freshDatabase(t)
  const open = async (): Promise<{ store: Store; heard: number[] }> => {
    const store = await Store.openConfigured({ dataDir: tempDir(t), databaseUrl }, DEFAULT_STORE_OPTIONS)
    t.teardown(() => store.close())
    const heard: number[] = []
    store.onRevision((revision) => heard.push(revision))
    return { store, heard }
  }
  const a = await open()
  const b = await open()

  await a.store.leaks.create({ source: 'manual', tokens: [token('first-replica-token-1')] }, 'key_test')
  await waitFor('B to hear revision 1', () => b.heard.includes(1), 5000)
  await b.store.leaks.create({ source: 'manual', tokens: [token('second-replica-token-2')] }, 'key_test')
  await waitFor('A to hear revision 2', () => a.heard.includes(2), 5000)
  // Both notifications have reached both stores by now; a second announcement would follow them.
  await sleep(300)
  t.same(a.heard, [1, 2], 'A announced its own revision once, and B\'s')
  t.same(b.heard, [1, 2], 'B announced A\'s revision, and its own once')

  // Cut every LISTEN connection on the database: a write committed while they reconnect sends a
  // notification nobody hears, and the stores must find its revision by reading it again.
  const admin = new pg.Client({ connectionString: databaseUrl })
  await admin.connect()
  t.teardown(() => admin.end())
  const cut = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'")
  t.equal(cut.rowCount, 2, 'two listening connections cut')
  await a.store.leaks.create({ source: 'manual', tokens: [token('third-replica-token-3')] }, 'key_test')
  await waitFor('B to hear revision 3 after its connection came back', () => b.heard.includes(3), 10_000)
  t.same(b.heard, [1, 2, 3], 'B announced the revision written while it was not listening')
})
