/**
 * When a colleague leaves, an admin ends their console sessions at once: people sign in through a real
 * OpenID Connect provider (oidc-provider, its login and consent forms, over HTTP), an admin lists the
 * sessions (ids, never tokens) and ends one person's; that person's next request is refused with a 401
 * that says the session was ended, and the listing says who ended it. An analyst can do neither.
 */
import t from 'tap'
import { startPlane } from './harness.js'
import { oidcOptions, signIn, startProvider } from './oidc-provider.js'

const PEOPLE = {
  'alice@example.com': ['staff', 'leakgate-admins'],
  'bob@example.com': ['leakgate-analysts'],
  'carol@example.com': ['leakgate-analysts'],
}

interface Listed { id: string; person: string; role: string; state: string; endedBy: string | null; endedAt: string | null; lastUsedAt: string | null }

t.test('an admin ends a person\'s sessions; their next request gets 401 saying so; the others go on', async (t) => {
  const provider = await startProvider(t, PEOPLE)
  const plane = await startPlane(t, oidcOptions(provider))
  const alice = await signIn(plane, 'alice@example.com')
  // Bob signed in on two machines.
  const bob1 = await signIn(plane, 'bob@example.com')
  const bob2 = await signIn(plane, 'bob@example.com')
  const carol = await signIn(plane, 'carol@example.com')
  t.match(alice, { role: 'admin', person: 'alice@example.com', keyId: /^session_[0-9a-f]{8}$/ })
  t.match(bob1, { role: 'analyst', person: 'bob@example.com' })
  t.equal((await plane.call('GET', '/v1/me', bob1.token)).statusCode, 200, 'bob\'s session works')

  // A last use is written after the answer it records: wait for it, so the listing is sure to show it.
  await plane.store.sessions.settled()
  const list = await plane.call('GET', '/v1/sessions', alice.token)
  t.equal(list.statusCode, 200, list.body)
  const items = list.json<{ items: Listed[] }>().items
  t.same(items.map((s) => [s.id, s.person, s.role, s.state]), [
    [carol.keyId, 'carol@example.com', 'analyst', 'active'],
    [bob2.keyId, 'bob@example.com', 'analyst', 'active'],
    [bob1.keyId, 'bob@example.com', 'analyst', 'active'],
    [alice.keyId, 'alice@example.com', 'admin', 'active'],
  ], 'newest first')
  t.ok(items.find((s) => s.id === bob1.keyId)?.lastUsedAt, 'bob\'s request is his session\'s last use')
  for (const s of [alice, bob1, bob2, carol]) t.notOk(list.body.includes(s.token), 'no token is listed')
  const bobs = await plane.call('GET', '/v1/sessions?person=BOB@example.com', plane.keys.admin)
  t.same(bobs.json<{ items: Listed[] }>().items.map((s) => s.id), [bob2.keyId, bob1.keyId], 'one person\'s, without case, with an admin key too')

  const ended = await plane.call('POST', '/v1/sessions/end', alice.token, { person: 'bob@example.com' })
  t.equal(ended.statusCode, 200, ended.body)
  const by = `alice@example.com via ${alice.keyId}`
  t.match(ended.json(), { ended: [{ id: bob2.keyId, state: 'ended', endedBy: by }, { id: bob1.keyId, state: 'ended', endedBy: by }] })
  for (const session of [bob1, bob2]) {
    const refused = await plane.call('GET', '/v1/leaks', session.token)
    t.equal(refused.statusCode, 401, 'the ended session\'s next request is refused')
    t.equal(refused.json().code, 'LEAKGATE_ERR_UNAUTHORIZED')
    t.match(refused.json().detail, new RegExp(`^this console session \\(${session.keyId}\\) was ended at .+; sign in again$`))
  }
  t.equal((await plane.call('GET', '/v1/leaks', carol.token)).statusCode, 200, 'carol\'s session goes on')
  t.equal((await plane.call('GET', '/v1/leaks', alice.token)).statusCode, 200, 'and alice\'s')
  const after = (await plane.call('GET', '/v1/sessions', plane.keys.admin)).json<{ items: Listed[] }>().items
  t.match(after.find((s) => s.id === bob1.keyId), { state: 'ended', endedBy: by, endedAt: /^\d{4}-/ }, 'the listing says who ended it')
  t.same((await plane.call('POST', '/v1/sessions/end', alice.token, { person: 'bob@example.com' })).json(), { ended: [] }, 'nothing left to end')

  const one = await plane.call('POST', '/v1/sessions/end', plane.keys.admin, { id: carol.keyId })
  t.match(one.json(), { ended: [{ id: carol.keyId, person: 'carol@example.com', state: 'ended', endedBy: /^key_[0-9a-f]{8}$/ }] }, 'one session by its id; a key nobody owns is named by its id')
  t.equal((await plane.call('GET', '/v1/me', carol.token)).statusCode, 401)

  const logs = plane.logs.join('')
  t.match(logs, /console sessions ended/)
  t.match(logs, new RegExp(`"by":"${by}"`), 'the log names who ended them')
  for (const s of [alice, bob1, bob2, carol]) t.notOk(logs.includes(s.token), 'no token is logged')
})

t.test('an analyst, by session or key, can neither list nor end sessions; wrong bodies are refused', async (t) => {
  const provider = await startProvider(t, PEOPLE)
  const plane = await startPlane(t, oidcOptions(provider))
  const alice = await signIn(plane, 'alice@example.com')
  const bob = await signIn(plane, 'bob@example.com')
  for (const key of [bob.token, plane.keys.analyst]) {
    const list = await plane.call('GET', '/v1/sessions', key)
    t.equal(list.statusCode, 403)
    t.equal(list.json().code, 'LEAKGATE_ERR_FORBIDDEN')
    t.equal((await plane.call('POST', '/v1/sessions/end', key, { person: 'alice@example.com' })).statusCode, 403)
  }
  t.equal((await plane.call('GET', '/v1/me', alice.token)).statusCode, 200, 'alice\'s session was not ended')
  t.equal((await plane.call('GET', '/v1/sessions')).statusCode, 401)

  const both = await plane.call('POST', '/v1/sessions/end', alice.token, { person: 'bob@example.com', id: bob.keyId })
  t.equal(both.statusCode, 400)
  t.match(both.json().detail, /give "person" .* or "id" .*, not both/)
  t.equal((await plane.call('POST', '/v1/sessions/end', alice.token, {})).statusCode, 400, 'neither')
  t.equal((await plane.call('POST', '/v1/sessions/end', alice.token, { id: 'key_0a1b2c3d' })).statusCode, 400, 'not a session id')
  const unknown = await plane.call('POST', '/v1/sessions/end', alice.token, { id: 'session_00000000' })
  t.equal(unknown.statusCode, 404)
  t.equal(unknown.json().code, 'LEAKGATE_ERR_NOT_FOUND')
  t.equal((await plane.call('GET', '/v1/me', bob.token)).statusCode, 200, 'bob\'s session is untouched')

  const paths = (await plane.call('GET', '/docs/json')).json<{ paths: Record<string, Record<string, { tags?: string[] }>> }>().paths
  t.same(paths['/v1/sessions']?.get?.tags, ['sessions'], 'OpenAPI documents the list')
  t.same(paths['/v1/sessions/end']?.post?.tags, ['sessions'], 'and the end')
})
