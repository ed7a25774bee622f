/**
 * Credentials in a request body, as the stacks that parse bodies read them: Rails `params`, PHP
 * `$_POST`/`$_REQUEST`, Laravel's `input()`, Flask's `request.values` and `get_json()`, Express's body
 * parsers. Which bodies are read at all, and how they are buffered, is body.ts's part.
 *
 * The names looked for are the configured query names and RFC 6750 §2.2's `access_token` (a form field
 * is a standard place for a Bearer token whatever the configuration says), matched by `addParameter`
 * as for the query. Both walkers are linear in the body, never recurse and never throw: the body is at
 * most `bodyCheckLimit` bytes, which bounds their work; a malformed body yields what could be read of it.
 *
 * | body | reader                                  | what is checked                                              |
 * |------|-----------------------------------------|--------------------------------------------------------------|
 * | form | every form parser                       | each `name=value` between `&`, name and value percent-decoded, `+` as space (and, in the value, as `+`) |
 * | form | Rack 2, older servlet stacks            | also each piece between `;`                                   |
 * | form | Rails, PHP, qs (`a[b]=`, `a[]=`)        | the name, and each name inside brackets (`auth[api_key]`)     |
 * | JSON | every JSON parser, at any depth         | each string under a key, through arrays (`{"api_key":["T"]}`); every duplicate key, since parsers differ on which one wins |
 * | JSON | Python, Ruby (exact big integers)       | each number under a key, as written (a token is a string, but an app may compare `str(n)`) |
 */
import type { CredentialPlace } from './config.js'
import { addParameter, compilePlan, percentBytes, percentDecode, type CredentialPlan } from './credentials.js'

/** Body kinds, as bits: a content type can be read as both (PHP reads a form, Laravel sees `/json` in it). */
export const FORM_BODY = 1
export const JSON_BODY = 2

/** The name RFC 6750 §2.2 gives a Bearer token sent in a form body. */
const RFC6750_NAME = 'access_token'

/**
 * Distinct values a body may hold under the names before the request is refused as too many to check.
 * Higher than `maxCredentials`: JSON bodies repeat `key` and `token` in lists of items, and the body's
 * size (`bodyCheckLimit`) bounds the work already.
 */
export const BODY_MAX_CREDENTIALS = 1024

/**
 * The plan bodies are checked with: the configured places' query names and `access_token`, at least
 * `BODY_MAX_CREDENTIALS` values, and values as long as the body (a long value under a name is hashed,
 * not refused: the body's size bounds the cost). Compiled once at start.
 */
export function compileBodyPlan(places: readonly CredentialPlace[], limits: { maxCredentials: number; maxCredentialLength: number; bodyCheckLimit: number }): CredentialPlan {
  const rfc6750: CredentialPlace = { in: 'query', name: RFC6750_NAME }
  return compilePlan([...places, rfc6750], {
    maxCredentials: Math.max(limits.maxCredentials, BODY_MAX_CREDENTIALS),
    maxCredentialLength: Math.max(limits.maxCredentialLength, limits.bodyCheckLimit),
  })
}

/**
 * Adds the credentials of one body text, read as `kinds` (`FORM_BODY` | `JSON_BODY` bits), to `out`.
 * `charset`: the form's declared charset when it is not UTF-8; percent-escaped bytes are then decoded
 * with it too, as Tomcat and Spring decode them.
 * @returns 0, or `TOO_MANY` / `TOO_LONG` when a limit is passed.
 */
export function addBodyCredentials(plan: CredentialPlan, kinds: number, text: string, out: string[], charset?: TextDecoder): number {
  if ((kinds & FORM_BODY) !== 0) {
    let r = addForm(plan, text, out, undefined)
    if (r < 0) return r
    if (charset !== undefined) r = addForm(plan, text, out, charset)
    if (r < 0) return r
  }
  if ((kinds & JSON_BODY) !== 0) return addJson(plan, text, out)
  return 0
}

// ---- form ----------------------------------------------------------------------------------------

/**
 * Linear in the body: the next `=` and `;` are searched for once each, not again for each `&` (a body of
 * many pairs without `=` would otherwise cost a scan to its end per pair).
 */
function addForm(plan: CredentialPlan, text: string, out: string[], charset: TextDecoder | undefined): number {
  const end = text.length
  let i = 0
  let eq = -1
  let semi = -1
  while (i <= end) {
    let amp = text.indexOf('&', i)
    if (amp === -1) amp = end
    if (eq !== Infinity && eq < i) eq = nextOf(text, '=', i)
    if (semi !== Infinity && semi < i) semi = nextOf(text, ';', i)
    if (eq < amp) {
      const r = addPair(plan, text.slice(i, eq), text.slice(eq + 1, amp), out, charset)
      if (r < 0) return r
    }
    if (semi < amp) {
      // Rack 2 and older servlet stacks also split on `;`: each piece is a pair too.
      for (const piece of text.slice(i, amp).split(';')) {
        const at = piece.indexOf('=')
        const r = at === -1 ? 0 : addPair(plan, piece.slice(0, at), piece.slice(at + 1), out, charset)
        if (r < 0) return r
      }
    }
    i = amp + 1
  }
  return 0
}

