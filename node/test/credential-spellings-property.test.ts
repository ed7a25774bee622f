/**
 * Property: whenever a mainstream server stack would read a leaked token from a request as the upstream
 * receives it, the node stops the request (403 when the leak is blocked; forwarded with
 * `Leakgate-Verdict: monitor` when it is monitored).
 *
 * Random tokens (16 to 64 characters from realistic alphabets) are sent in random spellings (place ×
 * wrapping × encoding × name normalisation) to two real nodes: one holding the tokens as monitored, in
 * front of a recording upstream, and one holding them as blocked. An emulated reader table, written
 * here independently of node/credentials.ts (Express, Python, Rails, Go, PHP, Rack, ASP.NET, Tomcat,
 * SimpleCookie…), reads each request as the first upstream recorded it; when any reader finds the
 * token, the first node must have flagged it and the second must have answered 403 with its upstream
 * recording nothing. Seeded: LEAKGATE_PROPERTY_SEED=<n> replays a run; the seed is in every message.
 */
import t from 'tap'
import { indexOf, startNode, startUpstream, type Seen } from './helpers.js'
import { sendLatin1 } from './spellings.js'

const SEED = Number(process.env.LEAKGATE_PROPERTY_SEED ?? Math.floor(Math.random() * 2 ** 31))
const REQUESTS = 300

/** mulberry32: small, seedable, good enough to pick spellings. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}
const random = rng(SEED)
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T
const int = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1))

// ---------------------------------------------------------------------------------------------------
// Tokens and spellings
// ---------------------------------------------------------------------------------------------------

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
const ALPHABETS = [BASE62, `${BASE62}-_`, `${BASE62}+/`, `${BASE62}.~-_`, '0123456789abcdef']
const PREFIXES = ['', 'ghp_', 'sk_live_', 'xoxb-', 'AKIA', 'glpat-']

function token(): string {
  const alphabet = pick(ALPHABETS)
  const prefix = pick(PREFIXES)
  const length = int(16, 64)
  let s = prefix
  while (s.length < length) s += alphabet[int(0, alphabet.length - 1)]
  if (alphabet.includes('+') && random() < 0.5) s = s.slice(0, -2) + pick(['=', '=='])
  return s
}

const pct = (s: string): string => Buffer.from(s, 'utf8').toString('hex').replace(/../g, '%$&').toUpperCase()
const pctSome = (s: string): string => s.replace(/[^A-Za-z0-9]/g, (c) => pct(c))
const b64 = (s: string, enc: BufferEncoding = 'utf8'): string => Buffer.from(s, enc).toString('base64')
const latin1OfUtf8 = (s: string): string => Buffer.from(s, 'utf8').toString('latin1')

/** A request: its target and header lines (latin1 characters, one a byte). */
interface Spelled {
  label: string
  target: string
  headers: Array<[string, string]>
}

const WRAPS: ReadonlyArray<[string, (t: string) => string]> = [
  ['T', (t) => t],
  ['T extra', (t) => `${t} extra`],
  ['T;x', (t) => `${t};x`],
  ['T, realm=x', (t) => `${t}, realm=x`],
  ['"T"', (t) => `"${t}"`],
  ['token="T"', (t) => `token="${t}"`],
  ['T<U+0085>', (t) => `${t}\x85`],
  ['T<U+00A0>x', (t) => `${t}\xa0x`],
  ['T<U+3000 utf8>', (t) => `${t}${latin1OfUtf8('\u3000')}`],
  ['T<U+001F>x', (t) => `${t}\x1fx`],
  ["'T'", (t) => `'${t}'`],
  ['<U+00A0>T', (t) => `\xa0${t}`],
  ['T<U+2003 utf8>x', (t) => `${t}${latin1OfUtf8('\u2003')}x`],
]

