/**
 * Console sign-in through OpenID Connect, in headless Chromium against a real provider (oidc-provider,
 * its own login form) and the real control plane: a person signs in, decides on a leak, and the audit
 * trail names them; a person with no role is refused; a forged, expired or revoked session token gets
 * 401; a callback whose state or nonce is not the one the sign-in began with is refused.
 */
import { createServer as createHttpServer, type Server } from 'node:http'
import { createServer as createNetServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import type { Page } from 'playwright-core'
// @ts-expect-error: oidc-provider ships no type declarations
import Provider from 'oidc-provider'
import { generateKey } from '../store/keys.js'
import { SessionRepo } from '../store/sessions.js'
import { cpFetch, demoSeeds, launchBrowser, makeKeys, openPage, seedLeaks, Stack, startControlPlane } from './console-harness.js'
import { openTestStore, storeSql } from './harness.js'

/** The provider's people: login (any password) → their claims. */
const PEOPLE: Record<string, { groups: string[] }> = {
  'alice@example.com': { groups: ['staff', 'leakgate-admins'] },
  'nobody@example.com': { groups: ['staff'] },
}

/** A TCP port free a moment ago, for the control plane (the provider must know its redirect URI first). */
async function freePort(): Promise<number> {
  const server = createNetServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** oidc-provider on port 0 with one confidential client for `redirectUri`; its issuer URL. */
async function startProvider(stack: Stack, redirectUri: string, clientSecret: string): Promise<string> {
  const server: Server = createHttpServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  stack.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const provider = new Provider(issuer, {
    clients: [{ client_id: 'leakgate-console', client_secret: clientSecret, redirect_uris: [redirectUri], grant_types: ['authorization_code'], response_types: ['code'] }],
    claims: { email: ['email', 'email_verified'], groups: ['groups'] },
    findAccount: (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: () => ({ sub: id, email: id, email_verified: true, groups: PEOPLE[id]?.groups ?? [] }),
    }),
    pkce: { required: () => true },
    cookies: { keys: [generateKey()] },
    features: { devInteractions: { enabled: true } },
  }) as { callback(): (req: unknown, res: unknown) => void }
  server.on('request', provider.callback())
  return issuer
}

// Five sign-ins through a real provider's pages: on a loaded machine they take longer than tap's default.
t.setTimeout(240_000)
const stack = new Stack()
t.teardown(stack.close)
const keys = makeKeys()
const cpPort = await freePort()
const publicUrl = `http://127.0.0.1:${cpPort}`
const clientSecret = generateKey()
const issuer = await startProvider(stack, `${publicUrl}/auth/oidc/callback`, clientSecret)
const cp = await startControlPlane(stack, keys, {
  LEAKGATE_CP_PORT: String(cpPort),
  LEAKGATE_PUBLIC_URL: publicUrl,
  LEAKGATE_OIDC_ISSUER: issuer,
  LEAKGATE_OIDC_CLIENT_ID: 'leakgate-console',
  LEAKGATE_OIDC_CLIENT_SECRET: clientSecret,
  LEAKGATE_OIDC_NAME: 'Acme SSO',
  LEAKGATE_OIDC_SCOPES: JSON.stringify(['openid', 'email', 'groups']),
  LEAKGATE_OIDC_ROLES: JSON.stringify({ claim: 'groups', values: { 'leakgate-admins': 'admin', 'leakgate-analysts': 'analyst' } }),
})
const seeds = demoSeeds().slice(0, 1)
const ids = await seedLeaks(cp.url, keys.admin, seeds)
const browser = await launchBrowser(stack)

/**
 * A page in a context of its own (openPage) that reaches only this machine: the provider's login pages
 * ask for remote fonts, which would only slow the test (and fail offline).
 */
async function localPage(tt: Parameters<typeof openPage>[1]): Promise<Page> {
  const { page } = await openPage(browser, tt)
  await page.context().route((url) => url.hostname !== '127.0.0.1', (route) => route.abort())
  return page
}

/** From the console's sign-in page, through the provider's login and consent forms, as `login`. */
async function signInAtProvider(page: Page, login: string): Promise<void> {
  await page.goto(`${cp.url}/`)
  await page.getByTestId('signin-oidc').click()
  await loginAtProvider(page, login)
}

t.test('a person signs in through the provider, decides on a leak, and the audit trail names them', async (tt) => {
  const page = await localPage(tt)
  const urls: string[] = []
  page.on('request', (req) => urls.push(req.url()))
  // The console's own errors; the provider's login pages (remote fonts, no favicon) are not under test.
  const problems: string[] = []
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`))
  page.on('console', (msg) => {
    if (msg.type() === 'error' && page.url().startsWith(cp.url)) problems.push(`console error: ${msg.text()} (${msg.location().url})`)
  })
  await page.goto(`${cp.url}/`)
  tt.equal(await page.getByTestId('signin-oidc').innerText(), 'Sign in with Acme SSO', 'offered beside the key form')
  tt.equal(await page.getByTestId('signin-key').count(), 1, 'the key form stays')

  await signInAtProvider(page, 'alice@example.com')
  await page.getByTestId('whoami').waitFor()
  tt.equal(await page.getByTestId('person').innerText(), 'alice@example.com', 'the header names the person')
  tt.equal(await page.getByTestId('role').textContent(), 'admin', 'the role from the groups claim')
  tt.equal(new URL(page.url()).hash, '#/', 'the page left #/signed-in')
  const token = await page.evaluate(() => sessionStorage.getItem('leakgate.apiKey'))
  tt.match(token, /^lgs_[0-9A-Za-z]{40}$/, 'the tab holds a session token')
  tt.notOk(urls.some((u) => u.includes(token ?? 'none')), 'the token was in no URL the browser requested')
  tt.notOk((await page.context().cookies()).some((c) => c.value === token), 'nor in a cookie')

  const me = await cpFetch<{ keyId: string; role: string; person: string }>(cp.url, token ?? '', '/v1/me')
  tt.match(me.body, { role: 'admin', person: 'alice@example.com', keyId: /^session_[0-9a-f]{8}$/ })

  const seed = seeds[0]!
  await page.getByRole('link', { name: seed.title }).click()
  await page.getByTestId('leak-detail').waitFor()
  await page.getByTestId('decision-comment').fill('blocked after the SSO sign-in')
  await page.getByTestId('decision-block').click()
  // Block asks first.
  await page.getByTestId('confirm-ok').click()
  const entry = page.getByTestId('audit-trail').locator('li', { hasText: 'blocked after the SSO sign-in' })
  await entry.waitFor()
  tt.match(await entry.innerText(), new RegExp(`alice@example\\.com via ${me.body.keyId}`), 'the audit trail names the person and the session')
  const detail = await cpFetch<{ decisions: Array<{ actor: string; comment: string | null }> }>(cp.url, keys.admin, `/v1/leaks/${ids.get(seed.title)}`)
  tt.ok(detail.body.decisions.some((d) => d.actor === `alice@example.com via ${me.body.keyId}`), 'as the API records it')

  // A second tab of this browser is signed in with the same session.
  const second = await page.context().newPage()
  await second.goto(`${cp.url}/#/audit`)
  await second.getByTestId('person').waitFor()
  tt.equal(await second.getByTestId('person').innerText(), 'alice@example.com')

  await page.getByTestId('signout').click()
  await page.getByTestId('signin-form').waitFor()
  await second.getByTestId('signin-form').waitFor()
  tt.equal((await cpFetch(cp.url, token ?? '', '/v1/me')).status, 401, 'signing out revoked the session on the control plane')
  tt.same(problems, [], 'no error on the console\'s pages')
})

t.test('a person with no Leakgate role is refused with a page that says so, and gets no session', async (tt) => {
  const page = await localPage(tt)
  await signInAtProvider(page, 'nobody@example.com')
  await page.getByTestId('oidc-problem').waitFor()
  tt.equal(await page.locator('h1').innerText(), 'No access to Leakgate')
  tt.match(await page.getByTestId('oidc-problem-detail').innerText(), /nobody@example\.com has no role in Leakgate/)
  await page.getByRole('link', { name: 'Back to sign-in' }).click()
  await page.getByTestId('signin-form').waitFor()
  tt.equal(await page.evaluate(() => sessionStorage.length), 0)
})

t.test('forged, expired and revoked session tokens get 401', async (tt) => {
  const forged = `lgs_${generateKey().slice(4)}`
  const res = await cpFetch(cp.url, forged, '/v1/leaks')
  tt.equal(res.status, 401, 'forged')

  // Sessions made straight in the store, as the callback makes them.
  const store = await openTestStore(tt, cp.dataDir)
  tt.teardown(() => store.close())
  const sessions = new SessionRepo(storeSql(tt, store))
  const live = (await sessions.redeem(await sessions.start('carol@example.com', 'analyst', 3600)))!
  tt.equal((await cpFetch(cp.url, live.token, '/v1/leaks')).status, 200, 'a live session works')
  tt.equal((await cpFetch(cp.url, live.token, '/v1/leaks', { method: 'POST', body: {} })).status, 403, 'as an analyst only')
  await storeSql(tt, store).run('UPDATE sessions SET expires_at = ? WHERE session_id = ?', [new Date(Date.now() - 1000).toISOString(), live.principal.keyId])
  tt.equal((await cpFetch(cp.url, live.token, '/v1/leaks')).status, 401, 'expired')

  const other = (await sessions.redeem(await sessions.start('carol@example.com', 'analyst', 3600)))!
  tt.equal((await cpFetch(cp.url, other.token, '/v1/sign-out', { method: 'POST' })).status, 204)
  tt.equal((await cpFetch(cp.url, other.token, '/v1/leaks')).status, 401, 'revoked by signing out')
})

/** Starts a sign-in through the API of `page`'s browser context (its cookies), not following the redirect: the provider's URL. */
async function startSignIn(page: Page): Promise<URL> {
  const res = await page.context().request.get(`${cp.url}/auth/oidc/start`, { maxRedirects: 0 })
  const location = res.headers().location
  if (res.status() !== 302 || location === undefined) throw new Error(`/auth/oidc/start answered ${res.status()}`)
  return new URL(location)
}

/** At the provider's login and consent forms, as `login`; ends where the provider sends the browser back. */
async function loginAtProvider(page: Page, login: string): Promise<void> {
  await page.locator('input[name=login]').fill(login)
  await page.locator('input[name=password]').fill('any password')
  await page.locator('button[type=submit]').click()
  await page.getByRole('button', { name: 'Continue' }).click()
}

t.test('a callback whose state is not the one this browser began is refused; so is one replayed', async (tt) => {
  const page = await localPage(tt)
  const first = await startSignIn(page)
  // A second sign-in in the same browser: its state is the one the browser now holds.
  await startSignIn(page)
  await page.goto(first.href)
  await loginAtProvider(page, 'alice@example.com')
  await page.getByTestId('oidc-problem').waitFor()
  tt.match(await page.getByTestId('oidc-problem-detail').innerText(), /not started in this browser/)
  tt.equal(await page.evaluate(() => sessionStorage.length), 0)

  // A callback that worked, replayed: its sign-in was taken and its cookie is gone.
  const other = await localPage(tt)
  let callback = ''
  other.on('request', (req) => {
    if (req.url().startsWith(`${cp.url}/auth/oidc/callback?`)) callback = req.url()
  })
  await signInAtProvider(other, 'alice@example.com')
  await other.getByTestId('person').waitFor()
  await other.goto(callback)
  await other.getByTestId('oidc-problem').waitFor()
  tt.equal(await other.locator('h1').innerText(), 'Sign-in not completed')
})

t.test('an ID token whose nonce is not the sign-in\'s is refused', async (tt) => {
  const page = await localPage(tt)
  // The authorization request reaches the provider with another nonce: the ID token carries that one.
  const authorize = await startSignIn(page)
  authorize.searchParams.set('nonce', 'a-nonce-this-sign-in-never-made')
  await page.goto(authorize.href)
  await loginAtProvider(page, 'alice@example.com')
  await page.getByTestId('oidc-problem').waitFor()
  tt.match(await page.getByTestId('oidc-problem-detail').innerText(), /could not be checked/)
  tt.equal(await page.evaluate(() => sessionStorage.length), 0)
})
