import t from 'tap'
import { gzipSync } from 'node:zlib'
import { bodyKinds, bodyTexts } from './body.js'
import { FORM_BODY, JSON_BODY } from './body-credentials.js'

const withBody = (type?: string): Record<string, string> => ({ 'content-length': '10', ...(type === undefined ? {} : { 'content-type': type }) })

t.test('which bodies are read: the content types stacks parse into parameters', async (t) => {
  const cases: [string | undefined, number][] = [
    ['application/x-www-form-urlencoded', FORM_BODY],
    ['Application/X-WWW-Form-URLEncoded; charset=UTF-8', FORM_BODY],
    ['application/x-www-form-urlencoded;charset=utf-8', FORM_BODY],
    ['application/x-www-form-urlencoded, text/plain', FORM_BODY],
    ['application/x-www-form-urlencoded foo', FORM_BODY],
    [undefined, FORM_BODY],
    ['', FORM_BODY],
    ['application/json', JSON_BODY],
    ['APPLICATION/JSON; charset=utf-8', JSON_BODY],
    ['application/vnd.api+json', JSON_BODY],
    ['application/merge-patch+json; charset=utf-8', JSON_BODY],
    ['text/json', JSON_BODY],
    ['text/x-json', JSON_BODY],
    ['application/jsonrequest', JSON_BODY],
    ['text/plain; x=/json', JSON_BODY],
    ['application/x-www-form-urlencoded; x=/json', FORM_BODY | JSON_BODY],
    ['text/plain', 0],
    ['application/octet-stream', 0],
    ['multipart/form-data; boundary=x', 0],
    ['application/xml', 0],
  ]
  for (const [type, kinds] of cases) t.equal(bodyKinds('POST', withBody(type)), kinds, String(type))
  t.equal(bodyKinds('PUT', withBody(undefined)), 0, 'a PUT without a Content-Type is no form (Rack: POST only)')
  t.equal(bodyKinds('PUT', withBody('application/json')), JSON_BODY, 'a typed body of any method is')
})

t.test('no body, nothing to read', async (t) => {
  t.equal(bodyKinds('POST', { 'content-type': 'application/json' }), 0)
  t.equal(bodyKinds('POST', { 'content-type': 'application/json', 'content-length': '0' }), 0)
  t.equal(bodyKinds('POST', {}), 0)
  t.equal(bodyKinds('POST', { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }), JSON_BODY)
})

t.test('the texts a body is read as: as sent, inflated, UTF-16', async (t) => {
  const form = Buffer.from('access_token=T')
  const texts = (bytes: Buffer, headers: Record<string, string>): readonly string[] | string => {
    const r = bodyTexts(bytes, headers, 100)
    return r.state === 'texts' ? r.texts : r.state
  }
  t.same(texts(form, {}), ['access_token=T'])
  t.same(texts(gzipSync(form), { 'content-encoding': 'gzip' })[1], 'access_token=T', 'gzip inflated')
  t.equal(texts(gzipSync(Buffer.alloc(1000, 0x61)), { 'content-encoding': 'gzip' }), 'too-large', 'inflated past the limit: unchecked')
  t.same(texts(form, { 'content-encoding': 'gzip' }), ['access_token=T'], 'not really gzip: as sent only')
  const json = '{"api_key":"K"}'
  t.ok(texts(Buffer.from(json, 'utf16le'), { 'content-type': 'application/json; charset=utf-16' }).includes(json), 'declared UTF-16')
  t.ok(texts(Buffer.from(json, 'utf16le').swap16(), { 'content-type': 'application/json' }).includes(json), 'UTF-16BE without a charset (Jackson detects it)')
  const utf32 = Buffer.concat([...json].map((c) => Buffer.from([0, 0, 0, c.charCodeAt(0)])))
  t.ok(texts(utf32, { 'content-type': 'application/json; charset=UTF-32BE' }).includes(json), 'UTF-32')
  t.same(texts(form, { 'content-type': 'application/x-www-form-urlencoded; charset=ibm037' }), 'charset', 'a charset the node cannot decode')
  t.equal((bodyTexts(form, { 'content-type': 'application/x-www-form-urlencoded; charset="UTF-8"' }, 100) as { charset?: unknown }).charset, undefined, 'UTF-8: no second decoding')
})
