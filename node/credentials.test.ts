import t from 'tap'
import { addParameter, compilePlan, extractCredentials, isParameterName, TOO_LONG, TOO_MANY } from './credentials.js'
import { DEFAULT_CREDENTIAL_PLACES } from './config.js'

const plan = compilePlan(DEFAULT_CREDENTIAL_PLACES, { maxCredentials: 8, maxCredentialLength: 100, minCandidateLength: 8 })
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64')

function creds(headers: Record<string, string | string[]>, url = '/', p = plan): string[] | number {
  const out: string[] = []
  const n = extractCredentials(p, headers, url, out)
  return n < 0 ? n : out
}

t.test('default places', async (t) => {
  t.same(creds({ authorization: 'Bearer abc' }), ['abc'])
  t.same(creds({ authorization: 'BEARER   abc  ' }), ['abc'], 'scheme case and spacing')
  t.same(creds({ authorization: `Basic ${b64('user:pw')}` }), [b64('user:pw'), 'user:pw', 'pw', 'user'], 'Basic: as sent, pair, password, and user (Stripe-style APIs take the key as the user)')
  t.same(creds({ authorization: `Basic ${b64('sk_live_x:')}` }), [b64('sk_live_x:'), 'sk_live_x:', 'sk_live_x'], 'Basic with empty password: pair and user')
  t.same(creds({ authorization: `Basic ${b64('nocolon')}` }), [b64('nocolon'), 'nocolon'])
  t.same(creds({ authorization: `Basic ${b64('a:b:c')}` }), [b64('a:b:c'), 'a:b:c', 'b:c', 'a'], 'the password may hold colons (pieces shorter than 8 are not looked up)')
  t.equal((creds({ authorization: 'Basic ghp_0123456789abcdef' }) as string[])[0], 'ghp_0123456789abcdef', 'Basic with a raw token: checked as sent, and decoded too')
  t.same(creds({ authorization: 'Token abc' }), ['abc'], 'any scheme: its parameter')
  // Review of 2026-11-28: bypasses found by sending what lenient upstreams accept.
  t.same(creds({ authorization: 'Bearer\tabc' }), ['abc'], 'a tab after the scheme')
  t.same(creds({ authorization: `Basic\t${b64('user:pw')}` }), [b64('user:pw'), 'user:pw', 'pw', 'user'], 'a tab after Basic')
  const hasAll = (found: string[] | number, wanted: string[]): boolean => Array.isArray(found) && wanted.every((w) => found.includes(w))
  t.ok(hasAll(creds({ authorization: `Basic ${b64('alice:pw12')}===` }), ['alice:pw12', 'pw12', 'alice']), 'Basic with extra padding is decoded')
  const padded = b64('alice:secretpw')
  t.ok(hasAll(creds({ authorization: `Basic ${padded.slice(0, 4)}.${padded.slice(4)}` }), ['alice:secretpw', 'secretpw', 'alice']), 'Basic with a stray character is decoded')
  t.ok(hasAll(creds({ authorization: `Basic ${padded.slice(0, 4)} ${padded.slice(4)}` }), ['alice:secretpw', 'secretpw', 'alice']), 'Basic with inner space is decoded')
  t.same(creds({ x_api_key: 'k1' }), ['k1'], 'X_API_KEY, as CGI-style servers read X-API-Key')
  t.same(creds({ 'x-api_key': 'k1', api_key: 'k2' }), ['k1', 'k2'], 'every spelling with _ for -')
  t.same(creds({}, '/p?a=1#&api_key=T'), ['T'], 'a parameter after a # is checked: it is forwarded as sent')
  t.same(creds({}, `/p?${'a&'.repeat(5000)}key=last`), ['last'], 'many segments without = before a parameter')
  t.same(creds({ authorization: 'abc' }), ['abc'], 'a bare value')
  t.same(creds({ 'x-api-key': 'k1', 'api-key': 'k2' }), ['k1', 'k2'])
  t.same(creds({ 'x-api-key': 'key1-long, key2-long' }), ['key1-long, key2-long', 'key1-long', 'key2-long'], 'a joined repeated header: whole and parts')
  t.same(creds({ 'x-api-key': 'k1, k2' }), ['k1, k2'], 'parts shorter than minCandidateLength are not looked up')
  t.same(creds({}, '/p?api_key=a&access_token=b&token=c&key=d&other=e'), ['a', 'b', 'c', 'd'])
  t.same(creds({}, '/p?key=a%2Bb'), ['a+b'], 'percent-decoded')
  t.same(creds({}, '/p?key=a+b'), ['a b', 'a+b'], 'plus: as a space and as sent')
  t.same(creds({}, '/p?k%65y=x'), ['x'], 'encoded name')
  t.same(creds({}, '/p?key=x#frag'), ['x#frag', 'x'], 'a fragment: the value as forwarded, and up to the #')
  t.same(creds({ authorization: 'Bearer same', 'x-api-key': 'same' }, '/?key=same'), ['same'], 'duplicates once')
  t.same(creds({ cookie: 'key=x' }), [], 'cookies only when configured')
})

