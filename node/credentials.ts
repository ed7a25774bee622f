/**
 * Where a request's credentials are found: every value a mainstream server stack could read as the
 * credential, in every configured place.
 *
 * One principle: for each place, the node derives every candidate that some reader (Express, Rails,
 * Django, Flask, PHP, Go, Tomcat, ASP.NET…) could take as the credential: the value as sent, its pieces
 * between the separators those stacks split on, in each decoding they apply, under each name
 * normalisation they apply. A request is blocked when any candidate is a blocked leak (verdict.ts).
 * The readers are the rows of `READERS`, one row a way of reading, each tested on its own.
 *
 * This runs on every request before the proxy does any work: a clean value (no separator, no escape,
 * nothing outside ASCII) takes a fast path that yields the value alone, so a plain `Bearer <token>`
 * allocates one string. It never throws on malformed input: what cannot be decoded is checked as sent.
 */
import { isAscii } from 'node:buffer'
import type { IncomingHttpHeaders } from 'node:http'
import type { CredentialPlace } from './config.js'

/** The compiled form of the configured places, made once at start. */
export interface CredentialPlan {
  /** Lowercased header names whose value is `<scheme> <credential>` (Bearer, Basic, or any other). */
  readonly authHeaders: readonly string[]
  /** Lowercased header names whose whole value is a credential. */
  readonly plainHeaders: readonly string[]
  /** Query (and body) parameter names, normalised by `normaliseParameterName`. */
  readonly parameterNames: ReadonlySet<string>
  /** Cookie names, normalised by `normaliseParameterName` (PHP mangles cookie names the same way). */
  readonly cookieNames: ReadonlySet<string>
  /** Whether path segments are a place (`{ in: 'path' }`). */
  readonly pathSegments: boolean
  /** Candidates a request may have (all places, all readers): more is answered 400. */
  readonly maxCredentials: number
  /** A longer candidate is answered 400. */
  readonly maxCredentialLength: number
  /** Pieces shorter than this are not looked up; a place's primary value always is. */
  readonly minCandidateLength: number
}

/** The limits `compilePlan` takes (NodeConfig has them). */
export interface PlanLimits {
  maxCredentials: number
  maxCredentialLength: number
  minCandidateLength?: number
}

/** Why extraction stopped: the request is answered 400 instead of being checked partly. */
export const TOO_MANY = -1
export const TOO_LONG = -2

/** Default of `minCandidateLength`: shorter than any API token we know of, longer than most words. */
export const DEFAULT_MIN_CANDIDATE_LENGTH = 8

const AUTH_HEADERS = new Set(['authorization', 'proxy-authorization'])