function authorization(tok: string): Spelled {
  if (random() < 0.4) {
    const pair = pick([`u:${tok}`, `${tok}:`, `${tok}:x`, `u:${tok}:x`, `u:${tok} `, ` ${tok} :u`, `\xe9:${tok}`])
    const latin = pair.includes('\xe9')
    const encoded = b64(pair, latin ? 'latin1' : 'utf8')
    const [how, value] = pick<[string, string]>([
      ['b64', encoded],
      ['b64==AAAA', `${encoded}==AAAA`],
      ['b64 more', `${encoded} more`],
      ['b64url', Buffer.from(pair, latin ? 'latin1' : 'utf8').toString('base64url')],
      ['b64.stray', `${encoded.slice(0, 4)}.${encoded.slice(4)}`],
      ['b64 inner space', `${encoded.slice(0, 4)} ${encoded.slice(4)}`],
      ['b64=more', `${encoded.replace(/=+$/, '')}=QUFB`],
    ])
    const sep = pick([' ', '\t', '\xa0', '  '])
    const scheme = pick(['Basic', 'basic', 'BASIC'])
    return { label: `${scheme}${JSON.stringify(sep)}${how}(${JSON.stringify(pair)})`, target: '/x', headers: [[pick(['Authorization', 'Proxy-Authorization']), `${scheme}${sep}${value}`]] }
  }
  const scheme = pick(['Bearer', 'bearer', 'Token', 'Basic', 'JWT'])
  const sep = pick([' ', '\t', '  ', '\xa0', latin1OfUtf8('\u00a0')])
  const [wrapName, wrap] = pick(WRAPS)
  return { label: `${scheme}${JSON.stringify(sep)}${wrapName}`, target: '/x', headers: [['Authorization', `${scheme}${sep}${wrap(tok)}`]] }
}

function header(tok: string): Spelled {
  const name = pick(['X-API-Key', 'x_api_key', 'X-Api_Key', 'Api-Key', 'API_KEY'])
  const [wrapName, wrap] = pick<[string, (t: string) => string]>([...WRAPS.filter(([n]) => n !== 'token="T"'), ['other, T', (t) => `other-value, ${t}`]])
  return { label: `${name}: ${wrapName}`, target: '/x', headers: [[name, wrap(tok)]] }
}

function query(tok: string): Spelled {
  const base = pick(['api_key', 'access_token', 'token', 'key'])
  const [nameHow, name] = pick<[string, string]>([
    ['exact', base],
    ['. for _', base.replace('_', '.')],
    ['+ for _', base.replace('_', '+')],
    ['%20 for _', base.replace('_', '%20')],
    ['[ for _', base.replace('_', '[')],
    ['leading +', `+${base}`],
    ['upper', base.toUpperCase()],
    ['[]', `${base}[]`],
    ['[0]', `${base}[0]`],
    ['%5B%5D', `${base}%5B%5D`],
  ])
  const [valueHow, value] = pick<[string, string]>([
    ['raw', tok.replaceAll('+', '%2B')],
    ['raw with +', tok],
    ['all escaped', pct(tok)],
    ['some escaped', pctSome(tok)],
    ['%20-padded', `%20${tok.replaceAll('+', '%2B')}%20`],
    ['+-padded', `+${tok.replaceAll('+', '%2B')}+`],
    ['T;x', `${tok.replaceAll('+', '%2B')};x`],
    ['T#x', `${tok.replaceAll('+', '%2B')}#x`],
    ['T,x', `${tok.replaceAll('+', '%2B')},x`],
  ])
  const before = pick(['', 'a=1&', 'a=1;', 'q=x%26y&', 'a=1#&'])
  return { label: `?${nameHow}=${valueHow} after ${JSON.stringify(before)}`, target: `/x?${before}${name}=${value}`, headers: [] }
}

function cookie(tok: string): Spelled {
  const [nameHow, name] = pick<[string, string]>([['exact', 'session_id'], ['.', 'session.id'], ['space', 'session id'], ['padded', ' session_id ']])
  const [valueHow, value] = pick<[string, string]>([['raw', tok], ['quoted', `"${tok}"`], ['escaped', encodeURIComponent(tok)], ['T x', `${tok} x`]])
  const before = pick(['', 'a=1; ', 'a=1, ', 'a=1 ', 'a=1;'])
  return { label: `Cookie ${nameHow}=${valueHow} after ${JSON.stringify(before)}`, target: '/x', headers: [['Cookie', `${before}${name}=${value}`]] }
}

function path(tok: string): Spelled {
  const [how, target] = pick<[string, string]>([
    ['/bot<T>/', `/bot${tok}/sendMessage`],
    ['/hooks/<T>', `/hooks/${tok}`],
    ['matrix', `/x;key=${tok}/y`],
    ['escaped', `/p/${pctSome(tok)}`],
  ])
  return { label: `path ${how}`, target, headers: [] }
}

const PLACES = [authorization, authorization, header, query, query, cookie, path]

// ---------------------------------------------------------------------------------------------------
// The emulated readers: what each stack would take as the credential from the request as received
// ---------------------------------------------------------------------------------------------------

