/**
 * Each row of the reader table on its own: given what the row is handed, what it reads. A row added
 * without an example here fails the last test.
 */
import t from 'tap'
import { NAME_READERS, READERS, normaliseParameterName, type Sink, type Stage } from './credentials.js'

/** What a row handed on: `primary:v`, `piece:v`, `via:stage:v`, `named:kind:name=value`. */
function readBy(reader: string, value: string): string[] {
  const row = READERS.find((r) => r.reader.startsWith(reader))
  if (row === undefined) throw new Error(`no reader ${reader}`)
  const seen: string[] = []
  const sink: Sink = {
    primary: (v) => void seen.push(`primary:${v}`),
    piece: (v) => void seen.push(`piece:${v}`),
    via: (v, next: Stage) => void seen.push(`via:${next}:${v}`),
    named: (name, v, kind) => void seen.push(`named:${kind}:${name}=${v}`),
  }
  row.derive(value, sink)
  return seen
}

const b64 = (s: string): string => Buffer.from(s, 'latin1').toString('base64')
const T = 'tok_0123456789abcdef'
const tested = new Set<string>()

/** One row's examples: `reader` is the start of the row's name. */
function row(reader: string, examples: ReadonlyArray<readonly [given: string, reads: string[]]>): void {
  tested.add(reader)
  t.test(reader, async (t) => {
    for (const [given, reads] of examples) t.same(readBy(reader, given), reads, JSON.stringify(given))
  })
}

row('RFC 9110 (most stacks)', [
  [`Bearer ${T}`, [`primary:${T}`]],
  [`Bearer\t ${T} `, [`primary:${T}`]],
  [`Basic ${b64('u:p')}`, [`primary:${b64('u:p')}`, `via:basic:${b64('u:p')}`]],
  [T, [`primary:${T}`]],
  ['Bearer', []],
])
row('Express `split(" ")[1]`', [
  [`Bearer ${T} extra`, [`piece:${T}`, 'piece:extra']],
  [`Bearer\u00a0${T}`, [`piece:${T}`]],
  [`Basic\u0085${b64('u:p')} more`, [`piece:${b64('u:p')}`, `via:basic:${b64('u:p')}`, 'piece:more', 'via:basic:more']],
])
row('Java `substring(7)`', [
  [`Bearer ${T}`, [`piece:${T}`]],
  [`bearer\xa0${T}\u3000`, [`piece:${T}\u3000`]],
  [`Basic ${T}`, [], 'a five-letter scheme: not this reader'],
].map(([a, b]) => [a, b] as [string, string[]]))
row('Go, Rust, Java (raw bytes): a value with bytes >= 0x80 read as UTF-8 (lossy', [
  [Buffer.from(`Bearer ${T}é`, 'utf8').toString('latin1'), [`via:authorization:Bearer ${T}é`]],
  [`Bearer ${T}`, []],
  ['Bearer\xa0x', ['via:authorization:Bearer\ufffdx']],
  ['Bearer \u0100', []],
])
row('APIs that take a token as `Basic <token>`', [[T, [`piece:${T}`]]])
row('Node `Buffer.from(p, "base64")`', [
  [b64(`u:${T}`), [`via:basic-bytes:u:${T}`]],
  [`${b64('u:pw')}==AAAA`, ['via:basic-bytes:u:pw']],
  [`${b64('u:pw12')}=QUFB`, ['via:basic-bytes:u:pw12']],
  [`${b64('u:pw12').slice(0, 4)}.${b64('u:pw12').slice(4)}`, ['via:basic-bytes:u:pw12']],
])
row('Python `b64decode`', [
  [b64(`u:${T}`), [`via:basic-bytes:u:${T}`]],
  [`${b64('u:pw12')}=QUFB`, ['via:basic-bytes:u:pw12AAA'], 'a lone `=` does not stop it: padding does'],
  [`${b64('u:pw')}==AAAA`, ['via:basic-bytes:u:pw']],
  [`dT-pw_d${'w=='}`, [`via:basic-bytes:${Buffer.from('dTpwdw==', 'base64').toString('latin1')}`]],
].map(([a, b]) => [a, b] as [string, string[]]))
row('UTF-8 (most stacks', [['u:p\xc3\xa9', ['via:basic-pair:u:pé']]])
row('latin1 (Tomcat', [['u:p\xe9', ['via:basic-pair:u:p\xe9']]])
row('RFC 7617', [
  [`u:${T}`, [`primary:u:${T}`, `primary:${T}`, 'primary:u']],
  [`${T}:`, [`primary:${T}:`, 'primary:', `primary:${T}`]],
  ['nocolon', ['primary:nocolon']],
])
row('naive `split(":")`', [
  [`u:${T}:x`, ['piece:u', `piece:${T}`, 'piece:x']],
  [`u:${T}`, []],
])
row('Tomcat, Python `strip()`', [
  [`u:${T} `, [`piece:${T}`]],
  [` u :${T}\u00a0`, ['piece:u', `piece:${T}`]],
  [`u:${T}`, []],
])
row('every stack: the value as node:http hands it over', [[`${T}, x`, [`primary:${T}, x`]]])
row('Go, Rust, Java (raw bytes), any header', [[Buffer.from(`${T}€`, 'utf8').toString('latin1'), [`via:header:${T}€`]]])
row('Express `split(" ")`, Python `split()`', [
  [`${T} extra`, [`piece:${T}`, 'piece:extra']],
  [`${T};x`, [`piece:${T}`, 'piece:x']],
  [`${T}, realm=x`, [`piece:${T}`, 'piece:realm=x']],
  [`"${T}"`, [`piece:${T}`]],
  [`'${T}'\u3000`, [`piece:${T}`]],
  [`token=${T}`, [`via:auth-param:token=${T}`]],
])
row('Rails `token="T"`', [
  [`token=${T}`, [`piece:${T}`]],
  [`${T}==`, []],
  [`=${T}`, []],
])
row('WHATWG, PHP, Rails, Django: `name=value`', [
  [`a=1&api_key=${T}`, ['named:parameter:a=1', `named:parameter:api_key=${T}`]],
  [`a=1;api_key=${T}`, ['named:parameter:a=1', `named:parameter:api_key=${T}`]],
  [`a=1#&key=${T}`, ['named:parameter:a=1#', `named:parameter:key=${T}`]],
  ['flag&=x&', ['named:parameter:=x']],
])
row('WHATWG `URLSearchParams`', [
  [`${T}%2B+x`, [`primary:${T}+ x`]],
  ['%zz%41', ['primary:%zzA']],
])
row('Go `PathUnescape`', [
  [`${T}+x`, [`primary:${T}+x`]],
  [T, []],
])
row('Tomcat (ISO-8859-1 URIs)', [
  ['%C3%A9t', ['piece:\xc3\xa9t']],
  [T, []],
])
row('a reader that does not decode', [
  [`%20${T}`, [`piece:%20${T}`]],
  [T, []],
])
row('servers that cut a fragment', [
  [`${T}#frag`, [`primary:${T}`]],
  [T, []],
])
row('RFC 6265, PHP, Express: `name=value` between `;`', [
  [`a=1; session=${T}`, ['named:cookie:a=1', `named:cookie:session=${T}`]],
  [`a=1, session=${T}`, ['named:cookie:a=1', `named:cookie:session=${T}`]],
  [`a=1 session=${T}`, [`named:cookie:a=1 session=${T}`, `named:cookie:session=${T}`]],
  [` se.ssion = "${T}" `, [`named:cookie:se.ssion="${T}"`]],
])
row('RFC 6265, Python `SimpleCookie`: the value without its quotes', [[`"${T}"`, [`primary:${T}`]]])
row('PHP `urldecode`', [[`"${T}%20"`, [`via:parameter:${T}%20`]]])
row('routers (Express, Rails, Flask, Spring)', [[`users;jsessionid=${T}`, [`piece:users;jsessionid=${T}`]], [`%74ok${T}`, [`piece:tok${T}`]]])
row('Telegram-style', [
  ['bot123456:AAHdqTcv', ['piece:ot123456:AAHdqTcv', 'piece:t123456:AAHdqTcv', 'piece:123456:AAHdqTcv']],
  ['botghp_x', ['piece:otghp_x', 'piece:tghp_x', 'piece:ghp_x', 'piece:hp_x', 'piece:_x']],
  ['keyabcdefgh1', ['piece:eyabcdefgh1', 'piece:yabcdefgh1', 'piece:abcdefgh1', 'piece:bcdefgh1', 'piece:1']],
  ['organizations', []],
  ['12345678', []],
])