function nextOf(text: string, c: string, from: number): number {
  const at = text.indexOf(c, from)
  return at === -1 ? Infinity : at
}

function addPair(plan: CredentialPlan, rawName: string, raw: string, out: string[], charset: TextDecoder | undefined): number {
  if (rawName === '' || raw === '') return 0 // no name, or no value: nothing a stack reads as a credential
  const name = formDecode(rawName, true, charset)
  const r = addNamed(plan, name, formDecode(raw, true, charset), out)
  if (r < 0 || raw.indexOf('+') === -1) return r
  // A client may have meant a literal `+` (Base64), and some decoders keep it.
  return addNamed(plan, name, formDecode(raw, false, charset), out)
}

/** The name as sent, and each name inside its brackets: `auth[api_key]` is `params[:auth][:api_key]`. */
function addNamed(plan: CredentialPlan, name: string, value: string, out: string[]): number {
  if (value === '') return 0
  let r = addParameter(plan, name, value, out)
  if (r < 0) return r
  let open = name.indexOf('[')
  while (open !== -1) {
    const close = name.indexOf(']', open + 1)
    if (close === -1) break
    if (close > open + 1) {
      r = addParameter(plan, name.slice(open + 1, close), value, out)
      if (r < 0) return r
    }
    open = name.indexOf('[', close + 1)
  }
  return 0
}

/**
 * Percent-decoding as lenient decoders do it (PHP's `urldecode`, qs): valid escapes decoded, an invalid
 * `%` kept as it is, instead of giving up on the whole value (credentials.ts `percentDecode`). With a
 * `charset`, the value's bytes are decoded with it instead (UTF-16 pairs an escaped byte with a plain one).
 */
function formDecode(s: string, plusIsSpace: boolean, charset?: TextDecoder): string {
  if (charset === undefined) return percentDecode(s, plusIsSpace, false)
  return charset.decode(percentBytes(plusIsSpace && s.indexOf('+') !== -1 ? s.replaceAll('+', ' ') : s))
}

// ---- JSON ----------------------------------------------------------------------------------------

/** An open object or array: the key a value inside it is read under ('' for none). */
interface Level {
  readonly object: boolean
  key: string
}

/**
 * A tolerant JSON walk: strings and numbers under a key are checked. Every key/value pair is visited
 * (duplicates too) and anything a strict parser would refuse is skipped rather than stopping the
 * walk, so a lenient parser upstream never reads a pair this walk did not see.
 */
function addJson(plan: CredentialPlan, text: string, out: string[]): number {
  const stack: Level[] = []
  let expectKey = false
  const n = text.length
  let i = 0
  while (i < n) {
    const c = text.charCodeAt(i)
    if (c === 0x22 /* " */) {
      const end = stringEnd(text, i + 1)
      const s = jsonString(text, i, end)
      i = end + 1
      const top = stack[stack.length - 1]
      if (top === undefined) continue
      if (expectKey) {
        top.key = s
        expectKey = false
      } else if (top.key !== '' && s !== '') {
        const r = addParameter(plan, top.key, s, out)
        if (r < 0) return r
      }
    } else if (c === 0x7b /* { */) {
      stack.push({ object: true, key: '' })
      expectKey = true
      i++
    } else if (c === 0x5b /* [ */) {
      // An array's values are read under the key that holds it: `{"api_key": ["T"]}`.
      stack.push({ object: false, key: stack[stack.length - 1]?.key ?? '' })
      expectKey = false
      i++
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop()
      expectKey = false
      i++
    } else if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1]?.object === true
      i++
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      let end = i + 1
      while (end < n && isNumberChar(text.charCodeAt(end))) end++
      const top = stack[stack.length - 1]
      if (top !== undefined && top.key !== '' && !expectKey) {
        const r = addParameter(plan, top.key, text.slice(i, end), out)
        if (r < 0) return r
      }
      i = end
    } else {
      i++ // whitespace, `:`, literals, and whatever a strict parser would refuse
    }
  }
  return 0
}

function isNumberChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x2b || c === 0x2d || c === 0x65 || c === 0x45
}

/** Index of the quote closing a string that starts at `from`, or the text's length when it is unterminated. */
function stringEnd(text: string, from: number): number {
  let i = from
  for (;;) {
    const q = text.indexOf('"', i)
    if (q === -1) return text.length
    let backslashes = 0
    for (let j = q - 1; j >= from && text.charCodeAt(j) === 0x5c; j--) backslashes++
    if (backslashes % 2 === 0) return q
    i = q + 1
  }
}

/** The string between `start` (its opening quote) and `end`, unescaped; as written if an escape is malformed. */
function jsonString(text: string, start: number, end: number): string {
  const inner = text.slice(start + 1, end)
  if (inner.indexOf('\\') === -1) return inner
  try {
    // Raw control characters are refused by strict parsers, accepted by lenient ones (Python's strict=False).
    return JSON.parse(`"${inner.replace(CONTROL, escapeControl)}"`) as string
  } catch {
    return inner
  }
}

const CONTROL = /[\u0000-\u001f]/g
const escapeControl = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`
