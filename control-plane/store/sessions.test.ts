// Console sessions in the store (SQLite, and PostgreSQL in the second pass): a handoff code is
// redeemed once for a token; the token is stored hashed only; it stops working when it expires, is
// revoked, or is altered; and a sign-in's state is taken once.
import t from 'tap'
import { openTestStore, storeSql, tempDir, type Teardown } from '../test/harness.js'
import { SessionRepo } from './sessions.js'

async function setup(t: Teardown) {
  const dir = tempDir(t)
  const store = await openTestStore(t, dir)
  t.teardown(() => store.close())
  let now = new Date('2026-03-01T10:00:00Z')
  const sessions = new SessionRepo(storeSql(t, store), () => now)
  return { store, sessions, sql: storeSql(t, store), advance: (seconds: number) => { now = new Date(now.getTime() + seconds * 1000) } }
}

t.test('a handoff code gives a token once; the token names the person and role; only hashes are stored', async (t) => {
  const { sessions, sql } = await setup(t)
  const code = await sessions.start('alice@example.com', 'analyst', 3600)
  const issued = await sessions.redeem(code)
  t.ok(issued)
  t.match(issued?.token, /^lgs_[0-9A-Za-z]{40}$/)
  t.match(issued?.principal, { role: 'analyst', person: 'alice@example.com', keyId: /^session_[0-9a-f]{8}$/ })
  t.equal(await sessions.redeem(code), undefined, 'the code works once')
  t.same(await sessions.verify(issued!.token), issued?.principal)
  const rows = JSON.stringify(await sql.all('SELECT * FROM sessions'))
  t.notOk(rows.includes(issued!.token), 'the token is not stored')
  t.notOk(rows.includes(code), 'the code is not stored')
})

t.test('a session ends at its expiry, at revocation, and an altered or foreign token is refused', async (t) => {
  const { sessions, advance } = await setup(t)
  const a = (await sessions.redeem(await sessions.start('alice@example.com', 'admin', 3600)))!
  const b = (await sessions.redeem(await sessions.start('bob@example.com', 'analyst', 60)))!
  const last = a.token.at(-1) === 'A' ? 'B' : 'A'
  t.equal(await sessions.verify(`${a.token.slice(0, -1)}${last}`), undefined, 'altered token')
  t.equal(await sessions.verify('lgk_' + a.token.slice(4)), undefined, 'not a session token')
  advance(61)
  t.equal(await sessions.verify(b.token), undefined, 'expired')
  t.ok(await sessions.verify(a.token))
  t.equal(await sessions.revoke(a.token), true)
  t.equal(await sessions.verify(a.token), undefined, 'revoked')
  t.equal(await sessions.revoke(a.token), false, 'revoking again changes nothing')
})

t.test('a handoff code not redeemed within two minutes is refused', async (t) => {
  const { sessions, advance } = await setup(t)
  const code = await sessions.start('alice@example.com', 'admin', 3600)
  advance(121)
  t.equal(await sessions.redeem(code), undefined)
})

t.test('a sign-in is taken once, with the cookie it began with, and not after ten minutes', async (t) => {
  const { sessions, sql, advance } = await setup(t)
  await sessions.beginLogin('state-1', 'state-1.nonce-1.verifier-1')
  await sessions.beginLogin('state-2', 'state-2.nonce-2.verifier-2')
  await sessions.beginLogin('state-3', 'state-3.nonce-3.verifier-3')
  t.notOk(JSON.stringify(await sql.all('SELECT * FROM oidc_logins')).includes('verifier'), 'only hashes are stored')
  t.equal(await sessions.takeLogin('state-1', 'state-1.nonce-1.verifier-1'), true)
  t.equal(await sessions.takeLogin('state-1', 'state-1.nonce-1.verifier-1'), false, 'taken once')
  t.equal(await sessions.takeLogin('state-3', 'state-3.nonce-x.verifier-x'), false, 'another cookie')
  t.equal(await sessions.takeLogin('state-unknown', 'state-unknown.a.b'), false)
  advance(601)
  t.equal(await sessions.takeLogin('state-2', 'state-2.nonce-2.verifier-2'), false, 'expired')
})

t.test('the table refuses a session of a role other than the console\'s', async (t) => {
  const { sql } = await setup(t)
  await t.rejects(sql.run(`INSERT INTO sessions (person, role, created_at, expires_at) VALUES ('x', 'node', '2026', '2027')`))
})

