// `leakgate sessions list|end` on the store a running control plane uses: sessions listed by id (never
// a token), a person's ended (the control plane refuses them at its next request), one ended by id;
// the store found as the control plane finds it; bad usage is one line, exit 2.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { main } from './sessions-cli.js'
import { Store } from './store/store.js'
import { runMain, startPlane, tempDir, testDatabaseUrl, TEST_STORE, type TestPlane } from './test/harness.js'
import { freshDatabase, withPostgres } from './test/postgres.js'

const run = (argv: string[]) => runMain(main, argv)

interface Listed { id: string; person: string; role: string; state: string; endedBy: string | null; lastUsedAt: string | null }

/** A session of `person` as the sign-in makes it (started at the callback, its token taken by the page). */
async function signedIn(plane: TestPlane, person: string, role: 'admin' | 'analyst') {
  const issued = await plane.store.sessions.redeem(await plane.store.sessions.start(person, role, 3600))
  if (issued === undefined) throw new Error('the handoff code was refused')
  return issued
}

t.test(`sessions list and end, on the store a running control plane reads (${TEST_STORE})`, async (t) => {
  const plane = await startPlane(t)
  const url = await testDatabaseUrl(t, plane.dir)
  const where = url === undefined ? ['--data-dir', plane.dir] : ['--database-url', url]
  const alice = await signedIn(plane, 'alice@example.com', 'admin')
  const bob1 = await signedIn(plane, 'bob@example.com', 'analyst')
  const bob2 = await signedIn(plane, 'bob@example.com', 'analyst')
  t.equal((await plane.call('GET', '/v1/me', bob1.token)).statusCode, 200)

  const json = await run(['list', '--json', ...where])
  t.equal(json.code, 0, json.err)
  const listed = JSON.parse(json.out) as Listed[]
  t.same(listed.map((s) => [s.id, s.person, s.role, s.state]).sort(), [
    [alice.principal.keyId, 'alice@example.com', 'admin', 'active'],
    [bob1.principal.keyId, 'bob@example.com', 'analyst', 'active'],
    [bob2.principal.keyId, 'bob@example.com', 'analyst', 'active'],
  ].sort())
  for (const s of [alice, bob1, bob2]) t.notOk(json.out.includes(s.token), 'no token listed')

  const table = await run(['list', '--person', 'bob@example.com', ...where])
  const lines = table.out.trim().split('\n')
  t.match(lines[0], /^ID\s+PERSON\s+ROLE\s+STARTED\s+EXPIRES\s+LAST USED\s+STATE$/)
  t.equal(lines.length, 3, 'bob\'s two sessions')
  t.match(lines.find((l) => l.startsWith(bob1.principal.keyId)), /^session_[0-9a-f]{8}\s+bob@example\.com\s+analyst\s+\d{4}-\d\d-\d\d \d\d:\d\dZ\s+\d{4}-\d\d-\d\d \d\d:\d\dZ\s+\S.*\s+active$/)

  const ended = await run(['end', '--person', 'bob@example.com', ...where])
  t.equal(ended.code, 0, ended.err)
  t.match(ended.out.trim(), new RegExp(`^ended 2 console sessions of bob@example\\.com: session_[0-9a-f]{8}, session_[0-9a-f]{8}$`))
  for (const s of [bob1, bob2]) {
    const refused = await plane.call('GET', '/v1/me', s.token)
    t.equal(refused.statusCode, 401, 'the running control plane refuses the ended session at once')
    t.match(refused.json().detail, /was ended at .*; sign in again/)
  }
  t.equal((await plane.call('GET', '/v1/me', alice.token)).statusCode, 200, 'alice\'s session goes on')
  t.match(await run(['end', '--person', 'bob@example.com', ...where]), { code: 0, out: /^bob@example\.com had no live console session \(nothing to end\)\n$/ })
  const after = JSON.parse((await run(['list', '--json', '--person', 'bob@example.com', ...where])).out) as Listed[]
  t.same(after.map((s) => [s.state, s.endedBy]), [['ended', 'leakgate sessions'], ['ended', 'leakgate sessions']], 'the listing says who ended them')
  t.match((await run(['list', '--person', 'bob@example.com', ...where])).out, /ended \d{4}-\d\d-\d\d \d\d:\d\dZ by leakgate sessions/)

  const one = await run(['end', alice.principal.keyId, ...where])
  t.equal(one.code, 0, one.err)
  t.match(one.out.trim(), new RegExp(`^admin session ${alice.principal.keyId} of alice@example\\.com: ended at \\d{4}-.* by leakgate sessions$`))
  t.equal((await plane.call('GET', '/v1/me', alice.token)).statusCode, 401)
  const unknown = await run(['end', 'session_00000000', ...where])
  t.same({ code: unknown.code, err: unknown.err.trim() }, { code: 1, err: 'leakgate sessions end: there is no session session_00000000 (leakgate sessions list shows them; an expired session is removed)' })
  t.match(await run(['list', '--person', 'carol@example.com', ...where]), { code: 0, out: 'no console session of carol@example.com\n' })
})