/** Compiles the configured places and limits. */
export function compilePlan(places: readonly CredentialPlace[], limits: PlanLimits): CredentialPlan {
  const authHeaders: string[] = []
  const plainHeaders: string[] = []
  const parameterNames = new Set<string>()
  const cookieNames = new Set<string>()
  let pathSegments = false
  for (const place of places) {
    if (place.in === 'header') {
      const name = place.name.toLowerCase()
      const list = AUTH_HEADERS.has(name) ? authHeaders : plainHeaders
      // CGI, WSGI and Rack stacks read `X_API_KEY` as `X-API-Key` (both become HTTP_X_API_KEY), and node
      // forwards such headers: every spelling with `_` for `-` is a place too.
      for (const spelling of underscoreSpellings(name)) if (!list.includes(spelling)) list.push(spelling)
    } else if (place.in === 'query') {
      parameterNames.add(normaliseParameterName(place.name))
    } else if (place.in === 'cookie') {
      cookieNames.add(normaliseParameterName(place.name))
    } else {
      pathSegments = true
    }
  }
  return {
    authHeaders,
    plainHeaders,
    parameterNames,
    cookieNames,
    pathSegments,
    maxCredentials: limits.maxCredentials,
    maxCredentialLength: limits.maxCredentialLength,
    minCandidateLength: limits.minCandidateLength ?? DEFAULT_MIN_CANDIDATE_LENGTH,
  }
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

// ---------------------------------------------------------------------------------------------------
// The readers
// ---------------------------------------------------------------------------------------------------

/**
 * What a reader is given. `authorization`: an Authorization header's value; `basic`: a Basic
 * parameter; `basic-bytes`: Base64-decoded bytes (one char a byte); `basic-pair`: a decoded
 * `user:password`; `header`: another header's value; `query`: a query string; `parameter`: a named
 * parameter's value as sent; `cookie-header`: a Cookie header; `cookie`: a cookie's value as sent;
 * `path`: a path segment as sent; `text`: any value read further for its pieces; `auth-param`: a
 * piece that may be `name=value`.
 */
export type Stage =
  | 'authorization' | 'basic' | 'basic-bytes' | 'basic-pair' | 'header' | 'query' | 'parameter'
  | 'cookie-header' | 'cookie' | 'path' | 'text' | 'auth-param'

/** Where a reader puts what it reads. */
export interface Sink {
  /** What the place's common reader reads: looked up whatever its length, then read by `next`. */
  primary(value: string, next?: Stage): void
  /** What another reader may read: looked up when at least `minCandidateLength` long. */
  piece(value: string, next?: Stage): void
  /** Not a credential itself, but read further by the `next` readers. */
  via(value: string, next: Stage): void
  /** A named parameter found in a query or cookie header: matched against the plan's names. */
  named(name: string, value: string, kind: 'parameter' | 'cookie'): void
}

/** One way a server stack reads a place: a row of the table. */
export interface Reader {
  /** Which stacks read this way, and what they do. */
  readonly reader: string
  readonly place: Stage
  readonly derive: (value: string, sink: Sink) => void
}

/**
 * Every reader, by place. A candidate reaches the index when any row yields it; rows hand values on
 * to other places (`next`), so a decoded Basic pair is split like any pair, a decoded query value is
 * split like any text. Pieces shorter than `minCandidateLength` are dropped before they are read further.
 * The `query` and `cookie-header` rows are called by `extractCredentials` itself, on the request's own
 * strings; the fast paths there (a plain value alone) yield what these rows would for such a value.
 */
export const READERS: readonly Reader[] = [
  // Authorization and Proxy-Authorization, any scheme.
  { reader: 'RFC 9110 (most stacks): the scheme ends at the first space or tab; the parameter, trimmed; a bare value whole', place: 'authorization', derive: schemeAndParameter },
  { reader: 'Express `split(" ")[1]`, Python `split()[1]`, Go `strings.Fields`: the words of the value between any space (U+00A0, U+0085…); after `Basic`, each word decoded', place: 'authorization', derive: authorizationWords },
  { reader: 'Java `substring(7)`, Python `auth[7:]`: what follows the first seven characters (`Bearer ` assumed), whatever they are', place: 'authorization', derive: (v, sink) => SIX_LETTERS.test(v) && sink.piece(v.slice(7), 'text') },
  { reader: 'Go, Rust, Java (raw bytes): a value with bytes >= 0x80 read as UTF-8 (lossy decoders replace bad sequences), where node:http hands latin1 characters', place: 'authorization', derive: (v, sink) => asUtf8Bytes(v, sink, 'authorization') },
  // Basic.
  { reader: 'APIs that take a token as `Basic <token>`: the parameter itself, not decoded', place: 'basic', derive: (p, sink) => sink.piece(p) },
  { reader: 'Node `Buffer.from(p, "base64")`: both alphabets, characters outside them skipped, stops at the first `=`', place: 'basic', derive: (p, sink) => sink.via(Buffer.from(p, 'base64').toString('latin1'), 'basic-bytes') },
  { reader: 'Python `b64decode`: characters outside the standard alphabet dropped (`-` and `_` too), stops once padding completes a group', place: 'basic', derive: pythonBase64 },
  { reader: 'UTF-8 (most stacks; Go and Java strict decoders read canonical Base64 as Node does)', place: 'basic-bytes', derive: (bytes, sink) => sink.via(Buffer.from(bytes, 'latin1').toString('utf8'), 'basic-pair') },
  { reader: 'latin1 (Tomcat\'s default for Basic)', place: 'basic-bytes', derive: (bytes, sink) => sink.via(bytes, 'basic-pair') },
  { reader: 'RFC 7617: the pair, the user before the first `:` and the password after it (APIs take a token as either)', place: 'basic-pair', derive: userAndPassword },
  { reader: 'naive `split(":")`: every piece (`user:T:x`)', place: 'basic-pair', derive: (pair, sink) => pair.indexOf(':') !== pair.lastIndexOf(':') && splitOn(pair, isColon, sink) },
  { reader: 'Tomcat, Python `strip()`, JS `trim()`: user and password trimmed of any space', place: 'basic-pair', derive: trimmedUserAndPassword },
  // Other headers (X-API-Key and the like).
  { reader: 'every stack: the value as node:http hands it over (spaces and tabs around it trimmed)', place: 'header', derive: (v, sink) => sink.primary(v, 'text') },
  { reader: 'Go, Rust, Java (raw bytes), any header: a value with bytes >= 0x80 read as UTF-8 (lossy decoders replace bad sequences)', place: 'header', derive: (v, sink) => asUtf8Bytes(v, sink, 'header') },
  // Any value, once decoded: its pieces.
  { reader: 'Express `split(" ")`, Python `split()`/`strip()`, Go `strings.Fields`, header lists (`T, realm=x`), `;` parameters (`T;x`), quoted strings (`"T"`): the pieces between any space, `,`, `;`, `"` and `\'`', place: 'text', derive: textPieces },
  { reader: 'Rails `token="T"`, auth-params `name=value`: what follows the first `=`', place: 'auth-param', derive: afterEquals },
  // Query strings and parameters (query, form fields, JSON keys).
  { reader: 'WHATWG, PHP, Rails, Django: `name=value` between `&`; Rack 2 and Python before 3.9.2 also split on `;`; to the end of the target (node:http keeps a `#`)', place: 'query', derive: queryParameters },
  { reader: 'WHATWG `URLSearchParams`, PHP, Rack, Python `parse_qs` (lenient escapes): percent-decoded, `+` as a space', place: 'parameter', derive: (v, sink) => sink.primary(percentDecode(v, true, false), 'text') },
  { reader: 'Go `PathUnescape`, clients that meant a literal `+` (Base64): percent-decoded, `+` kept', place: 'parameter', derive: (v, sink) => v.indexOf('+') !== -1 && sink.primary(percentDecode(v, false, false), 'text') },
  { reader: 'Tomcat (ISO-8859-1 URIs): escaped bytes read as latin1', place: 'parameter', derive: (v, sink) => v.indexOf('%') !== -1 && sink.piece(percentDecode(v, true, true), 'text') },
  { reader: 'a reader that does not decode: the value as sent', place: 'parameter', derive: (v, sink) => v.indexOf('%') !== -1 && sink.piece(v, 'text') },
  { reader: 'servers that cut a fragment: the value up to `#`', place: 'parameter', derive: upToFragment },
  // Cookies.
  { reader: 'RFC 6265, PHP, Express: `name=value` between `;`, names trimmed; Python `SimpleCookie`: `,` and spaces separate too', place: 'cookie-header', derive: cookiePairs },
  { reader: 'RFC 6265, Python `SimpleCookie`: the value without its quotes', place: 'cookie', derive: (v, sink) => sink.primary(unquote(v), 'text') },
  { reader: 'PHP `urldecode`, Express `decodeURIComponent`, Python `unquote`: decoded as a query value is', place: 'cookie', derive: (v, sink) => sink.via(unquote(v), 'parameter') },
  // Path segments.
  { reader: 'routers (Express, Rails, Flask, Spring): the segment percent-decoded, then its pieces (`;`, `,`, `=`)', place: 'path', derive: (s, sink) => sink.piece(percentDecode(s, false, false), 'text') },
  { reader: 'Telegram-style `/bot<id>:<secret>/`: the segment after a word glued before the token (after each of its first four letters, and after the whole leading run of letters)', place: 'path', derive: afterLetters },
]

/**
 * How frameworks normalise a parameter (and cookie) name before an application looks it up, applied
 * in this order; a name matches when its normal form is a configured name's.
 */
export const NAME_READERS: ReadonlyArray<{ readonly reader: string; readonly normalise: (name: string) => string }> = [
  { reader: 'every stack: percent-decoded, `+` as a space', normalise: (n) => percentDecode(n, true, false) },
  { reader: 'PHP: a name ends at a NUL byte (`api_key%00x`)', normalise: (n) => (n.indexOf('\0') === -1 ? n : n.slice(0, n.indexOf('\0'))) },
  { reader: 'PHP: leading spaces dropped', normalise: (n) => n.replace(/^ +/, '') },
  { reader: 'Rails, qs, PHP: `name[]`, `name[0]`, `name[key]` are `name`', normalise: (n) => n.replace(/\[[^]*\][^]*$/, '') },
  { reader: 'PHP: space, `.`, `+` and an unclosed `[` become `_`', normalise: (n) => n.replace(/[ .+[]/g, '_') },
  { reader: 'ASP.NET Core, Spring (case-insensitive binding): case ignored', normalise: (n) => n.toLowerCase() },
]

/** Lowercase letters, digits, `_` and `-`: a name every normalisation leaves as it is. */
const PLAIN_NAME = /^[a-z0-9_-]*$/

function isPlainName(name: string): boolean {
  return PLAIN_NAME.test(name)
}

/** A parameter or cookie name in the form `CredentialPlan.parameterNames` holds (see `NAME_READERS`). */
export function normaliseParameterName(name: string): string {
  if (isPlainName(name)) return name
  let n = name
  for (const r of NAME_READERS) n = r.normalise(n)
  return n
}

/** Whether a parameter named `name` (as sent, or decoded) is one of the plan's: a query name, a form field, a JSON key. */
export function isParameterName(plan: CredentialPlan, name: string): boolean {
  return plan.parameterNames.has(normaliseParameterName(name))
}

// ---------------------------------------------------------------------------------------------------
// The engine: the table run over a request, into a list of candidates
// ---------------------------------------------------------------------------------------------------

const SIX_LETTERS = /^[A-Za-z]{6}[^A-Za-z]/

const BY_STAGE = new Map<Stage, Reader[]>()
for (const r of READERS) {
  let list = BY_STAGE.get(r.place)
  if (list === undefined) BY_STAGE.set(r.place, (list = []))
  list.push(r)
}

const PAIR_READERS = BY_STAGE.get('basic-pair') as Reader[]

// The extraction is synchronous, so one request at a time uses this state.
let plan!: CredentialPlan
let out: string[] = []
let status = 0
/** Values already read by a slow-path stage in this request, as `stage value`: no value is read twice. */
const readAlready: string[] = []

function add(value: string): void {
  if (value.length > plan.maxCredentialLength) {
    status = TOO_LONG
    return
  }
  if (out.includes(value)) return
  if (out.length >= plan.maxCredentials) {
    status = TOO_MANY
    return
  }
  out.push(value)
}

function read(stage: Stage, value: string): void {
  const key = `${stage} ${value}`
  if (readAlready.includes(key)) return
  readAlready.push(key)
  const readers = BY_STAGE.get(stage) as Reader[]
  for (let i = 0; i < readers.length && status === 0; i++) readers[i]!.derive(value, sink)
}

const sink: Sink = {
  primary(value, next) {
    if (status !== 0 || value === '') return
    add(value)
    if (next !== undefined && status === 0) read(next, value)
  },
  piece(value, next) {
    if (status !== 0 || value.length < plan.minCandidateLength) return
    add(value)
    if (next !== undefined && status === 0) read(next, value)
  },
  via(value, next) {
    if (status !== 0 || value.length === 0) return
    if (value.length > plan.maxCredentialLength * 3) status = TOO_LONG
    else read(next, value)
  },
  named(name, value, kind) {
    if (status !== 0) return
    const names = kind === 'parameter' ? plan.parameterNames : plan.cookieNames
    if (names.has(isPlainName(name) ? name : normaliseParameterName(name))) readValue(kind, value)
  },
}

/** A parameter's or cookie's value: the fast path for a plain value, else its readers. */
function readValue(kind: 'parameter' | 'cookie', value: string): void {
  if (value === '') return
  if (isPlain(value, false)) sink.primary(value)
  else if (value.length > plan.maxCredentialLength * 3) status = TOO_LONG
  else read(kind, value)
}

function begin(p: CredentialPlan, list: string[]): void {
  plan = p
  out = list
  status = 0
  if (readAlready.length !== 0) readAlready.length = 0 // left by a request that threw (verdict.ts answers it 500)
}

function end(): number {
  if (readAlready.length !== 0) readAlready.length = 0
  return status < 0 ? status : 0
}

/**
 * Collects every candidate of a request into `out` (cleared first), without duplicates.
 * @returns the number found, or `TOO_MANY` / `TOO_LONG` when a limit is passed.
 */
export function extractCredentials(p: CredentialPlan, headers: IncomingHttpHeaders, url: string, list: string[]): number {
  if (list.length !== 0) list.length = 0
  begin(p, list)
  for (let i = 0; i < p.authHeaders.length && status === 0; i++) {
    const value = headers[p.authHeaders[i] as string]
    if (typeof value === 'string' && value !== '') readAuthorization(value)
  }
  for (let i = 0; i < p.plainHeaders.length && status === 0; i++) {
    const value = headers[p.plainHeaders[i] as string]
    if (value === undefined) continue
    if (typeof value === 'string') readHeader(value)
    else for (const v of value) readHeader(v)
  }
  if (status === 0 && p.parameterNames.size > 0) {
    const q = url.indexOf('?')
    if (q !== -1) parseQuery(url, q + 1, sink)
  }
  if (status === 0 && p.cookieNames.size > 0) {
    const cookie = headers.cookie
    if (typeof cookie === 'string' && cookie !== '') cookiePairs(cookie, sink)
  }
  if (status === 0 && p.pathSegments) pathSegments(url)
  const r = end()
  return r < 0 ? r : list.length
}

/**
 * A named parameter as frameworks read it (a query parameter, a form field, a JSON key): the name
 * normalised as frameworks do (`NAME_READERS`) and matched against the plan's parameter names; when it
 * matches, the value's candidates are added to `list` (not cleared). Name and value may be given as
 * sent (percent-encoded) or decoded: the value as given is always a candidate.
 * @returns 0, or `TOO_MANY` / `TOO_LONG` when a limit is passed.
 */
export function addParameter(p: CredentialPlan, name: string, value: string, list: string[]): number {
  if (!isParameterName(p, name)) return 0
  begin(p, list)
  readValue('parameter', value)
  if (status === 0 && !isPlain(value, false)) sink.primary(value, 'text')
  return end()
}

/**
 * The fast paths: `<scheme> <plain token>` is the parameter alone, `Basic <canonical Base64>` decodes
 * the same in every decoder; anything else goes through the readers.
 */
function readAuthorization(value: string): void {
  if (SCHEME_AND_PLAIN.test(value)) {
    const space = value.indexOf(' ')
    const param = value.slice(space + 1)
    if (space !== 5 || !isBasic(value)) sink.primary(param)
    else if (param.length % 4 === 0 && BASE64.test(param)) readBasicFast(param) // padded standard Base64: every decoder reads it alike
    else read('authorization', value)
    return
  }
  if (value.length > plan.maxCredentialLength * 3) status = TOO_LONG
  else read('authorization', value)
}

/** `Basic`, any case, without a lowercased copy. */
function isBasic(v: string): boolean {
  return (v.charCodeAt(0) | 0x20) === 0x62 && (v.charCodeAt(1) | 0x20) === 0x61 && (v.charCodeAt(2) | 0x20) === 0x73 && (v.charCodeAt(3) | 0x20) === 0x69 && (v.charCodeAt(4) | 0x20) === 0x63
}

function readBasicFast(param: string): void {
  sink.primary(param)
  if (param.length > plan.maxCredentialLength * 2) {
    status = TOO_LONG
    return
  }
  const bytes = Buffer.from(param, 'base64')
  if (!isAscii(bytes)) {
    read('basic-bytes', bytes.toString('latin1'))
    return
  }
  // ASCII: UTF-8 and latin1 read the same pair, which nothing reads further.
  const pair = bytes.toString('latin1')
  for (let i = 0; i < PAIR_READERS.length && status === 0; i++) PAIR_READERS[i]!.derive(pair, sink)
}

function readHeader(value: string): void {
  if (value === '') return
  if (isPlain(value, true)) sink.primary(value)
  else if (value.length > plan.maxCredentialLength * 3) status = TOO_LONG
  else read('header', value)
}

/**
 * Lowercase words (`organizations`, `user-profiles`): what most path segments are, and what no token
 * generator produces (a random 16-character base62 token is all lowercase letters once in a million),
 * so they are not looked up; sightings' route templates keep the same words. Sticky: tested in place.
 */
const WORD_AT = /[a-z]+(?:-[a-z]+)*/y

/** Each path segment long enough to hold a token and not plainly a word, read by the `path` readers. */
function pathSegments(url: string): void {
  let end = url.indexOf('?')
  if (end === -1) end = url.length
  const min = plan.minCandidateLength
  let start = 0
  while (start < end && status === 0) {
    let slash = url.indexOf('/', start)
    if (slash === -1 || slash > end) slash = end
    WORD_AT.lastIndex = start
    if (slash - start >= min && !(WORD_AT.test(url) && WORD_AT.lastIndex === slash)) {
      const segment = url.slice(start, slash)
      if (isPlain(segment, true)) {
        sink.piece(segment)
        afterLetters(segment, sink)
      } else {
        read('path', segment)
      }
    }
    start = slash + 1
  }
}

// ---------------------------------------------------------------------------------------------------
// What the rows do
// ---------------------------------------------------------------------------------------------------

function schemeAndParameter(v: string, sink: Sink): void {
  let space = v.indexOf(' ')
  const tab = v.indexOf('\t')
  if (tab !== -1 && (space === -1 || tab < space)) space = tab
  if (space === -1) {
    const lower = v.toLowerCase()
    if (lower !== 'bearer' && lower !== 'basic') sink.primary(v, 'text') // a bare scheme has nothing to check
    return
  }
  const param = trimOws(v.slice(space + 1))
  sink.primary(param, 'text')
  if (space === 5 && v.slice(0, 5).toLowerCase() === 'basic') sink.via(param, 'basic')
}

function authorizationWords(v: string, sink: Sink): void {
  let basic = false
  let first = true
  let start = -1
  for (let i = 0; i <= v.length; i++) {
    if (i < v.length && !isSpace(v.charCodeAt(i))) {
      if (start === -1) start = i
      continue
    }
    if (start === -1) continue
    const word = v.slice(start, i)
    start = -1
    if (first) {
      first = false
      basic = word.toLowerCase() === 'basic'
      continue
    }
    sink.piece(word, 'text')
    if (basic) sink.via(word, 'basic')
  }
}

function asUtf8Bytes(v: string, sink: Sink, again: Stage): void {
  let high = false
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i)
    if (c > 0xff) return // not bytes as node:http hands them
    if (c >= 0x80) high = true
  }
  if (!high) return
  sink.via(Buffer.from(v, 'latin1').toString('utf8'), again)
}

