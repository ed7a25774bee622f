import { statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { tempDir, type Teardown } from '../test/harness.js'
import { DB_FILE, openSqlite, type SqliteSql } from './sqlite.js'

async function openTable(t: Teardown): Promise<SqliteSql> {
  const sql = openSqlite(tempDir(t))
  t.teardown(() => sql.close())
  await sql.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)')
  return sql
}

/** Lets every pending callback and timer of the moment run, so interleaved work gets its turn. */
const tick = async (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

const names = async (sql: SqliteSql): Promise<string[]> => (await sql.all<{ name: string }>('SELECT name FROM items ORDER BY name')).map((r) => r.name)

t.test('placeholders ? and @name, RETURNING, changes', async (t) => {
  const sql = await openTable(t)
  t.same(await sql.get('INSERT INTO items (name) VALUES (?) RETURNING id', ['a']), { id: 1 })
  t.same(await sql.get('INSERT INTO items (name) VALUES (@name) RETURNING id', { name: 'b' }), { id: 2 })
  t.same(await sql.run('INSERT INTO items (name) VALUES (?) ON CONFLICT DO NOTHING', ['a']), { changes: 0 })
  t.same(await sql.run('UPDATE items SET name = name || ?', ['!']), { changes: 2 })
  t.same(await names(sql), ['a!', 'b!'])
  t.equal(await sql.get('SELECT * FROM items WHERE id = ?', [99]), undefined)
})

t.test('a transaction that throws is rolled back, and the error reaches the caller', async (t) => {
  const sql = await openTable(t)
  await t.rejects(sql.transaction(async () => {
    await sql.run('INSERT INTO items (name) VALUES (?)', ['kept?'])
    await tick()
    throw new Error('no')
  }), /^no$/)
  t.same(await names(sql), [])
  t.equal(sql.inTransaction, false)
  // A statement that fails inside (a UNIQUE violation) rolls back the statements before it too.
  await sql.run('INSERT INTO items (name) VALUES (?)', ['x'])
  await t.rejects(sql.transaction(async () => {
    await sql.run('INSERT INTO items (name) VALUES (?)', ['y'])
    await sql.run('INSERT INTO items (name) VALUES (?)', ['x'])
  }), { code: 'SQLITE_CONSTRAINT_UNIQUE' })
  t.same(await names(sql), ['x'])
})

t.test('a nested transaction joins the outer one: committed or rolled back with it', async (t) => {
  const sql = await openTable(t)
  await t.rejects(sql.transaction(async () => {
    await sql.transaction(async () => {
      t.equal(sql.inTransaction, true)
      await sql.run('INSERT INTO items (name) VALUES (?)', ['inner'])
    })
    throw new Error('outer fails after the inner one ended')
  }), /outer fails/)
  t.same(await names(sql), [], 'the inner write went with the outer rollback')
  const result = await sql.transaction(async () => {
    await sql.run('INSERT INTO items (name) VALUES (?)', ['outer'])
    return sql.transaction(async () => {
      await sql.run('INSERT INTO items (name) VALUES (?)', ['inner'])
      return 'answer'
    })
  })
  t.equal(result, 'answer')
  t.same(await names(sql), ['inner', 'outer'])
})

t.test('two interleaved transactions run one after the other and never see each other\'s uncommitted rows', async (t) => {
  const sql = await openTable(t)
  const seen: Record<string, string[]> = {}
  const order: string[] = []
  const txn = (name: string, fail: boolean): Promise<void> => sql.transaction(async () => {
    order.push(`${name} begins`)
    await sql.run('INSERT INTO items (name) VALUES (?)', [name])
    await tick()
    seen[name] = await names(sql)
    await tick()
    order.push(`${name} ends`)
    if (fail) throw new Error(`${name} fails`)
  })
  const results = await Promise.allSettled([txn('a', true), txn('b', false), txn('c', false)])
  t.same(results.map((r) => r.status), ['rejected', 'fulfilled', 'fulfilled'])
  t.same(order, ['a begins', 'a ends', 'b begins', 'b ends', 'c begins', 'c ends'], 'in the order asked, none overlapping')
  t.same(seen, { a: ['a'], b: ['b'], c: ['b', 'c'] }, 'each sees its own rows and what committed before it, never a rolled-back row')
  t.same(await names(sql), ['b', 'c'])
})

t.test('a statement from outside waits for the open transaction to end instead of running inside it', async (t) => {
  const sql = await openTable(t)
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  const txn = sql.transaction(async () => {
    await sql.run('INSERT INTO items (name) VALUES (?)', ['in-txn'])
    await gate
    throw new Error('rolled back')
  })
  await tick()
  // Issued while the transaction is open and waiting: it must neither see its row nor be rolled back with it.
  const outsideRead = names(sql)
  const outsideWrite = sql.run('INSERT INTO items (name) VALUES (?)', ['outside'])
  await tick()
  release()
  await t.rejects(txn, /rolled back/)
  t.same(await outsideRead, [], 'the read ran after the rollback')
  t.same(await outsideWrite, { changes: 1 })
  t.same(await names(sql), ['outside'], 'the outside write survived the rollback')
})

t.test('relaxed durability holds for its transaction only', async (t) => {
  const sql = await openTable(t)
  const level = async (): Promise<unknown> => (await sql.get<{ synchronous: number }>('PRAGMA synchronous'))?.synchronous
  const inside = await sql.transaction(async () => level(), { durability: 'relaxed' })
  t.equal(inside, 1, 'NORMAL inside')
  t.equal(await level(), 2, 'FULL again after')
})

t.test('the file is created readable by its owner only', async (t) => {
  const dir = tempDir(t)
  const sql = openSqlite(dir)
  t.teardown(() => sql.close())
  t.equal(statSync(join(dir, DB_FILE)).mode & 0o777, 0o600)
})

t.test('a data directory that cannot hold the store: a config error naming the option, not a bare system error', async (t) => {
  const file = join(tempDir(t), 'a-file')
  writeFileSync(file, '')
  t.throws(() => openSqlite(join(file, 'data')), {
    code: 'LEAKGATE_ERR_CONFIG',
    message: /the data directory ".*a-file\/data" cannot hold the store \(ENOTDIR\): set the dataDir option \(LEAKGATE_DATA_DIR, --data-dir\)/,
  })
})
