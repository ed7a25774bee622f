/**
 * Console sign-in through an OpenID Connect provider, with openid-client: the authorization code flow
 * with PKCE, state and nonce; the ID token is checked by openid-client (signature against the
 * provider's keys, issuer, audience, expiry, nonce). Who the person is comes from one claim
 * (`personClaim`, email by default), and their role from a claim's values and/or lists of people.
 *
 * The provider's metadata is fetched at the first sign-in, not at start: a provider that is down then
 * fails sign-ins (with a page that says so) while the control plane and its keys keep working.
 */
import * as client from 'openid-client'
import type { OidcConfig, OidcRolesConfig } from './config.js'
import { PERSON_MAX, type SessionRole } from './store/sessions.js'

/** The path the provider sends people back to, under the control plane's public URL. */
export const CALLBACK_PATH = '/auth/oidc/callback'

/** Claims of a person, from the ID token and the userinfo endpoint. */
export type Claims = Record<string, unknown>

/** Who signed in, or why they may not. */
export type SignInOutcome =
  | { person: string; role: SessionRole }
  | { refused: string }

/** The texts of a claim: a text, or a list of texts (other values are ignored). */
function textsOf(value: unknown): string[] {
  if (typeof value === 'string') return [value]
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string')
  return []
}

/**
 * The role `person` (with `claims`) has under `roles`: the highest any rule gives (admin over analyst),
 * or undefined when none gives one. People in the lists are compared without case (emails).
 */
export function roleOf(person: string, claims: Claims, roles: Readonly<OidcRolesConfig>): SessionRole | undefined {
  const given = new Set<SessionRole>()
  const who = person.toLowerCase()
  if (roles.admins?.some((p) => p.toLowerCase() === who) === true) given.add('admin')
  if (roles.analysts?.some((p) => p.toLowerCase() === who) === true) given.add('analyst')
  if (roles.claim !== undefined && roles.values !== undefined) {
    for (const value of textsOf(claims[roles.claim])) {
      // Own properties only: a claim value such as "constructor" must not reach Object's prototype.
      const role = Object.hasOwn(roles.values, value) ? roles.values[value] : undefined
      if (role !== undefined) given.add(role)
    }
  }
  if (given.has('admin')) return 'admin'
  if (given.has('analyst')) return 'analyst'
  return undefined
}

/** Who `claims` name and which role they have under `config`, or the reason they may not sign in. */
export function signInOutcome(claims: Claims, config: Readonly<Pick<OidcConfig, 'personClaim' | 'roles' | 'name'>>): SignInOutcome {
  const person = claims[config.personClaim]
  if (typeof person !== 'string' || person.trim() === '' || person.length > PERSON_MAX) {
    return { refused: `${config.name} did not say who you are (no "${config.personClaim}" claim). Ask your administrator to release it to Leakgate.` }
  }
  // An email the provider says it has not verified could be anyone's: it would name the wrong person.
  if (config.personClaim === 'email' && claims.email_verified === false) {
    return { refused: `${config.name} has not verified your email address (${person}), so Leakgate cannot tell it is yours.` }
  }
  const role = roleOf(person, claims, config.roles)
  if (role === undefined) {
    return { refused: `${person} has no role in Leakgate. Ask an administrator to make you an admin or an analyst.` }
  }
  return { person, role }
}

/** What `begin` answers: where to send the browser, and what the callback needs back. */
export interface AuthorizationStart {
  url: URL
  state: string
  nonce: string
  codeVerifier: string
}

/** The OpenID Connect client of one control plane. */
export class OidcClient {
  readonly #config: Readonly<OidcConfig>
  readonly #redirectUri: string
  #discovered: Promise<client.Configuration> | undefined

  constructor(config: Readonly<OidcConfig>, publicUrl: string) {
    this.#config = config
    this.#redirectUri = `${publicUrl.replace(/\/+$/, '')}${CALLBACK_PATH}`
  }

  /** The redirect URI registered with the provider. */
  get redirectUri(): string {
    return this.#redirectUri
  }

  /** The provider's metadata, fetched once (fetched again after a failure). */
  async #configuration(): Promise<client.Configuration> {
    this.#discovered ??= this.#discover().catch((err: unknown) => {
      this.#discovered = undefined
      throw err
    })
    return this.#discovered
  }

  async #discover(): Promise<client.Configuration> {
    const { issuer, clientId, clientSecret } = this.#config
    const url = new URL(issuer)
    // A provider on plain http is for tests and local trials only; openid-client refuses it unless told.
    const options = url.protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : {}
    return client.discovery(url, clientId, clientSecret, clientSecret === undefined ? client.None() : undefined, options)
  }

  /** A new authorization request: the provider's URL with PKCE, state and nonce, and those to keep. */
  async begin(): Promise<AuthorizationStart> {
    const configuration = await this.#configuration()
    const codeVerifier = client.randomPKCECodeVerifier()
    const state = client.randomState()
    const nonce = client.randomNonce()
    const url = client.buildAuthorizationUrl(configuration, {
      redirect_uri: this.#redirectUri,
      scope: this.#config.scopes.join(' '),
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    })
    return { url, state, nonce, codeVerifier }
  }

  /**
   * The claims of the person the provider sent back with `query` (the callback's: code and state):
   * the code is exchanged with the PKCE verifier, and the state and the ID token's nonce must be the
   * ones kept. Claims the ID token lacks are read from the userinfo endpoint (many providers put email
   * and groups there only), for the same subject.
   * @throws the error of openid-client when any check fails.
   */
  async finish(query: URLSearchParams, expected: { state: string; nonce: string; codeVerifier: string }): Promise<Claims> {
    const configuration = await this.#configuration()
    // The redirect URI sent with the code is this URL without its query: the public one, whatever
    // Host header or proxy path the request came through.
    const callbackUrl = new URL(this.#redirectUri)
    callbackUrl.search = query.toString()
    const tokens = await client.authorizationCodeGrant(configuration, callbackUrl, {
      pkceCodeVerifier: expected.codeVerifier,
      expectedState: expected.state,
      expectedNonce: expected.nonce,
      idTokenExpected: true,
    })
    const idClaims = tokens.claims()
    if (idClaims === undefined) throw new Error('the provider answered without an ID token')
    const claims: Claims = { ...idClaims }
    const wanted = [this.#config.personClaim, this.#config.roles.claim].filter((c): c is string => c !== undefined)
    if (wanted.some((c) => claims[c] === undefined) && configuration.serverMetadata().userinfo_endpoint !== undefined) {
      const info = await client.fetchUserInfo(configuration, tokens.access_token, idClaims.sub)
      for (const [name, value] of Object.entries(info)) if (claims[name] === undefined) claims[name] = value
    }
    return claims
  }
}