t.test('every reader has its examples', async (t) => {
  for (const r of READERS) t.ok([...tested].some((name) => r.reader.startsWith(name)), r.reader)
})

t.test('name readers, each in turn, and all of them', async (t) => {
  const [decode, nul, leading, arrays, php, caseless] = NAME_READERS
  t.equal(nul?.normalise('api_key\0junk'), 'api_key')
  t.equal(decode?.normalise('api%5Fkey+x'), 'api_key x')
  t.equal(leading?.normalise('  api_key'), 'api_key')
  t.equal(arrays?.normalise('api_key[]'), 'api_key')
  t.equal(arrays?.normalise('api_key[0][x]'), 'api_key')
  t.equal(arrays?.normalise('api_key['), 'api_key[', 'an unclosed `[` is no array')
  t.equal(php?.normalise('api.key'), 'api_key')
  t.equal(php?.normalise('api key+x[y'), 'api_key_x_y')
  t.equal(caseless?.normalise('API_Key'), 'api_key')
  t.equal(NAME_READERS.length, 6, 'each row above')
  for (const spelled of ['api_key', 'api.key', 'api key', 'api+key', 'api%20key', ' api_key', 'api[key', 'api_key[]', 'api_key[0]', 'api_key%5B%5D', 'API_KEY', 'Api.Key[]', 'api_key%00x']) {
    t.equal(normaliseParameterName(spelled), 'api_key', spelled)
  }
  t.not(normaliseParameterName('api_keys'), 'api_key')
  t.not(normaliseParameterName('xapi_key'), 'api_key')
})