t.test('sessions: bad usage is one clear line, exit 2', async (t) => {
  const dir = tempDir(t)
  const cases: Array<[string[], RegExp]> = [
    [['kill'], /^leakgate sessions: expected a command: list, end; got "kill" \(leakgate sessions --help shows the usage\)$/],
    [['end'], /^leakgate sessions end: give --person PERSON .* or a session id/],
    [['end', 'key_0a1b2c3d'], /"key_0a1b2c3d" is not a session id/],
    [['end', 'session_0a1b2c3d', '--person', 'a@b.c'], /not both/],
    [['end', 'session_0a1b2c3d', 'session_11111111'], /one session id at a time/],
    [['end', '--json', '--person', 'a@b.c'], /--json is not an option of end/],
    [['list', '--person', 'a\u0007b'], /--person must be 1 to 320 characters/],
    [['list', 'extra'], /unexpected argument "extra"/],
  ]
  for (const [argv, message] of cases) {
    const res = await run([...argv, '--data-dir', dir])
    t.equal(res.code, 2, argv.join(' '))
    t.equal(res.err.trim().split('\n').length, 1, 'one line')
    t.match(res.err.trim(), message)
  }
  t.match(await run(['--help']), { code: 0, out: /usage: leakgate sessions list[^]*leakgate sessions end --person PERSON[^]*--database-url URL/ })
})

t.test('sessions finds PostgreSQL as the control plane does: LEAKGATE_DATABASE_URL, the config file', withPostgres, async (t) => {
  const url = await freshDatabase(t)
  const store = await Store.openConfigured({ dataDir: tempDir(t), databaseUrl: url })
  const issued = (await store.sessions.redeem(await store.sessions.start('dana@example.com', 'analyst', 3600)))!
  await store.close()
  const before = process.env.LEAKGATE_DATABASE_URL
  process.env.LEAKGATE_DATABASE_URL = url
  let fromEnv
  try {
    fromEnv = await run(['list', '--json', '--data-dir', tempDir(t)])
  } finally {
    if (before === undefined) delete process.env.LEAKGATE_DATABASE_URL
    else process.env.LEAKGATE_DATABASE_URL = before
  }
  t.equal(fromEnv.code, 0, fromEnv.err)
  t.match(JSON.parse(fromEnv.out), [{ id: issued.principal.keyId, person: 'dana@example.com' }], 'the env names the store even beside --data-dir')
  const config = join(tempDir(t), 'control-plane.yaml')
  writeFileSync(config, `databaseUrl: ${url}\n`)
  t.match(await run(['end', '--person', 'dana@example.com', '--config', config]), { code: 0, out: new RegExp(`ended 1 console session of dana@example\\.com: ${issued.principal.keyId}`) })
})
