// The sign-in routes without a browser: off unless configured (keys only), what each step answers
// when it has nothing to go on, the limit on sign-in steps, and sign-out with a key or a session.
import t from 'tap'
import { CONSOLE_CSP } from '../console/plugin.js'
import { startPlane } from '../test/harness.js'

const OIDC = {
  publicUrl: 'https://leakgate.example.com',
  // Nothing listens on the discard port: the provider is unreachable.
  oidc: { issuer: 'http://127.0.0.1:9', clientId: 'leakgate', roles: { admins: ['alice@example.com'] } },
}

t.test('without an issuer, the console signs in with keys only', async (t) => {
  const plane = await startPlane(t)
  t.same((await plane.call('GET', '/auth/oidc')).json(), { enabled: false })
  for (const url of ['/auth/oidc/start', '/auth/oidc/callback?code=x&state=y']) t.equal((await plane.call('GET', url)).statusCode, 404, url)
  t.equal((await plane.call('POST', '/auth/oidc/session', undefined, {})).statusCode, 404)
})

t.test('each step refuses what it cannot tie to a sign-in begun in this browser', async (t) => {
  const plane = await startPlane(t, OIDC)
  t.same((await plane.call('GET', '/auth/oidc')).json(), { enabled: true, name: 'OpenID Connect' })
  const start = await plane.call('GET', '/auth/oidc/start')
  t.equal(start.statusCode, 502, 'the provider cannot be reached')
  t.match(start.body, /could not reach OpenID Connect/)
  t.equal(start.headers['content-security-policy'], CONSOLE_CSP, 'the page has the console\'s CSP')

  const noCookie = await plane.call('GET', '/auth/oidc/callback?code=abc&state=def')
  t.equal(noCookie.statusCode, 400)
  t.match(noCookie.body, /not started in this browser/)
  const unknown = await plane.call('GET', '/auth/oidc/callback?code=abc&state=def', undefined, undefined, { cookie: 'leakgate_oidc_login=def.nonce.verifier' })
  t.equal(unknown.statusCode, 400, 'a state the store never kept')
  t.match(unknown.body, /expired or was already used/)

  const session = await plane.call('POST', '/auth/oidc/session', undefined, {}, { cookie: 'leakgate_oidc_handoff=lgh_nothing' })
  t.equal(session.statusCode, 401)
  t.equal(session.json().code, 'LEAKGATE_ERR_UNAUTHORIZED')
  t.match(String(session.headers['set-cookie']), /leakgate_oidc_handoff=; Path=\/auth\/oidc\/session; Max-Age=0; HttpOnly; SameSite=Strict; Secure/, 'the cookie is cleared')
})

t.test('sign-in steps are limited per address', async (t) => {
  const plane = await startPlane(t, OIDC)
  const statuses: number[] = []
  for (let i = 0; i < 61; i++) statuses.push((await plane.call('GET', '/auth/oidc/callback?state=x')).statusCode)
  t.equal(statuses.filter((s) => s === 400).length, 60)
  const last = await plane.call('GET', '/auth/oidc/start')
  t.equal(last.statusCode, 429)
  t.match(last.body, /Too many sign-ins/)
  t.ok(Number(last.headers['retry-after']) > 0)
})

t.test('sign-out ends a session and leaves a key as it is', async (t) => {
  const plane = await startPlane(t, OIDC)
  t.equal((await plane.call('POST', '/v1/sign-out', plane.keys.analyst)).statusCode, 204)
  t.equal((await plane.call('GET', '/v1/me', plane.keys.analyst)).statusCode, 200, 'the key still works')
  t.equal((await plane.call('POST', '/v1/sign-out')).statusCode, 401, 'nobody to sign out')

  const code = await plane.store.sessions.start('alice@example.com', 'admin', 3600)
  const issued = (await plane.store.sessions.redeem(code))!
  const me = await plane.call('GET', '/v1/me', issued.token)
  t.same(me.json(), { keyId: issued.principal.keyId, role: 'admin', person: 'alice@example.com' })
  t.equal((await plane.call('POST', '/v1/sign-out', issued.token)).statusCode, 204)
  t.equal((await plane.call('GET', '/v1/me', issued.token)).statusCode, 401)
  const logs = plane.logs.join('')
  t.match(logs, /console session ended/, 'the logs were captured')
  t.notOk(logs.includes(issued.token) || logs.includes(code), 'neither the token nor the handoff code is logged')
})
