import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import t, { type Test } from 'tap'
import { StoreImportError } from '../../lib/errors.js'
import { ALPHA, Rng } from '../detect/corpus/random.js'
import { exportMain, importMain, migrate as migrateMain } from '../store-cli.js'
import { runMain, startPlane, tempDir } from '../test/harness.js'
import { freshDatabase, withPostgres } from '../test/postgres.js'
import { migrate } from './db.js'
import { LATEST_SCHEMA_VERSION } from './migrations.js'
import { PostgresSql } from './postgres.js'
import { DB_FILE, SqliteSql } from './sqlite.js'
import { exportStore, importStore, STORE_TABLES, storeTableNames, tableCounts } from './transfer.js'

const rng = new Rng(1313)

/** A store with a row in every table it can reach through the API, and the raw secrets planted in it. */
async function plantedStore(t: Test): Promise<{ dir: string; secrets: string[] }> {
  const plane = await startPlane(t)
  const secrets: string[] = [plane.keys.admin, plane.keys.analyst, plane.keys.node]
  for (let i = 0; i < 3; i++) {
    const token = `lgtest_${rng.chars(36, ALPHA.base62)}`
    secrets.push(token)
    const res = await plane.call('POST', '/v1/leaks', plane.keys.admin, { title: `planted ${i}`, tokens: [{ value: token }] })
    t.equal(res.statusCode, 201)
    const id = (res.json() as { id: number }).id
    if (i === 0) t.equal((await plane.call('PATCH', `/v1/leaks/${id}`, plane.keys.admin, { action: 'block', comment: 'rotate it' })).statusCode, 200)
    t.equal((await plane.call('POST', '/v1/nodes/heartbeat', plane.keys.node, { nodeId: 'edge-1', version: '0.1.0', revision: 1 })).statusCode, 204)
    t.equal((await plane.call('POST', '/v1/sightings', plane.keys.node, { nodeId: 'edge-1', sightings: [{ leakId: id, at: '2026-11-28T10:00:00Z', host: 'api.example', method: 'GET', route: '/', verdict: 'monitor' }] })).statusCode, 202)
  }
  return { dir: plane.dir, secrets }
}

/** An export file's lines, from the CLI. */
async function exportFile(t: Test, args: string[]): Promise<{ file: string; text: string }> {
  const file = join(tempDir(t), 'store.ndjson')
  const res = await runMain(exportMain, [...args, file])
  t.equal(res.code, 0, res.err)
  return { file, text: readFileSync(file, 'utf8') }
}

t.test('the export names every table of the migrated schema', async (t) => {
  const sql = new SqliteSql(new Database(join(tempDir(t), DB_FILE)))
  await migrate(sql)
  t.teardown(() => sql.close())
  t.same(STORE_TABLES.map((x) => x.name).sort(), await storeTableNames(sql))
})

t.test('SQLite export: a header, every row, and no secret', async (t) => {
  const { dir, secrets } = await plantedStore(t)
  const { text } = await exportFile(t, ['--data-dir', dir])
  const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
  t.match(lines[0], { format: 'leakgate-store-export', formatVersion: 1, schema: LATEST_SCHEMA_VERSION, from: 'sqlite' })
  const tables = lines.slice(1).map((l) => l.table as string)
  const order = STORE_TABLES.map((x) => x.name)
  t.same(tables, [...tables].sort((a, b) => order.indexOf(a) - order.indexOf(b)), 'tables in dependency order')
  for (const name of ['leaks', 'tokens', 'leak_tokens', 'decisions', 'index_entries', 'changes', 'sightings', 'leak_seen_by', 'nodes', 'api_keys']) {
    t.ok(tables.includes(name), `${name} rows exported`)
  }
  t.equal(tables.filter((x) => x === 'leaks').length, 3)
  for (const secret of secrets) t.notOk(text.includes(secret), 'a planted token or API key is not in the export')
  // Only the hashes are: the tokens' rows hold 64-hex hashes.
  for (const l of lines.filter((x) => x.table === 'tokens')) t.match((l.row as { sha256: string }).sha256, /^[0-9a-f]{64}$/)
})

