/**
 * The credential extraction as it was before the reader table (node/credentials.ts), kept only so that
 * bench/credentials.bench.ts can compare both in one process. Not used by the node.
 *
 * It allocates only what it returns and never throws on malformed input.
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { CredentialPlace } from '../node/config.js'

/** The compiled form of the configured places, made once at start. */
export interface CredentialPlan {
  /** Lowercased header names whose value is `<scheme> <credential>` (Bearer, Basic, or any other). */
  readonly authHeaders: readonly string[]
  /** Lowercased header names whose whole value is a credential. */
  readonly plainHeaders: readonly string[]
  /** Query parameter names (exact, case-sensitive as servers read them). */
  readonly queryNames: ReadonlySet<string>
  /** Cookie names. */
  readonly cookieNames: ReadonlySet<string>
  readonly maxCredentials: number
  readonly maxCredentialLength: number
}

/** Why extraction stopped: the request is answered 400 instead of being checked partly. */
export const TOO_MANY = -1
export const TOO_LONG = -2

const AUTH_HEADERS = new Set(['authorization', 'proxy-authorization'])

/** Compiles the configured places and limits. */
export function compilePlan(places: readonly CredentialPlace[], limits: { maxCredentials: number; maxCredentialLength: number }): CredentialPlan {
  const authHeaders: string[] = []
  const plainHeaders: string[] = []
  const queryNames = new Set<string>()
  const cookieNames = new Set<string>()
  for (const place of places) {
    if (place.in === 'header') {
      const name = place.name.toLowerCase()
      const list = AUTH_HEADERS.has(name) ? authHeaders : plainHeaders
      // CGI, WSGI and Rack stacks read `X_API_KEY` as `X-API-Key` (both become HTTP_X_API_KEY), and node
      // forwards such headers: every spelling with `_` for `-` is a place too.
      for (const spelling of underscoreSpellings(name)) if (!list.includes(spelling)) list.push(spelling)
    } else if (place.in === 'query') {
      queryNames.add(place.name)
    } else if (place.in === 'cookie') {
      cookieNames.add(place.name) // the old extraction had no path place
    }
  }
  return { authHeaders, plainHeaders, queryNames, cookieNames, ...limits }
}

/** `x-api-key` → x-api-key, x_api-key, x-api_key, x_api_key (every `-` either way; all `_` past 4 dashes). */
function underscoreSpellings(name: string): string[] {
  const parts = name.split('-')
  if (parts.length === 1) return [name]
  if (parts.length > 5) return [name, parts.join('_')]
  const out: string[] = []
  for (let mask = 0; mask < 2 ** (parts.length - 1); mask++) {
    let spelled = parts[0]!
    for (let i = 1; i < parts.length; i++) spelled += ((mask >> (i - 1)) & 1 ? '_' : '-') + parts[i]!
    out.push(spelled)
  }
  return out
}

/**
 * Collects every credential of a request into `out` (cleared first), without duplicates.
 * @returns the number found, or `TOO_MANY` / `TOO_LONG` when a limit is passed.
 */
export function extractCredentials(plan: CredentialPlan, headers: IncomingHttpHeaders, url: string, out: string[]): number {
  out.length = 0
  for (let i = 0; i < plan.authHeaders.length; i++) {
    const value = headers[plan.authHeaders[i] as string]
    if (typeof value === 'string' && value !== '') {
      const r = addAuthorization(plan, value, out)
      if (r < 0) return r
    }
  }
  for (let i = 0; i < plan.plainHeaders.length; i++) {
    const value = headers[plan.plainHeaders[i] as string]
    if (value === undefined) continue
    if (typeof value === 'string') {
      const r = addHeaderList(plan, value, out)
      if (r < 0) return r
    } else {
      for (const v of value) {
        const r = addHeaderList(plan, v, out)
        if (r < 0) return r
      }
    }
  }
  if (plan.queryNames.size > 0) {
    const q = url.indexOf('?')
    if (q !== -1) {
      const r = addQuery(plan, url, q + 1, out)
      if (r < 0) return r
    }
  }
  if (plan.cookieNames.size > 0) {
    const cookie = headers.cookie
    if (typeof cookie === 'string' && cookie !== '') {
      const r = addCookies(plan, cookie, out)
      if (r < 0) return r
    }
  }
  return out.length
}

function add(plan: CredentialPlan, value: string, out: string[]): number {
  if (value === '') return 0
  if (value.length > plan.maxCredentialLength) return TOO_LONG
  if (out.includes(value)) return 0
  if (out.length >= plan.maxCredentials) return TOO_MANY
  out.push(value)
  return 0
}

