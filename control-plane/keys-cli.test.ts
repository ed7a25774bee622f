import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { main } from './keys-cli.js'
import { Store } from './store/store.js'
import { openTestStore, runMain, tempDir, testDatabaseUrl, TEST_STORE } from './test/harness.js'
import { freshDatabase, withPostgres } from './test/postgres.js'

const run = (argv: string[]) => runMain(main, argv)

/** Runs `fn` with the environment variable `name` set to `value`, then puts it back. */
async function withEnv<T>(name: string, value: string, fn: () => Promise<T>): Promise<T> {
  const before = process.env[name]
  process.env[name] = value
  try {
    return await fn()
  } finally {
    if (before === undefined) delete process.env[name]
    else process.env[name] = before
  }
}

/** The role the store at `where` gives `key`, or undefined when it does not know the key. */
async function roleIn(where: { dataDir: string; databaseUrl?: string | undefined }, key: string): Promise<string | undefined> {
  const store = await Store.openConfigured(where)
  try {
    return (await store.keys.verify(key))?.role
  } finally {
    await store.close()
  }
}

t.test(`keys create prints the key once and stores only its hash (${TEST_STORE})`, async (t) => {
  const dir = tempDir(t)
  const url = await testDatabaseUrl(t, dir)
  const res = await run(['create', '--role', 'analyst', ...(url === undefined ? ['--data-dir', dir] : ['--database-url', url])])
  t.equal(res.code, 0)
  const key = res.out.trim()
  t.match(key, /^lgk_[0-9A-Za-z]{40}$/)
  t.match(res.err, /created analyst key key_[0-9a-f]{8}/)
  const store = await openTestStore(t, dir)
  t.same((await store.keys.verify(key))?.role, 'analyst', 'the control plane\'s store knows the key')
  await store.close()
  // On SQLite the store's bytes are ours to search; a PostgreSQL store's are the server's.
  if (url === undefined) for (const f of readdirSync(dir)) t.notOk(readFileSync(join(dir, f)).includes(key), `the key is not in ${f}`)
})

t.test('keys create finds PostgreSQL as the control plane does: LEAKGATE_DATABASE_URL, the config file', withPostgres, async (t) => {
  const dir = tempDir(t)
  const fromEnv = await freshDatabase(t)
  const res = await withEnv('LEAKGATE_DATABASE_URL', fromEnv, () => run(['create', '--role', 'node', '--data-dir', dir]))
  t.equal(res.code, 0, res.err)
  t.equal(await roleIn({ dataDir: dir, databaseUrl: fromEnv }, res.out.trim()), 'node', 'the env names the store even beside --data-dir, as for the control plane')
  t.equal(await roleIn({ dataDir: dir }, res.out.trim()), undefined, 'nothing went to the SQLite file')

  const fromFile = await freshDatabase(t)
  const config = join(tempDir(t), 'control-plane.yaml')
  writeFileSync(config, `databaseUrl: ${fromFile}\n`)
  const res2 = await run(['create', '--role', 'admin', '--config', config])
  t.equal(res2.code, 0, res2.err)
  t.equal(await roleIn({ dataDir: dir, databaseUrl: fromFile }, res2.out.trim()), 'admin')

  const flag = await freshDatabase(t)
  const res3 = await withEnv('LEAKGATE_DATABASE_URL', fromEnv, () => run(['create', '--role', 'analyst', '--database-url', flag]))
  t.equal(res3.code, 0, res3.err)
  t.equal(await roleIn({ dataDir: dir, databaseUrl: flag }, res3.out.trim()), 'analyst', '--database-url wins over the env')
  t.equal(await roleIn({ dataDir: dir, databaseUrl: fromEnv }, res3.out.trim()), undefined)
})

t.test('bad usage exits 2 with a clear message', async (t) => {
  const dir = tempDir(t)
  t.match(await run(['create', '--data-dir', dir]), { code: 2, err: /--role must be one of admin, analyst, node/ })
  t.match(await run(['create', '--role', 'root', '--data-dir', dir]), { code: 2, err: /got "root"/ })
  const wrong = await run(['delete', '--role', 'admin'])
  t.match(wrong, { code: 2, err: /expected the command "create"/ })
  t.equal(wrong.err.trim(), 'leakgate keys: expected the command "create" (leakgate keys --help shows the usage)', 'one line, not the whole usage')
  t.match(await run(['create', '--nope']), { code: 2 })
  t.match(await run(['--help']), { code: 0, out: /usage: leakgate keys create.*\n.*--database-url URL/ })
  await t.rejects(run(['create', '--role', 'admin', '--database-url', 'mysql://db/x']), /databaseUrl.*--database-url/, 'a bad URL is refused naming the option')
})