t.test('SQLite to SQLite: the same rows; a non-empty target and a bad file are refused', async (t) => {
  const { dir } = await plantedStore(t)
  const { file, text } = await exportFile(t, ['--data-dir', dir])
  const target = tempDir(t)
  const res = await runMain(importMain, ['--data-dir', target, file])
  t.equal(res.code, 0, res.err)
  t.match(res.err, /imported \d+ rows/)
  const from = new SqliteSql(new Database(join(dir, DB_FILE)))
  const to = new SqliteSql(new Database(join(target, DB_FILE)))
  t.teardown(async () => { await from.close(); await to.close() })
  t.same(await tableCounts(to), await tableCounts(from))
  t.same(await to.get('SELECT entries FROM index_size'), { entries: (await tableCounts(from)).index_entries }, 'the index size is counted again on import')
  const again = await exportFile(t, ['--data-dir', target])
  t.equal(again.text.split('\n').slice(1).join('\n'), text.split('\n').slice(1).join('\n'), 'exporting the copy gives the same rows')

  await t.rejects(runMain(importMain, ['--data-dir', target, file]), { code: StoreImportError.code, message: /not empty/ })
  const junk = join(tempDir(t), 'junk.ndjson')
  writeFileSync(junk, '{"hello": 1}\n')
  await t.rejects(runMain(importMain, ['--data-dir', tempDir(t), junk]), { code: StoreImportError.code, message: /not a Leakgate store export/ })
  const older = join(tempDir(t), 'older.ndjson')
  writeFileSync(older, text.replace(`"schema":${LATEST_SCHEMA_VERSION}`, `"schema":${LATEST_SCHEMA_VERSION - 1}`))
  await t.rejects(runMain(importMain, ['--data-dir', tempDir(t), older]), { code: StoreImportError.code, message: /schema version/ })
  const strange = join(tempDir(t), 'strange.ndjson')
  writeFileSync(strange, `${text.split('\n')[0]}\n{"table":"leaks","row":{"id":1,"title; DROP TABLE leaks":"x"}}\n`)
  await t.rejects(runMain(importMain, ['--data-dir', tempDir(t), strange]), { code: StoreImportError.code, message: /no column/ })
})

t.test('SQLite to PostgreSQL round trip (the CLI, as an operator moves a store)', withPostgres, async (t) => {
  const { dir, secrets } = await plantedStore(t)
  const { file, text } = await exportFile(t, ['--data-dir', dir])
  const url = await freshDatabase(t)

  const migrated = await runMain(migrateMain, ['--database-url', url])
  t.same({ code: migrated.code, out: migrated.out.trim() }, { code: 0, out: String(LATEST_SCHEMA_VERSION) })
  t.match(migrated.err, new RegExp(`is at schema version ${LATEST_SCHEMA_VERSION}`))

  const imported = await runMain(importMain, ['--database-url', url, file])
  t.equal(imported.code, 0, imported.err)

  const lite = new SqliteSql(new Database(join(dir, DB_FILE)))
  const pg = new PostgresSql(url)
  t.teardown(async () => { await lite.close(); await pg.close() })
  const counts = await tableCounts(pg)
  t.same(counts, await tableCounts(lite), 'every table has the same row count')
  t.ok((counts.leaks ?? 0) >= 3 && (counts.sightings ?? 0) >= 3)
  t.same(await pg.all('SELECT * FROM leaks ORDER BY id'), await lite.all('SELECT * FROM leaks ORDER BY id'), 'rows equal, numbers as numbers')
  t.same(await pg.all('SELECT * FROM meta ORDER BY key'), await lite.all('SELECT * FROM meta ORDER BY key'), 'the revision moved with the store')
  // The index's size is derived (left out of the export): the import's inserts kept it.
  t.ok((counts.index_entries ?? 0) > 0)
  t.same(await pg.get('SELECT entries FROM index_size'), { entries: counts.index_entries }, "the import's statements counted the index entries")

  // Identity sequences were moved past the imported ids: the next insert gets a new id.
  const maxId = (await pg.get<{ m: number }>('SELECT max(id) AS m FROM leaks'))?.m ?? 0
  const next = await pg.get<{ id: number }>("INSERT INTO leaks (title, source, risk, risk_rank, risk_score, risk_factors, status, action, created_at, updated_at) VALUES ('new', 'manual', 'low', 1, 1, '[]', 'open', 'monitor', 'now', 'now') RETURNING id")
  t.equal(next?.id, maxId + 1)

  // PostgreSQL exports the same rows back.
  const back = await exportFile(t, ['--database-url', url])
  for (const secret of secrets) t.notOk(back.text.includes(secret))
  const rows = (s: string): string[] => s.trimEnd().split('\n').slice(1).filter((l) => !l.includes('"title":"new"'))
  t.same(rows(back.text), rows(text), 'PostgreSQL exports the rows SQLite exported')

  await t.rejects(runMain(importMain, ['--database-url', url, file]), { code: StoreImportError.code, message: /not empty/ })
})

t.test('import is all or nothing', withPostgres, async (t) => {
  const url = await freshDatabase(t)
  const sql = new PostgresSql(url)
  t.teardown(() => sql.close())
  t.equal((await runMain(migrateMain, ['--database-url', url])).code, 0)
  const lines: string[] = []
  const source = new SqliteSql(new Database(join((await plantedStore(t)).dir, DB_FILE)))
  t.teardown(() => source.close())
  await exportStore(source, (l) => { lines.push(l) })
  // A decision on a leak that does not exist: the foreign key refuses it, after the leaks went in.
  const at = lines.findIndex((l) => l.startsWith('{"table":"decisions"'))
  t.ok(at > 0)
  const decision = JSON.parse(lines[at] as string) as { row: { leak_id: number } }
  decision.row.leak_id = 999_999
  lines[at] = JSON.stringify(decision)
  await t.rejects(importStore(sql, (async function* () { yield* lines })()), /foreign key/)
  t.same(Object.values(await tableCounts(sql)).reduce((a, b) => a + b, 0), 2, 'nothing stayed but the two meta rows')
})