/** CPython's `binascii.a2b_base64` without `strict_mode`. */
function pythonBase64(p: string, sink: Sink): void {
  let bytes = ''
  let quad = 0
  let left = 0
  let pads = 0
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i)
    if (c === 0x3d) {
      if (quad >= 2 && quad + ++pads >= 4) break
      continue
    }
    const v = c >= 0x41 && c <= 0x5a ? c - 0x41 : c >= 0x61 && c <= 0x7a ? c - 71 : c >= 0x30 && c <= 0x39 ? c + 4 : c === 0x2b ? 62 : c === 0x2f ? 63 : -1
    if (v === -1) continue
    if (quad === 0) left = v
    else if (quad === 1) bytes += String.fromCharCode(((left << 2) | (v >> 4)) & 0xff)
    else if (quad === 2) bytes += String.fromCharCode(((left << 4) | (v >> 2)) & 0xff)
    else bytes += String.fromCharCode(((left << 6) | v) & 0xff)
    left = v
    quad = (quad + 1) & 3
  }
  sink.via(bytes, 'basic-bytes')
}

function userAndPassword(pair: string, sink: Sink): void {
  sink.primary(pair)
  const colon = pair.indexOf(':')
  if (colon === -1) return
  sink.primary(pair.slice(colon + 1))
  sink.primary(pair.slice(0, colon))
}

