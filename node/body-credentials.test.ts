import t from 'tap'
import { addBodyCredentials, BODY_MAX_CREDENTIALS, compileBodyPlan, FORM_BODY, JSON_BODY } from './body-credentials.js'
import { TOO_MANY } from './credentials.js'

// A configuration without `access_token` among its places: RFC 6750's name is checked in bodies anyway.
const plan = compileBodyPlan([{ in: 'header', name: 'authorization' }, { in: 'query', name: 'api_key' }], { maxCredentials: 8, maxCredentialLength: 256, bodyCheckLimit: 4096 })

function found(kinds: number, text: string): string[] {
  const out: string[] = []
  t.equal(addBodyCredentials(plan, kinds, text, out), 0, 'no limit passed')
  return out
}

t.test('form: the configured names and access_token, decoded as form parsers decode', async (t) => {
  t.same(found(FORM_BODY, 'a=1&access_token=T1&api_key=K1&other=x'), ['T1', 'K1'])
  t.same(found(FORM_BODY, 'access%5Ftoken=T%2D1'), ['T-1'], 'percent-encoded name and value')
  t.same(found(FORM_BODY, 'api_key=a+b'), ['a b', 'a+b'], '+ as a space, and as itself')
  t.same(found(FORM_BODY, 'api_key=T%zz%41'), ['T%zzA'], 'an invalid escape kept, the valid ones decoded')
  t.same(found(FORM_BODY, 'x=1;api_key=K;y=2'), ['K'], '; as a separator (Rack 2)')
  t.same(found(FORM_BODY, 'api_key=K;y=2'), ['K;y=2', 'K'], 'a value with ; is checked whole and cut')
  t.same(found(FORM_BODY, 'api_key[]=A&api_key[0]=B&api_key%5B%5D=C'), ['A', 'B', 'C'], 'array forms')
  t.same(found(FORM_BODY, 'auth[api_key]=N&auth[access_token]=M'), ['N', 'M'], 'a name inside brackets (params[:auth][:api_key])')
  t.same(found(FORM_BODY, 'api_key&=x&api_key=&=&&'), [], 'no name or no value: nothing')
  t.same(found(FORM_BODY, '{"api_key":"J"}'), [], 'a JSON text read as a form finds no pair')
})

t.test('form: escaped bytes in the declared charset, as Tomcat and Spring decode them', async (t) => {
  const utf16be = (s: string): string => [...Buffer.from(s, 'utf16le').swap16()].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')
  const out: string[] = []
  t.equal(addBodyCredentials(plan, FORM_BODY, `${utf16be('access_token')}=${utf16be('T16')}`, out, new TextDecoder('utf-16be')), 0)
  t.same(out, ['T16'])
  const latin1: string[] = []
  addBodyCredentials(plan, FORM_BODY, 'api_key=caf%E9', latin1, new TextDecoder('latin1'))
  t.same(latin1, ['caf\ufffd', 'café'], 'as UTF-8 and in the charset')
})

t.test('JSON: strings under the names at any depth, through arrays, every duplicate', async (t) => {
  t.same(found(JSON_BODY, '{"api_key":"K1","x":{"y":[{"access_token":"T1"}]}}'), ['K1', 'T1'])
  t.same(found(JSON_BODY, '[{"api_key":"K"}, {"deep":[[{"api_key":"L"}]]}]'), ['K', 'L'], 'a top-level array')
  t.same(found(JSON_BODY, '{"api_key":["A",["B"],"C"]}'), ['A', 'B', 'C'], 'arrays under the name, nested too')
  t.same(found(JSON_BODY, '{"api_key":"first","api_key":"last"}'), ['first', 'last'], 'both duplicates: parsers differ on which wins')
  t.same(found(JSON_BODY, '{"api\\u005fkey":"K\\u0031","access_token":"a\\"b"}'), ['K1', 'a"b'], 'escapes in names and values')
  t.same(found(JSON_BODY, '{"api_key": 123456789012345678901234567890}'), ['123456789012345678901234567890'], 'a number as written')
  t.same(found(JSON_BODY, '{"api_key":{"value":"V"},"other":"api_key","list":["api_key","X"]}'), [], 'values under other names, names as values')
  t.same(found(JSON_BODY, '{"api_key":true,"access_token":null}'), [])
})

t.test('JSON: malformed bodies yield what a lenient parser reads, and never throw', async (t) => {
  t.same(found(JSON_BODY, '{"api_key":"K"'), ['K'], 'unterminated object')
  t.same(found(JSON_BODY, '{"api_key" "K", "access_token": "T",}'), ['K', 'T'], 'missing colon, trailing comma')
  t.same(found(JSON_BODY, '{"api_key":"K\nL\\u0041"}'), ['K\nLA'], 'a raw control character (Python strict=False)')
  t.same(found(JSON_BODY, '{"api_key":"K\\x"}'), ['K\\x'], 'an invalid escape: the string as written')
  t.same(found(JSON_BODY, '{"api_key":"unterminated'), ['unterminated'])
  for (const text of ['', '"', '{', '}}}]]]', '[[[[', '\\', '{"a":', '"api_key":"x"', '\u0000\uffff', '{"x":"\\']) {
    t.doesNotThrow(() => addBodyCredentials(plan, FORM_BODY | JSON_BODY, text, []), JSON.stringify(text))
  }
  const deep = '['.repeat(60_000) + '{"api_key":"DEEP"}' + ']'.repeat(60_000)
  t.same(found(JSON_BODY, deep), ['DEEP'], 'depth costs no recursion')
})

t.test('bodies may hold more values than maxCredentials, and values up to the body\'s size', async (t) => {
  const items = JSON.stringify(Array.from({ length: 100 }, (_, i) => ({ api_key: `k${i}` })))
  const out: string[] = []
  t.equal(addBodyCredentials(plan, JSON_BODY, items, out), 0, 'a list of 100 items under a name (maxCredentials 8)')
  t.equal(out.length, 100)
  t.equal(addBodyCredentials(plan, FORM_BODY, `api_key=${'v'.repeat(4000)}`, []), 0, 'a value of 4000 characters (maxCredentialLength 256)')
  const many = JSON.stringify({ api_key: Array.from({ length: BODY_MAX_CREDENTIALS + 1 }, (_, i) => `k${i}`) })
  t.equal(addBodyCredentials(plan, JSON_BODY, many, []), TOO_MANY, 'past BODY_MAX_CREDENTIALS the walk stops')
  t.equal(addBodyCredentials(plan, FORM_BODY, Array.from({ length: BODY_MAX_CREDENTIALS + 1 }, (_, i) => `api_key=k${i}`).join('&'), []), TOO_MANY)
})