t.test('an admin lists sessions and ends a person\'s (without case) or one by id; an ended session is refused saying so', async (t) => {
  const { sessions, advance } = await setup(t)
  const a1 = (await sessions.redeem(await sessions.start('alice@example.com', 'admin', 3600)))!
  advance(1)
  const a2 = (await sessions.redeem(await sessions.start('alice@example.com', 'analyst', 3600)))!
  advance(1)
  const b = (await sessions.redeem(await sessions.start('bob@example.com', 'analyst', 3600)))!
  // A sign-in of alice's whose page has not yet taken its token: not listed, but ended with her sessions.
  const pending = await sessions.start('alice@example.com', 'admin', 3600)

  const listed = await sessions.list()
  t.same(listed.map((s) => s.id), [b.principal.keyId, a2.principal.keyId, a1.principal.keyId], 'newest first, taken sessions only')
  t.match(listed[0], { person: 'bob@example.com', role: 'analyst', state: 'active', endedAt: null, endedBy: null, lastUsedAt: null, createdAt: '2026-03-01T10:00:02.000Z', expiresAt: '2026-03-01T11:00:02.000Z' })
  t.notOk(JSON.stringify(listed).includes(b.token), 'no token listed')
  t.same((await sessions.list('ALICE@example.com')).map((s) => s.id), [a2.principal.keyId, a1.principal.keyId])

  const ended = await sessions.endPerson('Alice@Example.com', 'root@example.com via key_0a1b2c3d')
  t.same(ended.map((s) => s.id), [a2.principal.keyId, a1.principal.keyId])
  t.match(ended[0], { state: 'ended', endedAt: '2026-03-01T10:00:02.000Z', endedBy: 'root@example.com via key_0a1b2c3d' })
  t.match(await sessions.check(a1.token), { refused: `this console session (${a1.principal.keyId}) was ended at 2026-03-01T10:00:02.000Z; sign in again` })
  t.equal(await sessions.verify(a2.token), undefined)
  t.equal(await sessions.redeem(pending), undefined, 'the sign-in under way was ended too')
  t.ok(await sessions.verify(b.token), 'another person\'s session goes on')
  t.same(await sessions.endPerson('alice@example.com', 'someone'), [], 'nothing left to end')
  t.match((await sessions.list('alice@example.com'))[0], { endedBy: 'root@example.com via key_0a1b2c3d' }, 'ending again does not rewrite who ended them')

  const one = await sessions.end(b.principal.keyId, 'leakgate sessions')
  t.match(one, [{ id: b.principal.keyId, state: 'ended', endedBy: 'leakgate sessions' }])
  t.equal(await sessions.verify(b.token), undefined)
  await t.rejects(sessions.end('session_00000000', 'x'), { code: 'LEAKGATE_ERR_NOT_FOUND' })
})

t.test('a session\'s last use is written at most once a minute; prune removes what is past its end', async (t) => {
  const { sessions, sql, advance } = await setup(t)
  const a = (await sessions.redeem(await sessions.start('alice@example.com', 'admin', 3600)))!
  const b = (await sessions.redeem(await sessions.start('bob@example.com', 'admin', 120)))!
  await sessions.verify(a.token)
  await sessions.settled()
  t.equal((await sessions.list('alice@example.com'))[0]?.lastUsedAt, '2026-03-01T10:00:00.000Z')
  advance(30)
  await sessions.verify(a.token)
  await sessions.settled()
  t.equal((await sessions.list('alice@example.com'))[0]?.lastUsedAt, '2026-03-01T10:00:00.000Z', 'not again within the minute')
  advance(31)
  await sessions.verify(a.token)
  await sessions.settled()
  t.equal((await sessions.list('alice@example.com'))[0]?.lastUsedAt, '2026-03-01T10:01:01.000Z')

  await sessions.start('carol@example.com', 'analyst', 3600)
  await sessions.beginLogin('state-1', 'state-1.nonce.verifier')
  advance(700)
  t.match((await sessions.list('bob@example.com'))[0], { state: 'expired' }, 'listed as expired until pruned')
  t.match(await sessions.check(b.token), { refused: /expired at 2026-03-01T10:02:00\.000Z; sign in again/ })
  t.equal(await sessions.prune(), 3, 'bob\'s expired session, carol\'s handoff never taken, the abandoned sign-in')
  t.same((await sessions.list()).map((s) => s.person), ['alice@example.com'])
  t.equal((await sql.all('SELECT * FROM oidc_logins')).length, 0)
  t.match(await sessions.check(b.token), { refused: /is not known \(it expired and was removed, or never was\); sign in again/ })
})
