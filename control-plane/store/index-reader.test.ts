import t, { type Test } from 'tap'
import { freshDatabase, withPostgres } from '../test/postgres.js'
import { storeSql, tempDir } from '../test/harness.js'
import type { IndexEntry } from './index-log.js'
import { openIndexReader } from './index-reader.js'
import type { Sql } from './sql.js'
import { Store } from './store.js'

/** Past the sync's worker threshold (100 000 entries), and more than one cursor batch. */
const ENTRIES = 120_000

/** The i-th made-up entry's hash: 64 hex digits, the same text on both engines. */
const hashOf = (i: number): string => i.toString(16).padStart(64, '0')

/** Fills the index with ENTRIES entries at revision 7, in one statement (the repositories would take minutes). */
async function fill(sql: Sql): Promise<void> {
  await sql.transaction(async () => {
    await sql.run(sql.dialect === 'postgres'
      ? "INSERT INTO index_entries (sha256, action, leak_id) SELECT lpad(to_hex(i), 64, '0'), 'block', i FROM generate_series(1, ?) AS s(i)"
      : "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?) INSERT INTO index_entries (sha256, action, leak_id) SELECT printf('%064x', i), 'block', i FROM s", [ENTRIES])
    await sql.run("UPDATE meta SET value = 7 WHERE key = 'revision'")
  })
}

async function readerTest(t: Test, store: Store): Promise<void> {
  const sql = storeSql(t, store)
  await fill(sql)
  const reader = openIndexReader(store.location)
  t.teardown(() => reader.close())

  const seen = await reader.read(async (revision, entries) => {
    const it = Symbol.asyncIterator in entries ? entries[Symbol.asyncIterator]() : entries[Symbol.iterator]()
    const got: IndexEntry[] = []
    const first = await it.next()
    if (first.done !== true) got.push(first.value)
    // Another writer changes everything while the reader is midway: the reader must not see it.
    await sql.transaction(async () => {
      await sql.run('DELETE FROM index_entries')
      await sql.run("INSERT INTO index_entries (sha256, action, leak_id) VALUES (?, 'monitor', 1)", ['f'.repeat(64)])
      await sql.run("UPDATE meta SET value = 8 WHERE key = 'revision'")
    })
    for (let next = await it.next(); next.done !== true; next = await it.next()) got.push(next.value)
    return { revision, got }
  })
  t.equal(seen.revision, 7, 'the revision when the read began')
  t.equal(seen.got.length, ENTRIES, 'every entry at that revision, none of the later writes')
  const hashes = new Set(seen.got.map((e) => e.sha256))
  t.equal(hashes.size, ENTRIES, 'each entry once')
  t.ok(hashes.has(hashOf(1)) && hashes.has(hashOf(ENTRIES)) && !hashes.has('f'.repeat(64)), 'the first and last, not the later one')
  t.same(seen.got.find((e) => e.sha256 === hashOf(4242)), { sha256: hashOf(4242), action: 'block', leakId: 4242 }, 'an entry as stored, its leak id a number')

  const after = await reader.read(async (revision, entries) => {
    const got: IndexEntry[] = []
    if (Symbol.asyncIterator in entries) for await (const e of entries) got.push(e)
    else for (const e of entries) got.push(e)
    return { revision, got }
  })
  t.same(after, { revision: 8, got: [{ sha256: 'f'.repeat(64), action: 'monitor', leakId: 1 }] }, 'the next read sees the later revision')
}

t.test('SQLite: a large index read at one revision while another connection rewrites it', async (t) => {
  const store = await Store.open(tempDir(t))
  t.teardown(() => store.close())
  await readerTest(t, store)
})

t.test('PostgreSQL: a large index read at one revision while another connection rewrites it', withPostgres, async (t) => {
  const store = await Store.openConfigured({ dataDir: tempDir(t), databaseUrl: await freshDatabase(t) })
  t.teardown(() => store.close())
  await readerTest(t, store)
})
