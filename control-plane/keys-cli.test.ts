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
  t.match(wrong, { code: 2, err: /expected a command/ })
  t.equal(wrong.err.trim(), 'leakgate keys: expected a command: create, list, revoke, rotate; got "delete" (leakgate keys --help shows the usage)', 'one line, not the whole usage')
  t.match(await run(['create', '--nope']), { code: 2 })
  t.match(await run(['--help']), { code: 0, out: /usage: leakgate keys create[^]*leakgate keys rotate KEY_ID[^]*--database-url URL/ })
  await t.rejects(run(['create', '--role', 'admin', '--database-url', 'mysql://db/x']), /databaseUrl.*--database-url/, 'a bad URL is refused naming the option')
})

interface Listed { keyId: string; name: string | null; owner: string | null; role: string; expiresAt: string | null; revokedAt: string | null; state: string }

t.test(`keys create --name --owner --expires-in, list, revoke, rotate (${TEST_STORE})`, async (t) => {
  const dir = tempDir(t)
  const url = await testDatabaseUrl(t, dir)
  const where = url === undefined ? ['--data-dir', dir] : ['--database-url', url]
  const admin = await run(['create', '--role', 'admin', '--name', 'break-glass', ...where])
  t.equal(admin.code, 0, admin.err)
  const made = await run(['create', '--role', 'node', '--name', 'edge-eu-1', '--owner', 'bob@example.com', '--expires-in', '90d', ...where])
  t.equal(made.code, 0, made.err)
  const key = made.out.trim()
  t.match(made.err, /created node key key_[0-9a-f]{8} in .*, expiring \d{4}-/)

  const json = await run(['list', '--json', ...where])
  t.equal(json.code, 0)
  const keys = JSON.parse(json.out) as Listed[]
  t.match(keys, [{ name: 'edge-eu-1', owner: 'bob@example.com', role: 'node', state: 'active' }, { name: 'break-glass', owner: null, role: 'admin' }], 'newest first')
  const days = (Date.parse(keys[0]?.expiresAt ?? '') - Date.now()) / 86_400_000
  t.ok(days > 89.9 && days <= 90, 'expires in 90 days')
  t.notOk(json.out.includes(key), 'the list never shows a key')
  const nodeId = keys[0]?.keyId ?? ''

  const table = await run(['list', ...where])
  const lines = table.out.trim().split('\n')
  t.match(lines[0], /^ID\s+NAME\s+OWNER\s+ROLE\s+CREATED\s+EXPIRES\s+LAST USED\s+STATE$/)
  t.match(lines[1], new RegExp(`^${nodeId}\\s+edge-eu-1\\s+bob@example.com\\s+node\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\dZ\\s+\\d{4}.*\\s+-\\s+active$`))

  const rotated = await run(['rotate', nodeId, ...where])
  t.equal(rotated.code, 0, rotated.err)
  const newKey = rotated.out.trim()
  t.match(newKey, /^lgk_[0-9A-Za-z]{40}$/)
  t.match(rotated.err, new RegExp(`made node key key_[0-9a-f]{8} in .*shown only this once; ${nodeId} is revoked`))
  const store = await openTestStore(t, dir)
  t.equal(await store.keys.verify(key), undefined, 'the old key is revoked')
  t.match(await store.keys.verify(newKey), { role: 'node', person: 'bob@example.com' }, 'the new key has the role and the owner')
  await store.close()

  const newId = (JSON.parse((await run(['list', '--json', ...where])).out) as Listed[])[0]?.keyId ?? ''
  const revoked = await run(['revoke', newId, ...where])
  t.equal(revoked.code, 0, revoked.err)
  t.match(revoked.out, new RegExp(`revoked node key ${newId} \\(edge-eu-1\\) at \\d{4}-`))
  t.same((JSON.parse((await run(['list', '--json', ...where])).out) as Listed[]).map((k) => k.state), ['revoked', 'revoked', 'active'], 'revoked keys stay listed')

  const adminId = (JSON.parse((await run(['list', '--json', ...where])).out) as Listed[])[2]?.keyId ?? ''
  const last = await run(['revoke', adminId, ...where])
  t.equal(last.code, 1)
  t.match(last.err.trim(), new RegExp(`^leakgate keys revoke: ${adminId} is the last admin key that works[^\\n]*$`), 'one line')
  const unknown = await run(['rotate', 'key_00000000', ...where])
  t.same({ code: unknown.code, err: unknown.err.trim() }, { code: 1, err: 'leakgate keys rotate: there is no key key_00000000' })
  if (url === undefined) for (const f of readdirSync(dir)) t.notOk(readFileSync(join(dir, f)).includes(newKey), `the rotated key is not in ${f}`)
})

t.test('keys: bad input is one clear line, exit 2, and changes nothing', async (t) => {
  const dir = tempDir(t)
  const url = await testDatabaseUrl(t, dir)
  const where = url === undefined ? ['--data-dir', dir] : ['--database-url', url]
  t.equal((await run(['create', '--role', 'admin', ...where])).code, 0)
  const before = (await run(['list', '--json', ...where])).out
  const cases: Array<[string[], RegExp]> = [
    [['create', '--role', 'analyst', '--expires-in', '90x'], /^leakgate keys create: --expires-in takes a number and a unit \(s, m, h, d or w\), as 90d or 12h; got "90x"$/],
    [['create', '--role', 'analyst', '--expires-in', '0d'], /more than 0/],
    [['create', '--role', 'analyst', '--expires-in', '1d', '--expires-at', '2099-01-01T00:00:00Z'], /not both/],
    [['create', '--role', 'analyst', '--expires-at', '2099-01-01'], /ISO time with its zone/],
    [['create', '--role', 'analyst', '--expires-at', '2020-01-01T00:00:00Z'], /not in the future/],
    [['create', '--role', 'analyst', '--owner', 'a\u0007b'], /--owner must be 1 to 254 characters/],
    [['create', '--role', 'analyst', '--name', 'x'.repeat(101)], /--name must be 1 to 100/],
    [['create', '--role', 'analyst', 'extra'], /unexpected argument "extra"/],
    [['list', '--role', 'admin'], /--role is not an option of list/],
    [['revoke'], /give the key id/],
    [['revoke', 'key_ZZ'], /"key_ZZ" is not a key id/],
    [['revoke', 'key_00000000', 'key_11111111'], /one key id at a time/],
    [['rotate', 'key_00000000', '--overlap', '8d'], /at most 7d/],
    [['rotate', 'key_00000000', '--overlap', 'soon'], /--overlap takes a number/],
  ]
  for (const [argv, message] of cases) {
    const res = await run([...argv, ...where])
    t.equal(res.code, 2, argv.join(' '))
    t.equal(res.err.trim().split('\n').length, 1, 'one line')
    t.match(res.err.trim(), message)
    t.equal(res.out, '', 'nothing printed on standard output')
  }
  t.equal((await run(['list', '--json', ...where])).out, before, 'no key made or changed')
})
