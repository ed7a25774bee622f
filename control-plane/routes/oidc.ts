/**
 * Console sign-in through OpenID Connect (control-plane/oidc.ts), and signing out of a session.
 *
 *   GET  /auth/oidc           public: is it on, and the provider's name for the sign-in button
 *   GET  /auth/oidc/start     public: puts a new sign-in (state, nonce, PKCE verifier) in an
 *                             HttpOnly cookie, and its hashes in the store, redirects to the provider
 *   GET  /auth/oidc/callback  public: the provider's answer; the state must be the cookie's and one
 *                             begun here; the code is exchanged and the ID token checked; a person
 *                             with a role gets a session, handed over as a one-time code in an HttpOnly
 *                             SameSite=Strict cookie, then is sent to the console (`/#/signed-in`)
 *   POST /auth/oidc/session   public: the console page redeems that cookie's code for the session's
 *                             token, in the answer body: the token is never in a URL
 *   POST /v1/sign-out         ends the caller's console session (for a key: nothing to end)
 *
 * The routes outside `/v1` take no Authorization header: the state and handoff cookies, which pages of
 * other sites cannot send (SameSite) nor read (HttpOnly), are what ties each step to the browser that
 * began it. Pages shown by the callback (a refusal, a failure) carry the console's CSP and stylesheet.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { RateLimitedError, UnauthorizedError } from '../../lib/errors.js'
import { bearerKey, principalOf } from '../auth.js'
import { CONSOLE_CSP } from '../console/plugin.js'
import type { RouteContext } from '../context.js'
import { OidcClient, signInOutcome } from '../oidc.js'
import { actorOf } from '../store/keys.js'
import { SESSION_PREFIX } from '../store/sessions.js'
import { problems } from './schemas.js'

/**
 * Sign-in steps one client address may take in a minute: each start keeps a row in the store for ten
 * minutes, so an unbounded caller could fill it. Generous, since a whole office may share an address.
 */
const SIGN_IN_STEPS_PER_MINUTE = 60

const LOGIN_COOKIE = 'leakgate_oidc_login'
const HANDOFF_COOKIE = 'leakgate_oidc_handoff'

/** The value of cookie `name` in a request's Cookie header, or undefined. */
function cookieOf(request: FastifyRequest, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=')
    if (at !== -1 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim()
  }
  return undefined
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c)