function trimmedUserAndPassword(pair: string, sink: Sink): void {
  const colon = pair.indexOf(':')
  const end = pair.length - 1
  if (colon === -1) {
    if (end >= 0 && (isSpace(pair.charCodeAt(0)) || isSpace(pair.charCodeAt(end)))) sink.piece(trimSpace(pair))
    return
  }
  if (colon > 0 && (isSpace(pair.charCodeAt(0)) || isSpace(pair.charCodeAt(colon - 1)))) sink.piece(trimSpace(pair.slice(0, colon)))
  if (colon < end && (isSpace(pair.charCodeAt(colon + 1)) || isSpace(pair.charCodeAt(end)))) sink.piece(trimSpace(pair.slice(colon + 1)))
}

/**
 * One split on every separator at once is enough: a token never holds a space, `,`, `;` or a quote,
 * so only the finest pieces can equal one (`=` is split apart by `afterEquals`, as tokens end in it).
 */
function textPieces(v: string, sink: Sink): void {
  if (!splitOn(v, isTextSeparator, sink)) sink.via(v, 'auth-param')
}

function afterEquals(v: string, sink: Sink): void {
  const eq = v.indexOf('=')
  if (eq <= 0) return
  let rest = eq + 1
  while (rest < v.length && v.charCodeAt(rest) === 0x3d) rest++
  if (rest < v.length) sink.piece(v.slice(eq + 1), 'text') // `T==` is a padded token, not `name=value`
}

