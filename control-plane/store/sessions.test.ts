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