/** A page of the console's look saying why sign-in did not happen, with a way back. */
function sendPage(reply: FastifyReply, status: number, title: string, detail: string): FastifyReply {
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)} · Leakgate</title>
<link rel="stylesheet" href="/assets/style.css">
</head>
<body>
<main class="signin-page" id="main">
<div class="signin card" data-testid="oidc-problem">
<div class="brand brand-large"><span class="brand-mark" aria-hidden="true"></span>Leakgate</div>
<h1>${escapeHtml(title)}</h1>
<p role="alert" data-testid="oidc-problem-detail">${escapeHtml(detail)}</p>
<a class="btn btn-primary" href="/">Back to sign-in</a>
</div>
</main>
</body>
</html>
`
  return reply.code(status).header('content-security-policy', CONSOLE_CSP).header('referrer-policy', 'no-referrer').type('text/html; charset=utf-8').send(html)
}

const routes: FastifyPluginAsync<RouteContext> = async (app, ctx) => {
  const oidc = ctx.config.oidc
  const enabled = oidc.issuer !== ''

  app.get('/auth/oidc', {
    schema: {
      summary: 'Whether the console offers sign-in through OpenID Connect, and with which provider',
      tags: ['auth'],
      security: [],
      response: { 200: { type: 'object', required: ['enabled'], properties: { enabled: { type: 'boolean' }, name: { type: 'string' } } } },
    },
  }, async () => (enabled ? { enabled: true, name: oidc.name } : { enabled: false }))

  app.post('/v1/sign-out', {
    config: { roles: ['analyst'] },
    schema: {
      summary: "Ends the caller's console session (a session token stops working at once; a key is left as it is)",
      tags: ['auth'],
      response: { 204: { type: 'null' }, ...problems(401, 429) },
    },
  }, async (request, reply) => {
    const token = bearerKey(request.headers.authorization)
    if (token?.startsWith(SESSION_PREFIX) === true) {
      await ctx.store.sessions.revoke(token, actorOf(principalOf(request)))
      request.log.info({ session: principalOf(request).keyId }, 'console session ended (signed out)')
    }
    return reply.code(204).send()
  })

  if (!enabled) return
  const client = new OidcClient(oidc, ctx.config.publicUrl)
  const limiter = app.createRateLimit({ max: SIGN_IN_STEPS_PER_MINUTE, timeWindow: 60_000, keyGenerator: (request) => `oidc:${request.ip}` })
  /** Seconds to wait when `request`'s address is past the limit, else 0. */
  const overLimit = async (request: FastifyRequest): Promise<number> => {
    const state = await limiter(request)
    return !state.isAllowed && state.isExceeded ? Math.max(state.ttlInSeconds, 1) : 0
  }
  const limitedPage = (reply: FastifyReply, wait: number): FastifyReply =>
    sendPage(reply.header('retry-after', String(wait)), 429, 'Too many sign-ins', `Too many sign-ins from this address. Try again in ${wait} s.`)
  // Cookies go over https only when the console is served over https (a local trial on http works too).
  const secure = ctx.config.publicUrl.startsWith('https:') ? '; Secure' : ''

  app.get('/auth/oidc/start', {
    schema: { summary: `Starts sign-in: redirects to the OpenID Connect provider`, tags: ['auth'], security: [], response: { 302: { type: 'null' } } },
  }, async (request, reply) => {
    const wait = await overLimit(request)
    if (wait > 0) return limitedPage(reply, wait)
    let start
    try {
      start = await client.begin()
    } catch (err) {
      request.log.error({ err: { message: (err as Error).message }, issuer: oidc.issuer }, 'OpenID Connect: the provider\'s metadata could not be read')
      return sendPage(reply, 502, 'Sign-in is unavailable', `Leakgate could not reach ${oidc.name} to start signing you in. Try again later, or sign in with an API key.`)
    }
    // The browser keeps the sign-in's secrets (openid-client's random values are base64url: no dots);
    // the store keeps the hashes, to take the sign-in once, on any replica.
    const login = `${start.state}.${start.nonce}.${start.codeVerifier}`
    await ctx.store.sessions.beginLogin(start.state, login)
    // Lax, not Strict: the provider's redirect back is a navigation from another site, which must carry it.
    reply.header('set-cookie', `${LOGIN_COOKIE}=${login}; Path=/auth/oidc/callback; Max-Age=600; HttpOnly; SameSite=Lax${secure}`)
    return reply.redirect(start.url.href, 302)
  })

  app.get('/auth/oidc/callback', {
    schema: { summary: 'Where the provider sends people back; starts a console session', tags: ['auth'], security: [], response: { 303: { type: 'null' } } },
  }, async (request, reply) => {
    const wait = await overLimit(request)
    if (wait > 0) return limitedPage(reply, wait)
    const query = new URLSearchParams(request.url.slice(request.url.indexOf('?') + 1))
    const clearLogin = `${LOGIN_COOKIE}=; Path=/auth/oidc/callback; Max-Age=0; HttpOnly; SameSite=Lax${secure}`
    reply.header('set-cookie', clearLogin)
    const state = query.get('state')
    const login = cookieOf(request, LOGIN_COOKIE) ?? ''
    const [fromCookie, nonce, codeVerifier] = login.split('.')
    // A callback this browser did not start (another's link, a replayed one) is never exchanged.
    if (state === null || state !== fromCookie || nonce === undefined || codeVerifier === undefined) {
      request.log.warn('OpenID Connect: a callback whose state is not the one this browser started with; refused')
      return sendPage(reply, 400, 'Sign-in not completed', 'This sign-in was not started in this browser, or it has expired. Start again from the sign-in page.')
    }
    if (!await ctx.store.sessions.takeLogin(state, login)) {
      return sendPage(reply, 400, 'Sign-in not completed', 'This sign-in has expired or was already used. Start again from the sign-in page.')
    }
    const providerError = query.get('error')
    if (providerError !== null) {
      request.log.info({ error: providerError.slice(0, 100) }, 'OpenID Connect: the provider answered an error')
      return sendPage(reply, 403, 'Sign-in not completed', `${oidc.name} did not sign you in (${providerError.slice(0, 100)}). Start again from the sign-in page.`)
    }
    let claims
    try {
      claims = await client.finish(query, { state, nonce, codeVerifier })
    } catch (err) {
      // openid-client's messages name the failed check (nonce, audience, signature...), never a token.
      request.log.warn({ err: { message: (err as Error).message, code: (err as { code?: string }).code } }, 'OpenID Connect: the code exchange or the ID token check failed')
      return sendPage(reply, 400, 'Sign-in not completed', `${oidc.name}'s answer could not be checked, so you are not signed in. Start again; if it keeps failing, tell your administrator.`)
    }
    const outcome = signInOutcome(claims, oidc)
    if ('refused' in outcome) {
      request.log.info({ reason: outcome.refused }, 'OpenID Connect: sign-in refused')
      return sendPage(reply, 403, 'No access to Leakgate', outcome.refused)
    }
    const code = await ctx.store.sessions.start(outcome.person, outcome.role, Math.round(oidc.sessionHours * 3600))
    request.log.info({ person: outcome.person, role: outcome.role }, 'OpenID Connect: signed in')
    reply.header('set-cookie', [clearLogin, `${HANDOFF_COOKIE}=${code}; Path=/auth/oidc/session; Max-Age=120; HttpOnly; SameSite=Strict${secure}`])
    return reply.redirect('/#/signed-in', 303)
  })

  app.post('/auth/oidc/session', {
    schema: {
      summary: 'The console page takes its session token (once) for the handoff cookie the callback set',
      tags: ['auth'],
      security: [],
      body: { type: 'object', additionalProperties: false, properties: {} },
      response: {
        200: {
          type: 'object', required: ['token', 'keyId', 'role', 'person', 'expiresAt'],
          properties: { token: { type: 'string' }, keyId: { type: 'string' }, role: { type: 'string' }, person: { type: 'string' }, expiresAt: { type: 'string' } },
        },
        ...problems(401, 429),
      },
    },
  }, async (request, reply) => {
    const wait = await overLimit(request)
    if (wait > 0) {
      reply.header('retry-after', String(wait))
      throw new RateLimitedError(`too many sign-ins from this address; try again in ${wait} s`)
    }
    const code = cookieOf(request, HANDOFF_COOKIE)
    reply.header('set-cookie', `${HANDOFF_COOKIE}=; Path=/auth/oidc/session; Max-Age=0; HttpOnly; SameSite=Strict${secure}`)
    const issued = code === undefined ? undefined : await ctx.store.sessions.redeem(code)
    if (issued === undefined) {
      throw new UnauthorizedError('there is no sign-in waiting for this browser (it was used, or is older than two minutes); sign in again')
    }
    return { token: issued.token, keyId: issued.principal.keyId, role: issued.principal.role, person: issued.principal.person, expiresAt: issued.expiresAt }
  })
}

export default routes
