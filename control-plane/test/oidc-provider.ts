/**
 * A real OpenID Connect provider for tests (oidc-provider on port 0, its own login and consent forms),
 * and a sign-in through it over plain HTTP, following redirects and submitting the forms as a browser
 * would, against a control plane under test (harness.ts, through app.inject): what a person's browser
 * does, without one.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
// @ts-expect-error: oidc-provider ships no type declarations
import Provider from 'oidc-provider'
import { generateKey } from '../store/keys.js'
import type { TestPlane, Teardown } from './harness.js'

/** The provider's people: login (any password) → their groups claim; anyone else has no group. */
export type People = Record<string, string[]>

/** A provider under test: its issuer URL and the secret of its one client. */
export interface TestProvider {
  issuer: string
  clientId: string
  clientSecret: string
}

/** The control plane's public URL in these tests: nothing listens there, requests to it go through app.inject. */
export const PUBLIC_URL = 'http://leakgate.test'

/** Starts oidc-provider with one confidential client whose redirect URI is `PUBLIC_URL`'s callback. */
export async function startProvider(t: Teardown, people: People): Promise<TestProvider> {
  const server: Server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const clientSecret = generateKey()
  const provider = new Provider(issuer, {
    clients: [{ client_id: 'leakgate-console', client_secret: clientSecret, redirect_uris: [`${PUBLIC_URL}/auth/oidc/callback`], grant_types: ['authorization_code'], response_types: ['code'] }],
    claims: { email: ['email', 'email_verified'], groups: ['groups'] },
    findAccount: (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: () => ({ sub: id, email: id, email_verified: true, groups: people[id] ?? [] }),
    }),
    pkce: { required: () => true },
    cookies: { keys: [generateKey()] },
    features: { devInteractions: { enabled: true } },
  }) as { callback(): (req: unknown, res: unknown) => void }
  server.on('request', provider.callback())
  return { issuer, clientId: 'leakgate-console', clientSecret }
}

/** The control plane's OpenID Connect options for `provider`, roles from the groups claim. */
export function oidcOptions(provider: TestProvider): Record<string, unknown> {
  return {
    publicUrl: PUBLIC_URL,
    oidc: {
      issuer: provider.issuer,
      clientId: provider.clientId,
      clientSecret: provider.clientSecret,
      scopes: ['openid', 'email', 'groups'],
      roles: { claim: 'groups', values: { 'leakgate-admins': 'admin', 'leakgate-analysts': 'analyst' } },
    },
  }
}

/** The cookies a browser keeps for one site (paths ignored: the provider's names do not collide). */
class CookieJar {
  readonly #cookies = new Map<string, string>()

  take(setCookie: string[] | string | undefined): void {
    for (const line of typeof setCookie === 'string' ? [setCookie] : setCookie ?? []) {
      const [pair = '', ...attributes] = line.split(';')
      const at = pair.indexOf('=')
      if (at === -1) continue
      const name = pair.slice(0, at).trim()
      const gone = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=.*1970/i.test(a))
      if (gone) this.#cookies.delete(name)
      else this.#cookies.set(name, pair.slice(at + 1).trim())
    }
  }

  header(): string {
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ')
  }
}

/** What signing in gave: the session as the console page takes it. */
export interface SignedIn {
  token: string
  keyId: string
  role: string
  person: string
  expiresAt: string
}

/**
 * Signs `login` in to `plane` through `provider`'s pages: the console's start, the provider's login
 * and consent forms, the callback, and the page's redeeming of the handoff cookie for its token.
 */
export async function signIn(plane: TestPlane, login: string): Promise<SignedIn> {
  const ours = new CookieJar()
  const theirs = new CookieJar()
  const start = await plane.call('GET', '/auth/oidc/start')
  if (start.statusCode !== 302) throw new Error(`/auth/oidc/start answered ${start.statusCode}: ${start.body}`)
  ours.take(start.headers['set-cookie'])
  let next: URL = new URL(String(start.headers.location))
  let form: { action: string; body: URLSearchParams } | undefined
  for (let step = 0; step < 20; step++) {
    if (next.origin === PUBLIC_URL) {
      // Back at the control plane: its callback, then the page takes the session with the handoff cookie.
      const callback = await plane.call('GET', `${next.pathname}${next.search}`, undefined, undefined, { cookie: ours.header() })
      if (callback.statusCode !== 303) throw new Error(`the callback answered ${callback.statusCode}: ${callback.body}`)
      ours.take(callback.headers['set-cookie'])
      const session = await plane.call('POST', '/auth/oidc/session', undefined, {}, { cookie: ours.header() })
      if (session.statusCode !== 200) throw new Error(`/auth/oidc/session answered ${session.statusCode}: ${session.body}`)
      return session.json()
    }
    const res = await fetch(next, {
      method: form === undefined ? 'GET' : 'POST',
      redirect: 'manual',
      headers: { cookie: theirs.header(), ...(form === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }) },
      ...(form === undefined ? {} : { body: form.body }),
    })
    theirs.take(res.headers.getSetCookie())
    form = undefined
    const location = res.headers.get('location')
    if (location !== null) {
      await res.arrayBuffer()
      next = new URL(location, next)
      continue
    }
    const html = await res.text()
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1]
    const prompt = /name="prompt" value="([a-z]+)"/.exec(html)?.[1]
    if (action === undefined || prompt === undefined) throw new Error(`the provider answered ${res.status} without a form to fill: ${html.slice(0, 300)}`)
    form = { action, body: new URLSearchParams(prompt === 'login' ? { prompt, login, password: 'any password' } : { prompt }) }
    next = new URL(action, next)
  }
  throw new Error('signing in took more than 20 steps')
}