const PY_SPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/
const pySplit = (s: string): string[] => s.split(PY_SPACE).filter((w) => w !== '')
const pyStrip = (s: string): string => s.replace(new RegExp(`^${PY_SPACE.source}|${PY_SPACE.source}$`, 'g'), '')
const unquote = (s: string): string => (s.length >= 2 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s)
function tryDecode(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

/** Python's b64decode, written plainly: non-alphabet characters dropped, stop once padding completes a group. */
function pythonB64(s: string): Buffer {
  let kept = ''
  let pads = 0
  for (const c of s) {
    if (c === '=') {
      if (kept.length % 4 >= 2 && (kept.length % 4) + ++pads >= 4) break
      continue
    }
    if (/[A-Za-z0-9+/]/.test(c)) kept += c
  }
  return Buffer.from(kept.slice(0, kept.length - (kept.length % 4 === 1 ? 1 : 0)), 'base64')
}

function basicReadings(param: string): string[] {
  const out = [param]
  for (const bytes of [Buffer.from(param, 'base64'), pythonB64(param), Buffer.from(param.split(/\s/)[0] ?? '', 'base64')]) {
    for (const pair of [bytes.toString('utf8'), bytes.toString('latin1')]) {
      const colon = pair.indexOf(':')
      out.push(pair, ...pair.split(':'))
      if (colon !== -1) out.push(pair.slice(0, colon), pair.slice(colon + 1), pair.slice(0, colon).trim(), pair.slice(colon + 1).trim(), pyStrip(pair.slice(colon + 1)), pyStrip(pair.slice(0, colon)))
    }
  }
  return out
}

function authorizationReadings(raw: string): string[] {
  const out: string[] = []
  for (const v of [raw, Buffer.from(raw, 'latin1').toString('utf8')]) {
    const express = v.split(' ')[1] ?? '' // Express: auth.split(' ')[1]
    const py = pySplit(v) // Python: auth.split()
    const afterScheme = v.replace(/^\S+[ \t]+/, '') // most stacks
    out.push(express, py[1] ?? '', pyStrip(v.slice(7)), afterScheme, afterScheme.trim())
    out.push(...afterScheme.split(/[,;]/).map((p) => unquote(p.trim())), unquote(afterScheme))
    const rails = /token="?([^",;]+)"?/.exec(v) // Rails: token_and_options
    if (rails?.[1] !== undefined) out.push(rails[1])
    if (/^basic$/i.test(py[0] ?? '')) {
      out.push(...basicReadings(py[1] ?? ''))
      out.push(...basicReadings(afterScheme))
    }
  }
  return out
}

function headerReadings(raw: string): string[] {
  const out: string[] = []
  for (const v of [raw, Buffer.from(raw, 'latin1').toString('utf8')]) {
    out.push(v, v.trim(), pyStrip(v), ...v.split(',').map((p) => p.trim()), pySplit(v)[0] ?? '', ...pySplit(v))
  }
  return out
}

const QUERY_NAMES = ['api_key', 'access_token', 'token', 'key']