/** Emits each piece between separators, read further as text; false when there is no separator. */
function splitOn(v: string, isSeparator: (c: number) => boolean, sink: Sink): boolean {
  let start = 0
  let found = false
  for (let i = 0; i <= v.length; i++) {
    if (i < v.length && !isSeparator(v.charCodeAt(i))) continue
    if (i < v.length) found = true
    if (found && i > start) sink.piece(v.slice(start, i), 'auth-param')
    start = i + 1
  }
  return found
}

function queryParameters(query: string, sink: Sink): void {
  parseQuery(query, 0, sink)
}

/**
 * Calls `each(name, value, sink)` for the `name=value` pairs of `s` from `start` on, a pair ending at the
 * first `sepA` or `sepB`. Linear: each separator is searched for once, not again for every pair. (`each`
 * is a module-level function and `sink` passed through, so a request allocates no closure here.)
 */
function eachPair(s: string, start: number, sepA: string, sepB: string, sink: Sink, each: (name: string, value: string, sink: Sink) => void): void {
  const len = s.length
  let i = start
  let a = -1
  let b = -1
  let eq = -1
  while (i < len && status === 0) {
    if (a < i) {
      a = s.indexOf(sepA, i)
      if (a === -1) a = len
    }
    if (b < i) {
      b = s.indexOf(sepB, i)
      if (b === -1) b = len
    }
    const endAt = a < b ? a : b
    if (eq < i) {
      eq = s.indexOf('=', i)
      if (eq === -1) eq = len
    }
    if (eq < endAt) each(s.slice(i, eq), s.slice(eq + 1, endAt), sink)
    i = endAt + 1
  }
}

