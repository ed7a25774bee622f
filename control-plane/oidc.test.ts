// Who may sign in through OpenID Connect, and with which role: from a claim's values, from lists of
// people, or both (admin wins); nobody else.
import t from 'tap'
import { loadControlPlaneConfig } from './config.js'
import { roleOf, signInOutcome } from './oidc.js'

const roles = {
  claim: 'groups',
  values: { 'leakgate-admins': 'admin', 'leakgate-analysts': 'analyst' } as Record<string, 'admin' | 'analyst'>,
  admins: ['Root@Example.com'],
  analysts: ['carol@example.com'],
}

t.test('roles from a claim (text or list), from lists (without case), the higher one winning', async (t) => {
  t.equal(roleOf('a@example.com', { groups: ['staff', 'leakgate-analysts'] }, roles), 'analyst')
  t.equal(roleOf('a@example.com', { groups: 'leakgate-admins' }, roles), 'admin')
  t.equal(roleOf('a@example.com', { groups: ['leakgate-analysts', 'leakgate-admins'] }, roles), 'admin')
  t.equal(roleOf('root@example.com', {}, roles), 'admin')
  t.equal(roleOf('carol@example.com', { groups: ['leakgate-admins'] }, roles), 'admin', 'the claim gives more than the list')
  t.equal(roleOf('CAROL@example.com', {}, roles), 'analyst')
  t.equal(roleOf('d@example.com', { groups: ['staff'] }, roles), undefined)
  t.equal(roleOf('d@example.com', { groups: [42, { x: 1 }] }, roles), undefined, 'values that are not text are ignored')
  t.equal(roleOf('d@example.com', { groups: ['constructor', '__proto__', 'toString'] }, roles), undefined, 'no role from Object\'s prototype')
  t.equal(roleOf('d@example.com', { roles: ['leakgate-admins'] }, roles), undefined, 'another claim gives nothing')
})

t.test('a person without a role, without the person claim, or with an unverified email is refused, saying why', async (t) => {
  const config = { personClaim: 'email', roles, name: 'Acme SSO' }
  t.same(signInOutcome({ email: 'carol@example.com' }, config), { person: 'carol@example.com', role: 'analyst' })
  t.match(signInOutcome({ email: 'dave@example.com', groups: ['staff'] }, config), { refused: /dave@example\.com has no role in Leakgate/ })
  t.match(signInOutcome({ sub: 'x' }, config), { refused: /Acme SSO did not say who you are \(no "email" claim\)/ })
  t.match(signInOutcome({ email: 'carol@example.com', email_verified: false }, config), { refused: /not verified your email/ })
  t.same(signInOutcome({ upn: 'carol@example.com' }, { ...config, personClaim: 'upn' }), { person: 'carol@example.com', role: 'analyst' })
})

t.test('OpenID Connect from env variables and the config file\'s object; incomplete setups are refused', async (t) => {
  const env = { LEAKGATE_OIDC_ISSUER: 'https://login.example.com', LEAKGATE_OIDC_CLIENT_ID: 'leakgate', LEAKGATE_OIDC_CLIENT_SECRET: 'not-a-real-secret', LEAKGATE_PUBLIC_URL: 'https://leakgate.example.com' }
  const c = loadControlPlaneConfig({ env: { ...env, LEAKGATE_OIDC_ROLES: '{"admins": ["alice@example.com"]}' } })
  t.match(c.oidc, { issuer: 'https://login.example.com', clientId: 'leakgate', clientSecret: 'not-a-real-secret', personClaim: 'email', sessionHours: 12, name: 'OpenID Connect' })
  t.same(c.oidc.scopes, ['openid', 'email', 'profile'])
  const both = loadControlPlaneConfig({ env: { ...env, LEAKGATE_OIDC: JSON.stringify({ name: 'Acme SSO', roles: { claim: 'groups', values: { ops: 'admin' } } }), LEAKGATE_OIDC_SESSION_HOURS: '8' } })
  t.match(both.oidc, { issuer: 'https://login.example.com', name: 'Acme SSO', sessionHours: 8, roles: { claim: 'groups', values: { ops: 'admin' } } }, 'field variables over the object\'s')
  t.equal(loadControlPlaneConfig({ env: {} }).oidc.issuer, '', 'off by default')
  t.throws(() => loadControlPlaneConfig({ env }), { message: /oidc\.roles \(LEAKGATE_OIDC_ROLES\) must give roles/ })
  t.throws(() => loadControlPlaneConfig({ env: { ...env, LEAKGATE_PUBLIC_URL: '', LEAKGATE_OIDC_ROLES: '{"admins": ["a@b.c"]}' } }), { message: /publicUrl option .* is required with oidc\.issuer/ })
  t.throws(() => loadControlPlaneConfig({ env: { ...env, LEAKGATE_OIDC_CLIENT_ID: '', LEAKGATE_OIDC: '{"clientId": ""}', LEAKGATE_OIDC_ROLES: '{"admins": ["a@b.c"]}' } }), { message: /oidc\.clientId \(LEAKGATE_OIDC_CLIENT_ID\) is required/ })
  t.throws(() => loadControlPlaneConfig({ env: { ...env, LEAKGATE_OIDC_ROLES: '{"values": {"x": "node"}, "claim": "groups"}' } }), { code: 'LEAKGATE_ERR_CONFIG', message: /oidc option/ }, 'a session role other than admin or analyst')
  const err = t.throws(() => loadControlPlaneConfig({ env: { ...env, LEAKGATE_OIDC_SESSION_HOURS: 'soon' } })) as Error
  t.match(err.message, /oidc\.sessionHours option from env LEAKGATE_OIDC_SESSION_HOURS must be a number/)
})
