import t from 'tap'
import { sha256Hex } from '../../protocol/token-hash.js'
import { tempDir, type Teardown } from '../test/harness.js'
import { freshDatabase, withPostgres } from '../test/postgres.js'
import { PostgresSql } from './postgres.js'
import { Store } from './store.js'

/** Titles and node ids whose order differs between a language's collation and bytes. */
const NAMES = ['b', 'A', 'a', 'B', '_z', 'Zeta', 'alpha-2', 'alpha 1', 'alpha1', 'ÄB', 'é', 'e', 'E', '~x', '10', '9', 'a.b', 'a-b', 'ab', 'AB', 'a_b']

/** UTF-8 byte order: how SQLite compares text. */
const byBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b))

/**
 * CREATE DATABASE options that give a language's collation: the machine's en_US locale when it has
 * one, else ICU's (PostgreSQL 15+ built with ICU, as Debian's is).
 */
const NON_C_COLLATIONS = [
  "TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'en_US.UTF-8' LC_CTYPE 'en_US.UTF-8'",
  "TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US'",
]

/** A fresh database sorting by en-US rules, or the reason there can be none on this cluster. */
async function nonCDatabase(t: Teardown): Promise<{ url: string } | { reason: string }> {
  const failures: string[] = []
  for (const options of NON_C_COLLATIONS) {
    try {
      return { url: await freshDatabase(t, options) }
    } catch (err) {
      failures.push(`${options}: ${(err as Error).message}`)
    }
  }
  return { reason: `the cluster can make no database with a non-C collation (${failures.join('; ')})` }
}

/** Every title of the leak list sorted by title, read through pages of `limit` with their cursors. */
async function titlesByPages(store: Store, order: 'asc' | 'desc', limit: number): Promise<string[]> {
  const titles: string[] = []
  let cursor: string | undefined
  for (;;) {
    const page = await store.leaks.list({ sort: 'title', order, limit, ...(cursor === undefined ? {} : { cursor }) })
    titles.push(...page.items.map((l) => l.title))
    if (page.nextCursor === null) return titles
    cursor = page.nextCursor
  }
}

/** Every node id of the fleet list, read through pages of `limit`. */
async function nodeIdsByPages(store: Store, limit: number): Promise<string[]> {
  const ids: string[] = []
  let cursor: string | undefined
  for (;;) {
    const page = await store.nodes.list(limit, cursor)
    ids.push(...page.items.map((n) => n.id))
    if (page.nextCursor === null) return ids
    cursor = page.nextCursor
  }
}

async function fill(store: Store): Promise<void> {
  for (const [i, name] of NAMES.entries()) {
    await store.leaks.create({ title: name, source: 'manual', tokens: [{ sha256: sha256Hex(`collation-${i}`), preview: `t${i}…` }] }, 'key_test')
    await store.nodes.claim(name, { keyId: 'key_admin', bound: false }, { maxNodes: 1000, pruneSeconds: 3600 })
  }
}

t.test('lists sort as SQLite does on a PostgreSQL database with a language collation', withPostgres, async (t) => {
  const db = await nonCDatabase(t)
  if ('reason' in db) {
    t.plan(0, db.reason)
    return
  }
  const probe = new PostgresSql(db.url, { max: 1 })
  const sorted = await probe.all<{ x: string }>("SELECT x FROM (VALUES ('a'), ('B')) v(x) ORDER BY x")
  await probe.close()
  t.same(sorted.map((r) => r.x), ['a', 'B'], 'the database itself sorts by language rules ("a" before "B"), unlike bytes')

  const lite = await Store.open(tempDir(t))
  t.teardown(() => lite.close())
  const pg = await Store.openConfigured({ dataDir: tempDir(t), databaseUrl: db.url })
  t.teardown(() => pg.close())
  await fill(lite)
  await fill(pg)

  const expected = [...NAMES].sort(byBytes)
  for (const limit of [100, 4]) {
    t.same(await titlesByPages(lite, 'asc', limit), expected, `SQLite: titles in byte order (pages of ${limit})`)
    t.same(await titlesByPages(pg, 'asc', limit), expected, `PostgreSQL: titles in byte order (pages of ${limit})`)
    t.same(await titlesByPages(pg, 'desc', limit), [...expected].reverse(), `PostgreSQL: descending too (pages of ${limit})`)
    t.same(await nodeIdsByPages(pg, limit), await nodeIdsByPages(lite, limit), `node ids in the same order (pages of ${limit})`)
  }
  t.same(await nodeIdsByPages(pg, 5), expected)

  const sql = new PostgresSql(db.url, { max: 1 })
  t.teardown(() => sql.close())
  const notC = await sql.all<{ col: string }>(`
    SELECT c.relname || '.' || a.attname AS col FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
      AND a.atttypid = 'text'::regtype AND a.attcollation <> 'pg_catalog."C"'::regcollation`)
  t.same(notC, [], 'every text column of the store compares as bytes')
})

