import t from 'tap'
import { compilePlan, extractCredentials, TOO_LONG, TOO_MANY } from './credentials.js'
import { DEFAULT_CREDENTIAL_PLACES } from './config.js'

const plan = compilePlan(DEFAULT_CREDENTIAL_PLACES, { maxCredentials: 8, maxCredentialLength: 100 })
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64')

function creds(headers: Record<string, string | string[]>, url = '/', p = plan): string[] | number {
  const out: string[] = []
  const n = extractCredentials(p, headers, url, out)
  return n < 0 ? n : out
}

t.test('default places', async (t) => {
  t.same(creds({ authorization: 'Bearer abc' }), ['abc'])
  t.same(creds({ authorization: 'BEARER   abc  ' }), ['abc'], 'scheme case and spacing')
  t.same(creds({ authorization: `Basic ${b64('user:pw')}` }), ['user:pw', 'pw', 'user'], 'Basic: pair, password, and user (Stripe-style APIs take the key as the user)')
  t.same(creds({ authorization: `Basic ${b64('sk_live_x:')}` }), ['sk_live_x:', 'sk_live_x'], 'Basic with empty password: pair and user')
  t.same(creds({ authorization: `Basic ${b64('nocolon')}` }), ['nocolon'])
  t.same(creds({ authorization: `Basic ${b64('a:b:c')}` }), ['a:b:c', 'b:c', 'a'], 'the password may hold colons')
  t.same(creds({ authorization: 'Token abc' }), ['abc'], 'any scheme: its parameter')
  // Review of 2026-11-28: bypasses found by sending what lenient upstreams accept.
  t.same(creds({ authorization: 'Bearer\tabc' }), ['abc'], 'a tab after the scheme')
  t.same(creds({ authorization: `Basic\t${b64('user:pw')}` }), ['user:pw', 'pw', 'user'], 'a tab after Basic')
  t.same((creds({ authorization: `Basic ${b64('alice:pw12')}===` }) as string[]).slice(-3), ['alice:pw12', 'pw12', 'alice'], 'Basic with extra padding is decoded')
  const padded = b64('alice:secretpw')
  t.same((creds({ authorization: `Basic ${padded.slice(0, 4)}.${padded.slice(4)}` }) as string[]).slice(-3), ['alice:secretpw', 'secretpw', 'alice'], 'Basic with a stray character is decoded')
  t.same((creds({ authorization: `Basic ${padded.slice(0, 4)} ${padded.slice(4)}` }) as string[]).slice(-3), ['alice:secretpw', 'secretpw', 'alice'], 'Basic with inner space is decoded')
  t.same(creds({ x_api_key: 'k1' }), ['k1'], 'X_API_KEY, as CGI-style servers read X-API-Key')
  t.same(creds({ 'x-api_key': 'k1', api_key: 'k2' }), ['k1', 'k2'], 'every spelling with _ for -')
  t.same(creds({}, '/p?a=1#&api_key=T'), ['T'], 'a parameter after a # is checked: it is forwarded as sent')
  t.same(creds({}, `/p?${'a&'.repeat(5000)}key=last`), ['last'], 'many segments without = before a parameter')
  t.same(creds({ authorization: 'abc' }), ['abc'], 'a bare value')
  t.same(creds({ 'x-api-key': 'k1', 'api-key': 'k2' }), ['k1', 'k2'])
  t.same(creds({ 'x-api-key': 'k1, k2' }), ['k1, k2', 'k1', 'k2'], 'a joined repeated header: whole and parts')
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
  t.same(creds({ 'x-api-key': 'clé' }), ['clé'])
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
  t.same(creds({ cookie: 'x=1; session="s%20v"; session2=n' }, '/', custom), ['s v', 's%20v'])
  t.same(creds({ cookie: 'session=' }, '/', custom), [])
  t.same(creds({ cookie: ';;=;session' }, '/', custom), [])
  t.same(creds({ 'proxy-authorization': `Basic ${b64('u:p')}` }, '/', custom), ['u:p', 'p', 'u'])
})