/** PHP's name mangling, as php_register_variable does it. */
function phpName(raw: string): string {
  let n = raw.replace(/^ +/, '')
  const open = n.indexOf('[')
  if (open !== -1 && n.indexOf(']', open) !== -1) n = n.slice(0, open)
  return n.replace(/[ .[]/g, '_')
}

function queryReadings(target: string): string[] {
  const q = target.indexOf('?')
  if (q === -1) return []
  const qs = target.slice(q + 1)
  const out: string[] = []
  const whatwg = new URLSearchParams(qs) // Express (qs-like), Node, Deno
  for (const name of QUERY_NAMES) out.push(...whatwg.getAll(name), ...whatwg.getAll(`${name}[]`))
  for (const sep of [/&/, /[&;]/]) {
    // PHP, Rack 2 (`;`), ASP.NET Core (any case), Laravel (trimmed)
    for (const part of qs.split(sep)) {
      const eq = part.indexOf('=')
      if (eq === -1) continue
      const name = tryDecode(part.slice(0, eq).replaceAll('+', ' '))
      const value = tryDecode(part.slice(eq + 1).replaceAll('+', ' '))
      const candidates = [name, phpName(name), name.toLowerCase(), name.replace(/\[.*\]$/, '')]
      if (candidates.some((n) => QUERY_NAMES.includes(n))) out.push(value, value.trim(), tryDecode(part.slice(eq + 1)))
    }
  }
  return out
}

function cookieReadings(header: string): string[] {
  const out: string[] = []
  for (const sep of [/;/, /[;,]/, /[;,\s]+/]) {
    // Express `cookie`, SimpleCookie (`,` and spaces), PHP (names mangled)
    for (const part of header.split(sep)) {
      const eq = part.indexOf('=')
      if (eq === -1) continue
      const name = part.slice(0, eq).trim()
      const value = unquote(part.slice(eq + 1).trim())
      if (name === 'session_id' || phpName(name) === 'session_id') out.push(value, tryDecode(value), ...pySplit(value))
    }
  }
  return out
}

function pathReadings(target: string): string[] {
  const path = target.split('?')[0] ?? ''
  const out: string[] = []
  for (const segment of path.split('/')) {
    const decoded = tryDecode(segment)
    out.push(decoded, ...decoded.split(/[;,=]/))
  }
  const telegram = /\/bot([^/]+)\//.exec(path) // python-telegram-bot, Telegraf
  if (telegram?.[1] !== undefined) out.push(telegram[1])
  return out
}

/** The readers that find `tok` in a request as an upstream received it. */
function readersFinding(seen: Seen, tok: string): boolean {
  const found: string[] = []
  for (const [name, value] of Object.entries(seen.headers)) {
    if (typeof value !== 'string') continue
    if (name === 'authorization' || name === 'proxy-authorization') found.push(...authorizationReadings(value))
    else if (/^(x[-_])?api[-_]key$/.test(name)) found.push(...headerReadings(value))
    else if (name === 'cookie') found.push(...cookieReadings(value))
  }
  found.push(...queryReadings(seen.url), ...pathReadings(seen.url))
  return found.includes(tok)
}

// ---------------------------------------------------------------------------------------------------

t.test(`every spelling a mainstream reader finds is stopped (seed ${SEED})`, async (t) => {
  const tokens = Array.from({ length: REQUESTS }, token)
  const requests = tokens.map((tok) => ({ tok, spelled: pick(PLACES)(tok) }))
  const places = JSON.stringify([
    { in: 'header', name: 'authorization' }, { in: 'header', name: 'proxy-authorization' }, { in: 'header', name: 'x-api-key' }, { in: 'header', name: 'api-key' },
    { in: 'query', name: 'api_key' }, { in: 'query', name: 'access_token' }, { in: 'query', name: 'token' }, { in: 'query', name: 'key' },
    { in: 'cookie', name: 'session_id' }, { in: 'path' },
  ])
  const env = { LEAKGATE_CREDENTIAL_PLACES: places }
  const recording = await startUpstream(t)
  const monitoring = await startNode(t, { upstream: recording.url, env, deps: { index: indexOf(tokens.map((tok, i) => ({ token: tok, action: 'monitor' as const, leakId: i + 1 }))) } })
  const behindBlocking = await startUpstream(t)
  const blocking = await startNode(t, { upstream: behindBlocking.url, env, deps: { index: indexOf(tokens.map((tok, i) => ({ token: tok, action: 'block' as const, leakId: i + 1 }))) } })

  let read = 0
  let failures = 0
  for (const { tok, spelled } of requests) {
    const head = `GET ${spelled.target} HTTP/1.1${spelled.headers.map(([n, v]) => `\r\n${n}: ${v}`).join('')}`
    const before = recording.seen.length
    const monitored = await sendLatin1(monitoring.url, head)
    const seen = recording.seen[before]
    if (monitored.status === 400 || seen === undefined) continue // refused as malformed: nothing reached the upstream
    if (!readersFinding(seen, tok)) continue
    read++
    const upstreamBefore = behindBlocking.seen.length
    const blocked = await sendLatin1(blocking.url, head)
    const ok = seen.headers['leakgate-verdict'] === 'monitor' && blocked.status === 403 && behindBlocking.seen.length === upstreamBefore
    if (!ok && failures++ < 20) t.fail(`seed ${SEED}: ${spelled.label}: a reader finds the token, the node did not stop it (monitor ${String(seen.headers['leakgate-verdict'])}, block ${blocked.status}): ${JSON.stringify(head)}`)
  }
  t.equal(failures, 0, `seed ${SEED}: no spelling a reader finds got past the node`)
  t.ok(read >= REQUESTS / 2, `seed ${SEED}: the readers found the token in most requests (${read} of ${REQUESTS}), so the property was put to the test`)
})
