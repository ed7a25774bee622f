/**
 * Form and JSON bodies larger than `bodyCheckLimit`: refused with 413 by default (a token padded past
 * the limit must not get through unchecked), or, with `bodyCheckOverflow: pass`, forwarded whole and
 * unchecked, counted in `leakgate_node_body_unchecked_total`. The real node and a recording upstream.
 */
import { gzipSync } from 'node:zlib'
import t from 'tap'
import { indexOf, metricValue, pooledSend, startNode, startUpstream } from './helpers.js'

const TOKEN = 'ghp_PaddedBodyToken00000000000000000000001'
const HEADER_TOKEN = 'ghp_PaddedHeaderToken000000000000000000001'
const planted = [{ token: TOKEN, action: 'block' as const, leakId: 5 }, { token: HEADER_TOKEN, action: 'block' as const, leakId: 6 }]
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }
const padded = `access_token=${TOKEN}&pad=${'x'.repeat(2000)}`

t.test('refuse (the default): 413, the upstream sees nothing, counted as refused and not as pass', async (t) => {
  const upstream = await startUpstream(t)
  const { url, adminUrl, config } = await startNode(t, { upstream: upstream.url, env: { LEAKGATE_BODY_CHECK_LIMIT: '1024' }, deps: { index: indexOf(planted) } })
  t.equal(config.bodyCheckOverflow, 'refuse')
  const send = pooledSend(t)
  for (const [name, body] of [['with a Content-Length', padded], ['chunked', [padded.slice(0, 600), padded.slice(600, 1200), padded.slice(1200)]]] as const) {
    const res = await send(`${url}/x`, { headers: FORM, body })
    t.equal(res.status, 413, name)
    t.equal(JSON.parse(res.text).code, 'LEAKGATE_ERR_BODY_TOO_LARGE_TO_CHECK', name)
  }
  const json = await send(`${url}/x`, { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pad: 'y'.repeat(2000) }) })
  t.equal(json.status, 413, 'a clean JSON body past the limit too')
  const atLimit = `a=${'z'.repeat(1022)}`
  t.equal((await send(`${url}/x`, { headers: FORM, body: atLimit })).status, 200, 'a body of exactly the limit is checked and forwarded')
  t.equal((await send(`${url}/x`, { headers: { 'content-type': 'application/octet-stream' }, body: padded })).status, 200, 'other bodies are not held to it')
  t.equal(upstream.seen.length, 2)
  t.equal(await metricValue(adminUrl, 'leakgate_node_requests_refused_total', '{reason="body_too_large_to_check"}'), 3)
  t.equal(await metricValue(adminUrl, 'leakgate_node_requests_total', '{verdict="pass"}'), 2)
  t.equal(await metricValue(adminUrl, 'leakgate_node_body_unchecked_total'), 0)
})

t.test('pass: forwarded whole and unchecked, counted; the headers are still checked', async (t) => {
  const upstream = await startUpstream(t)
  const { url, adminUrl } = await startNode(t, { upstream: upstream.url, env: { LEAKGATE_BODY_CHECK_LIMIT: '1024', LEAKGATE_BODY_CHECK_OVERFLOW: 'pass' }, deps: { index: indexOf(planted) } })
  const send = pooledSend(t)
  t.equal((await send(`${url}/x`, { headers: FORM, body: padded })).status, 200, 'with a Content-Length')
  t.equal(upstream.seen.at(-1)?.body, padded)
  const chunks = [padded.slice(0, 700), padded.slice(700, 1500), padded.slice(1500)]
  t.equal((await send(`${url}/x`, { headers: FORM, body: chunks })).status, 200, 'chunked: the part read before the limit is sent on too')
  t.equal(upstream.seen.at(-1)?.body, padded, 'every byte from the first')
  const bomb = gzipSync(`access_token=${TOKEN}&pad=${'x'.repeat(5000)}`)
  t.equal((await send(`${url}/x`, { headers: { ...FORM, 'content-encoding': 'gzip' }, body: bomb })).status, 200, 'inflated past the limit')
  t.equal(upstream.seen.at(-1)?.headers['content-length'], String(bomb.length))
  t.equal((await send(`${url}/x`, { headers: { ...FORM, authorization: `Bearer ${HEADER_TOKEN}` }, body: padded })).status, 403, 'a header token still blocks')
  t.equal(upstream.seen.length, 3)
  t.equal(await metricValue(adminUrl, 'leakgate_node_body_unchecked_total'), 4)
  t.equal(await metricValue(adminUrl, 'leakgate_node_requests_total', '{verdict="pass"}'), 3)
})

t.test('bodyCheckLimit 0 with pass: no body is read before forwarding', async (t) => {
  const upstream = await startUpstream(t)
  const { url } = await startNode(t, { upstream: upstream.url, env: { LEAKGATE_BODY_CHECK_LIMIT: '0', LEAKGATE_BODY_CHECK_OVERFLOW: 'pass' }, deps: { index: indexOf(planted) } })
  const send = pooledSend(t)
  t.equal((await send(`${url}/x`, { headers: FORM, body: `access_token=${TOKEN}` })).status, 200)
  t.equal((await send(`${url}/x`, { headers: FORM, body: ['access_token=', TOKEN] })).status, 200)
  t.same(upstream.seen.map((s) => s.body), [`access_token=${TOKEN}`, `access_token=${TOKEN}`])
})