/** `name=value` pairs of `url` from `start` on, between `&` or `;`. */
function parseQuery(url: string, start: number, sink: Sink): void {
  eachPair(url, start, '&', ';', sink, queryPair)
}

function queryPair(name: string, value: string, sink: Sink): void {
  sink.named(name, value, 'parameter')
}

function upToFragment(v: string, sink: Sink): void {
  const hash = v.indexOf('#')
  if (hash !== -1) sink.primary(percentDecode(v.slice(0, hash), true, false), 'text')
}

function cookiePairs(header: string, sink: Sink): void {
  eachPair(header, 0, ';', ',', sink, cookiePair)
}

function cookiePair(rawName: string, rawValue: string, sink: Sink): void {
  const name = trimSpace(rawName)
  const value = trimSpace(rawValue)
  sink.named(name, value, 'cookie')
  // `a=1 key=T`: SimpleCookie reads two cookies where others read one.
  if (value.indexOf('=') !== -1 && /\s\S*=/.test(value)) {
    for (const word of value.split(/\s+/)) {
      const e = word.indexOf('=')
      if (e > 0) sink.named(word.slice(0, e), word.slice(e + 1), 'cookie')
    }
  }
}

function afterLetters(s: string, sink: Sink): void {
  let run = 0
  while (run < s.length && isLetter(s.charCodeAt(run))) run++
  if (run === 0 || run === s.length) return
  // The glued word is short (`bot`), but the token may start with letters too (`botghp_…`).
  for (let i = 1; i <= run && i <= 4; i++) sink.piece(percentDecode(s.slice(i), false, false), 'text')
  if (run > 4) sink.piece(percentDecode(s.slice(run), false, false), 'text')
}