t.test('malformed input never throws', async (t) => {
  t.same(creds({ authorization: 'Bearer' }), [])
  t.same(creds({ authorization: 'Bearer ' }), [])
  t.same(creds({ authorization: '' }), [])
  t.same(creds({ authorization: 'Basic' }), [])
  t.same(creds({ authorization: 'Basic !!*' }), ['!!*'], 'invalid Base64 is checked as sent')
  t.same(creds({}, '/p?key=%zz'), ['%zz'], 'a bad escape: as sent')
  t.same(creds({}, '/p?key=&token&=&&'), [])
  t.same(creds({}, '/p?'), [])
  t.same(creds({ 'x-api-key': 'clé' }), ['clé', 'cl\ufffd'], 'a latin1 byte: as node:http hands it, and as a lossy UTF-8 reader reads it')
  t.same(creds({ 'x-api-key': ['a', 'b'] }), ['a', 'b'])
})

t.test('limits', async (t) => {
  t.equal(creds({}, `/p?${Array.from({ length: 9 }, (_, i) => `key=${i}`).join('&')}`), TOO_MANY)
  t.same(creds({}, `/p?${Array.from({ length: 8 }, (_, i) => `key=${i}`).join('&')}`), ['0', '1', '2', '3', '4', '5', '6', '7'])
  t.equal(creds({ 'x-api-key': 'x'.repeat(101) }), TOO_LONG)
  t.equal(creds({ authorization: `Basic ${b64(`u:${'x'.repeat(200)}`)}` }), TOO_LONG)
  t.same(creds({ 'x-api-key': 'x'.repeat(100) }), ['x'.repeat(100)])
})

t.test('configured places: headers, query names, cookies', async (t) => {
  const custom = compilePlan(
    [{ in: 'header', name: 'X-Token' }, { in: 'query', name: 'sig' }, { in: 'cookie', name: 'session' }, { in: 'header', name: 'Proxy-Authorization' }],
    { maxCredentials: 8, maxCredentialLength: 100 },
  )
  t.same(creds({ 'x-token': 'a', authorization: 'Bearer ignored' }, '/?sig=b&key=ignored', custom), ['a', 'b'])
  t.same(creds({ cookie: 'x=1; session="s%20v"; session2=n' }, '/', custom), ['s%20v', 's v'])
  t.same(creds({ cookie: 'session=' }, '/', custom), [])
  t.same(creds({ cookie: ';;=;session' }, '/', custom), [])
  t.same(creds({ 'proxy-authorization': `Basic ${b64('u:p')}` }, '/', custom), [b64('u:p'), 'u:p', 'p', 'u'])
})

const T = 'ghp_ReviewBypassToken00000000000000000001'
const has = (found: string[] | number, token = T): boolean => Array.isArray(found) && found.includes(token)
const wide = compilePlan([...DEFAULT_CREDENTIAL_PLACES, { in: 'cookie', name: 'session' }, { in: 'path' }], { maxCredentials: 64, maxCredentialLength: 8192 })

t.test('a clean request: one candidate a credential, on the fast path', async (t) => {
  t.same(creds({ authorization: `Bearer ${T}` }, '/v1/users/me', wide), [T])
  t.same(creds({ 'x-api-key': T }, '/', wide), [T])
  t.same(creds({}, `/v1/search?q=shoes&api_key=${T}`, wide), [T])
  t.same(creds({ cookie: `theme=dark; session=${T}` }, '/', wide), [T])
  t.same(creds({ authorization: `Basic ${b64(`alice:${T}`)}` }, '/', wide), [b64(`alice:${T}`), `alice:${T}`, T, 'alice'])
})