/** `Bearer t`, `Basic b64`, `Token t`, or a bare `t`: the credential part is checked whatever the scheme. */
function addAuthorization(plan: CredentialPlan, value: string, out: string[]): number {
  const v = value.trim()
  // The scheme ends at the first space or tab: many servers split on any whitespace (`Bearer\tT`).
  let space = v.indexOf(' ')
  const tab = v.indexOf('\t')
  if (tab !== -1 && (space === -1 || tab < space)) space = tab
  if (space === -1) {
    const lower = v.toLowerCase()
    return lower === 'bearer' || lower === 'basic' ? 0 : add(plan, v, out) // empty scheme: nothing to check
  }
  const scheme = v.slice(0, space)
  const param = v.slice(space + 1).trim()
  if (scheme.length === 5 && scheme.toLowerCase() === 'basic') return addBasic(plan, param, out)
  return add(plan, param, out)
}

const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/

const NOT_BASE64 = /[^A-Za-z0-9+/_-]/g

/**
 * Basic: the `user:password` pair, the password alone (many APIs take a token as the Basic password)
 * and the user name alone (others, like Stripe, take it there and ignore the password). Base64 is
 * decoded leniently, as Node's and Python's decoders do (extra padding, stray characters, inner
 * spaces), since the upstream will; a value that is not clean Base64 is also checked as sent.
 */
function addBasic(plan: CredentialPlan, param: string, out: string[]): number {
  if (param === '') return 0
  if (param.length > plan.maxCredentialLength * 2) return TOO_LONG
  let b64 = param
  if (!BASE64.test(param)) {
    const r = add(plan, param, out)
    if (r < 0) return r
    b64 = param.replace(NOT_BASE64, '')
    if (b64 === '') return 0
  }
  const decoded = Buffer.from(b64, 'base64').toString('utf8')
  let r = add(plan, decoded, out)
  const colon = decoded.indexOf(':')
  if (r < 0 || colon === -1) return r
  r = add(plan, decoded.slice(colon + 1), out)
  if (r < 0) return r
  return add(plan, decoded.slice(0, colon), out)
}

/** Repeated headers reach us joined by `, `; each part is checked, and the whole value too. */
function addHeaderList(plan: CredentialPlan, value: string, out: string[]): number {
  const v = value.trim()
  const r = add(plan, v, out)
  if (r < 0 || v.indexOf(',') === -1) return r
  for (const part of v.split(',')) {
    const p = add(plan, part.trim(), out)
    if (p < 0) return p
  }
  return 0
}

/**
 * Every `name=value` of the query, to the end of the target: node:http accepts a `#` there and the
 * forwarder sends the target as it came, so what follows a `#` reaches the upstream and is checked too.
 * Linear in the URL: the next `=` is searched for once, not again for each `&`.
 */
function addQuery(plan: CredentialPlan, url: string, start: number, out: string[]): number {
  const end = url.length
  let i = start
  let eq = -1
  while (i < end) {
    let amp = url.indexOf('&', i)
    if (amp === -1) amp = end
    if (eq !== Infinity && eq < i) {
      eq = url.indexOf('=', i)
      if (eq === -1) eq = Infinity
    }
    if (eq < amp) {
      const name = decodeComponent(url.slice(i, eq), false)
      if (plan.queryNames.has(name)) {
        const raw = url.slice(eq + 1, amp)
        const r = addQueryValue(plan, raw, out)
        if (r < 0) return r
      }
    }
    i = amp + 1
  }
  return 0
}

/** Servers read `+` as a space in a query; a client may have meant a literal `+` (Base64): check both. */
function addQueryValue(plan: CredentialPlan, raw: string, out: string[]): number {
  if (raw.length > plan.maxCredentialLength * 3) return TOO_LONG
  let r = add(plan, decodeComponent(raw, true), out)
  if (r < 0) return r
  if (raw.indexOf('+') !== -1) r = add(plan, decodeComponent(raw, false), out)
  // Servers that cut a fragment read the value up to `#`; others read all of it: check both.
  const hash = raw.indexOf('#')
  if (r < 0 || hash === -1) return r
  return add(plan, decodeComponent(raw.slice(0, hash), true), out)
}

function decodeComponent(s: string, plusIsSpace: boolean): string {
  const t = plusIsSpace && s.indexOf('+') !== -1 ? s.replaceAll('+', ' ') : s
  if (t.indexOf('%') === -1) return t
  try {
    return decodeURIComponent(t)
  } catch {
    return t // malformed escapes: check the value as sent
  }
}

function addCookies(plan: CredentialPlan, cookie: string, out: string[]): number {
  let i = 0
  let eq = -1
  while (i < cookie.length) {
    let semi = cookie.indexOf(';', i)
    if (semi === -1) semi = cookie.length
    if (eq !== Infinity && eq < i) {
      eq = cookie.indexOf('=', i)
      if (eq === -1) eq = Infinity
    }
    if (eq < semi) {
      const name = cookie.slice(i, eq).trim()
      if (plan.cookieNames.has(name)) {
        let value = cookie.slice(eq + 1, semi).trim()
        if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1)
        const r = add(plan, decodeComponent(value, false), out)
        if (r < 0) return r
        if (value.indexOf('%') !== -1) {
          const r2 = add(plan, value, out)
          if (r2 < 0) return r2
        }
      }
    }
    i = semi + 1
  }
  return 0
}