// ---------------------------------------------------------------------------------------------------
// Characters and decodings
// ---------------------------------------------------------------------------------------------------

/**
 * Any space some stack splits or trims on: ASCII whitespace, what Python's `str.split()` adds
 * (U+001C–U+001F, U+0085), and Unicode spaces JS `trim()`, Python and Go agree on.
 */
export function isSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f)
  if (c < 0x85) return false
  return c === 0x85 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff
}

function isTextSeparator(c: number): boolean {
  return c === 0x2c || c === 0x3b || c === 0x22 || c === 0x27 || isSpace(c)
}

function isColon(c: number): boolean {
  return c === 0x3a
}

function isLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)
}

// Regular expressions: V8 runs these several times faster than a loop over charCodeAt.
const PLAIN_WITH_PLUS = /^[A-Za-z0-9._~+/-]+=*$/
const PLAIN_NO_PLUS = /^[A-Za-z0-9._~/-]+=*$/
const SCHEME_AND_PLAIN = /^[A-Za-z]+ [A-Za-z0-9._~+/-]+=*$/
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/

/** Token characters no reader splits or decodes (`=` only as trailing padding; `+` only outside URLs, where it may be a space). */
function isPlain(v: string, plusIsPlain: boolean): boolean {
  return (plusIsPlain ? PLAIN_WITH_PLUS : PLAIN_NO_PLUS).test(v)
}