t.test('every spelling a mainstream stack reads is a candidate (classes 1 to 6)', async (t) => {
  const headers: Array<[string, Record<string, string>]> = [
    ['Bearer T extra (Express split(" ")[1])', { authorization: `Bearer ${T} extra` }],
    ['Bearer T;x', { authorization: `Bearer ${T};x` }],
    ['Bearer T, realm=x', { authorization: `Bearer ${T}, realm=x` }],
    ['Bearer "T"', { authorization: `Bearer "${T}"` }],
    ['Token token="T" (Rails)', { authorization: `Token token="${T}"` }],
    ['U+00A0 after the scheme (Python split())', { authorization: `Bearer\xa0${T}` }],
    ['U+0085 after the token (Python strip())', { authorization: `Bearer ${T}\x85` }],
    ['Proxy-Authorization', { 'proxy-authorization': `Bearer ${T} x` }],
    ['Basic T (raw)', { authorization: `Basic ${T}` }],
    ['Basic <b64>==AAAA (Node, Python stop at padding)', { authorization: `Basic ${b64(`u:${T}`)}==AAAA` }],
    ['Basic <b64>=<more> (Node)', { authorization: `Basic ${b64(`u:${T}`)}=QUFB` }],
    ['Basic <b64> more', { authorization: `Basic ${b64(`u:${T}`)} more` }],
    ['Basic user:T:x (naive split)', { authorization: `Basic ${b64(`u:${T}:x`)}` }],
    ['Basic user:T<space> (Tomcat trim)', { authorization: `Basic ${b64(`u:${T} `)}` }],
    ['Basic latin1 (Tomcat)', { authorization: `Basic ${Buffer.from(`\xe9:${T}`, 'latin1').toString('base64')}` }],
    ['X-API-Key with T and more', { 'x-api-key': `${T} x` }],
  ]
  for (const [name, h] of headers) t.ok(has(creds(h, '/', wide)), name)
  const nonAscii = `${T}é`
  t.ok(has(creds({ 'x-api-key': Buffer.from(nonAscii, 'utf8').toString('latin1') }, '/', wide), nonAscii), 'header bytes >= 0x80 read as UTF-8 (Go)')
  const urls = [`/p?api.key=${T}`, `/p?api+key=${T}`, `/p?api%20key=${T}`, `/p?%20api_key=${T}`, `/p?api[key=${T}`, `/p?api_key[]=${T}`, `/p?api_key[0]=${T}`,
    `/p?api_key%5B%5D=${T}`, `/p?API_KEY=${T}`, `/p?Access_Token=${T}`, `/p?a=1;api_key=${T}`, `/p?api_key=%20${T}%20`, `/p?api_key=+${T}+`]
  for (const url of urls) t.ok(has(creds({}, url, wide)), url)
  const cookies = [`a=1, session=${T}`, `a=1 session=${T}`, `session="${T}"`, `session=${encodeURIComponent(T)}`, ` session = ${T} `]
  for (const cookie of cookies) t.ok(has(creds({ cookie }, '/', wide)), cookie)
  t.ok(has(creds({ cookie: `se.ssion=${T}` }, '/', compilePlan([{ in: 'cookie', name: 'se_ssion' }], { maxCredentials: 64, maxCredentialLength: 8192 }))), 'PHP cookie-name mangling')
})

t.test('path segments, a default place', async (t) => {
  const telegram = '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw'
  t.ok(has(creds({}, `/bot${telegram}/sendMessage`, wide), telegram), 'Telegram /bot<id>:<secret>/')
  t.ok(has(creds({}, `/hooks/${T}`, wide)), 'a webhook URL')
  t.ok(has(creds({}, `/hooks/x;key=${T}`, wide)), 'a matrix parameter')
  t.ok(has(creds({}, `/hooks/${encodeURIComponent(`${T},x`)}`, wide)), 'percent-encoded, with a comma')
  t.same(creds({}, '/v1/users/me', wide), [], 'short segments are not looked up')
  t.ok(has(creds({}, `/hooks/${T}`)), 'a default place')
})

t.test('minCandidateLength: pieces shorter are skipped, a primary value never is', async (t) => {
  const p4 = compilePlan(DEFAULT_CREDENTIAL_PLACES, { maxCredentials: 64, maxCredentialLength: 100, minCandidateLength: 4 })
  t.same(creds({ authorization: 'Bearer abc' }), ['abc'], 'a short Bearer parameter is checked')
  t.same(creds({ authorization: 'Bearer abcdefg x' }), ['abcdefg x'], 'a 7-character piece is not')
  t.same(creds({ authorization: 'Bearer abcdefg x' }, '/', p4), ['abcdefg x', 'abcdefg'], 'with 4, it is')
})

t.test('addParameter and isParameterName: a parameter as frameworks read it', async (t) => {
  const out: string[] = []
  t.equal(addParameter(plan, 'API.Key[]', ` ${T} `, out), 0)
  t.ok(out.includes(T), 'name normalised, value trimmed')
  t.equal(addParameter(plan, 'other', T, out), 0)
  t.equal(out.filter((c) => c === T).length, 1, 'another name adds nothing, a value once')
  t.equal(addParameter(plan, 'key', 'x'.repeat(101), out), TOO_LONG)
  t.ok(isParameterName(plan, 'access_token') && isParameterName(plan, 'Access.Token') && !isParameterName(plan, 'session'))
})

t.test('the candidates of one request count against maxCredentials', async (t) => {
  const words = Array.from({ length: 10 }, (_, i) => `w-${i}-long`).join(' ')
  t.equal(creds({ authorization: `Bearer ${words}` }), TOO_MANY, 'pieces count')
  t.equal(creds({ authorization: 'Basic !!*' }).constructor, Array, 'an undecodable Basic value never throws')
})
