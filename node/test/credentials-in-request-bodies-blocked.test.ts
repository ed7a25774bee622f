/**
 * Security regression: a leaked token in a request body reached the upstream, yet RFC 6750 §2.2 makes
 * `access_token` in a form body a standard place for a Bearer token, and Rails `params`, PHP
 * `$_REQUEST`, Laravel `input()` and Flask `request.values` read form and JSON bodies under the
 * configured names. The real node in front of a recording upstream: each is answered 403 and the
 * upstream sees none of them.
 */
import { gzipSync } from 'node:zlib'
import t from 'tap'
import { indexOf, pooledSend, startNode, startUpstream, type BodyRequest } from './helpers.js'

const TOKEN = 'ghp_BodyLeakedToken000000000000000000001'
const planted = [{ token: TOKEN, action: 'block' as const, leakId: 31 }]
const form = (type: string): Record<string, string> => ({ 'content-type': type })
const utf16Escaped = (s: string): string => [...Buffer.from(s, 'utf16le')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')

const CASES: [string, BodyRequest][] = [
  ['access_token in a form body (RFC 6750 §2.2)', { headers: form('application/x-www-form-urlencoded'), body: `a=1&access_token=${TOKEN}` }],
  ['a configured name in a form body', { headers: form('application/x-www-form-urlencoded'), body: `api_key=${TOKEN}&b=2` }],
  ['a form field in array form', { headers: form('application/x-www-form-urlencoded'), body: `api_key%5B%5D=${TOKEN}` }],
  ['a nested form field', { headers: form('application/x-www-form-urlencoded'), body: `auth[token]=${TOKEN}` }],
  ['a form body with charset and odd case', { headers: form('Application/X-WWW-Form-Urlencoded; Charset=UTF-8'), body: `key=${TOKEN}` }],
  ['a form body without a Content-Type (Rack parses it)', { body: `access_token=${TOKEN}` }],
  ['a chunked form body', { headers: form('application/x-www-form-urlencoded'), body: ['a=1&access_', `token=${TOKEN.slice(0, 10)}`, TOKEN.slice(10)] }],
  ['a gzip form body (Express inflates it)', { headers: { ...form('application/x-www-form-urlencoded'), 'content-encoding': 'gzip' }, body: gzipSync(`access_token=${TOKEN}`) }],
  ['a configured name in nested JSON', { headers: form('application/json'), body: JSON.stringify({ data: { attributes: [{ token: TOKEN }] } }) }],
  ['access_token in a JSON array', { headers: form('application/json; charset=utf-8'), body: JSON.stringify([{ x: 1 }, { access_token: [TOKEN] }]) }],
  ['a +json media type', { headers: form('application/vnd.api+json'), body: JSON.stringify({ api_key: TOKEN }) }],
  ['JSON with escapes', { headers: form('application/json'), body: `{"api\\u005fkey":"${TOKEN.slice(0, 5)}\\u${TOKEN.charCodeAt(5).toString(16).padStart(4, '0')}${TOKEN.slice(6)}"}` }],
  ['a chunked JSON body', { headers: form('application/json'), body: ['{"key":', `"${TOKEN}"}`] }],
  ['a form in UTF-16, escaped (Tomcat decodes the bytes in the charset)', { headers: form('application/x-www-form-urlencoded; charset=UTF-16LE'), body: `${utf16Escaped('access_token')}=${utf16Escaped(TOKEN)}` }],
  ['UTF-16 JSON without a charset (Jackson detects it)', { headers: form('application/json'), body: Buffer.from(JSON.stringify({ token: TOKEN }), 'utf16le') }],
  ['a token in a body of a PUT', { method: 'PUT', headers: form('application/json'), body: JSON.stringify({ token: TOKEN }) }],
]

t.test('a leaked token in a form or JSON body is blocked, and the upstream sees none', async (t) => {
  const upstream = await startUpstream(t)
  const { url } = await startNode(t, { upstream: upstream.url, deps: { index: indexOf(planted) } })
  const send = pooledSend(t)
  for (const [name, req] of CASES) {
    const res = await send(`${url}/v1/things`, req)
    t.equal(res.status, 403, name)
    t.equal(res.headers['leakgate-leak-id'], '31', `${name}: the leak's id`)
  }
  const ebcdic = await send(`${url}/v1/things`, { headers: form('application/x-www-form-urlencoded; charset=IBM037'), body: 'a=b' })
  t.equal(ebcdic.status, 400, 'a charset the node cannot decode is refused')
  t.match(JSON.parse(ebcdic.text).detail, /charset/)
  t.equal(upstream.seen.length, 0, 'the upstream was never contacted')
})

t.test('access_token is checked in bodies even when the configuration lists other names only', async (t) => {
  const upstream = await startUpstream(t)
  const { url } = await startNode(t, { upstream: upstream.url, env: { LEAKGATE_CREDENTIAL_PLACES: '[{"in":"header","name":"authorization"}]' }, deps: { index: indexOf(planted) } })
  const send = pooledSend(t)
  t.equal((await send(`${url}/oauth`, { headers: form('application/x-www-form-urlencoded'), body: `access_token=${TOKEN}` })).status, 403)
  t.equal((await send(`${url}/oauth`, { headers: form('application/x-www-form-urlencoded'), body: `api_key=${TOKEN}` })).status, 200, 'a name not configured is not a place')
  t.equal(upstream.seen.length, 1)
})