function trimOws(v: string): string {
  let s = 0
  let e = v.length
  while (s < e && (v.charCodeAt(s) === 0x20 || v.charCodeAt(s) === 0x09)) s++
  while (e > s && (v.charCodeAt(e - 1) === 0x20 || v.charCodeAt(e - 1) === 0x09)) e--
  return s === 0 && e === v.length ? v : v.slice(s, e)
}

function trimSpace(v: string): string {
  let s = 0
  let e = v.length
  while (s < e && isSpace(v.charCodeAt(s))) s++
  while (e > s && isSpace(v.charCodeAt(e - 1))) e--
  return s === 0 && e === v.length ? v : v.slice(s, e)
}

function unquote(v: string): string {
  return v.length >= 2 && v.charCodeAt(0) === 0x22 && v.charCodeAt(v.length - 1) === 0x22 ? v.slice(1, -1) : v
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  const l = c | 0x20
  return l >= 0x61 && l <= 0x66 ? l - 0x57 : -1
}

/**
 * Percent-decoding as the lenient decoders do it (Python `unquote`, PHP `urldecode`): each valid
 * escape decoded, a malformed one kept as sent; the bytes read as UTF-8, or as latin1.
 */
export function percentDecode(v: string, plusIsSpace: boolean, asLatin1: boolean): string {
  const spaced = plusIsSpace && v.indexOf('+') !== -1 ? v.replaceAll('+', ' ') : v
  if (spaced.indexOf('%') === -1) return spaced
  return percentBytes(spaced).toString(asLatin1 ? 'latin1' : 'utf8')
}

/** The bytes of `v` (its UTF-8) with each valid `%XX` escape decoded and a malformed one kept as sent. */
export function percentBytes(v: string): Buffer {
  const bytes = Buffer.from(v, 'utf8')
  let w = 0
  for (let r = 0; r < bytes.length; r++) {
    const b = bytes[r]!
    if (b === 0x25 && r + 2 < bytes.length) {
      const hi = hexValue(bytes[r + 1]!)
      const lo = hexValue(bytes[r + 2]!)
      if (hi !== -1 && lo !== -1) {
        bytes[w++] = (hi << 4) | lo
        r += 2
        continue
      }
    }
    bytes[w++] = b
  }
  return bytes.subarray(0, w)
}
