/**
 * A form or JSON body the node reads before judging still reaches the upstream exactly as sent: a
 * clean one, one carrying a monitored token (with the verdict headers), and a chunked one (sent on with
 * its length). The real node in front of a recording upstream.
 */
import t from 'tap'
import { indexOf, pooledSend, startNode, startUpstream } from './helpers.js'

const MONITORED = 'ghp_BodyMonitoredToken0000000000000000001'
const planted = [{ token: MONITORED, action: 'monitor' as const, leakId: 44 }]

t.test('a monitored token in a body: forwarded byte for byte, with the verdict headers', async (t) => {
  const upstream = await startUpstream(t)
  const { url } = await startNode(t, { upstream: upstream.url, deps: { index: indexOf(planted) } })
  const send = pooledSend(t)
  const body = `{"note":"héllo ✓ + %41","auth":{"api_key":"${MONITORED}"},"n":[1,2.5e3]}`
  const res = await send(`${url}/v1/x?q=1`, { headers: { 'content-type': 'application/json' }, body })
  t.equal(res.status, 200)
  const seen = upstream.seen[0]
  t.equal(seen?.body, body, 'the body as sent')
  t.equal(seen?.headers['content-length'], String(Buffer.byteLength(body)))
  t.equal(seen?.headers['leakgate-verdict'], 'monitor')
  t.equal(seen?.headers['leakgate-leak-id'], '44')
  t.equal(seen?.url, '/v1/x?q=1')
})

t.test('clean form and JSON bodies, whole and chunked, are forwarded byte for byte', async (t) => {
  const upstream = await startUpstream(t)
  const { url } = await startNode(t, { upstream: upstream.url, deps: { index: indexOf(planted) } })
  const send = pooledSend(t)
  const formBody = 'name=J%C3%BCrgen+M&access_token=not-a-leak&list[]=1&list[]=2&x=%zz&;;&=&emoji=✓'
  let res = await send(`${url}/form`, { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: formBody })
  t.equal(res.status, 200)
  t.equal(upstream.seen.at(-1)?.body, formBody)
  t.equal(upstream.seen.at(-1)?.headers['content-type'], 'application/x-www-form-urlencoded')
  t.notOk(upstream.seen.at(-1)?.headers['leakgate-verdict'], 'a clean request carries no verdict header')

  const parts = ['{"items":[', '{"id":1,"token":"clean"},', '{"id":2}', ']}']
  res = await send(`${url}/json`, { headers: { 'content-type': 'application/json' }, body: parts })
  t.equal(res.status, 200)
  const seen = upstream.seen.at(-1)
  t.equal(seen?.body, parts.join(''), 'a chunked body arrives whole')
  t.equal(seen?.headers['content-length'], String(parts.join('').length), 'sent on with its length')
  t.notOk(seen?.headers['transfer-encoding'])

  const malformed = '{"api_key": "clean", broken'
  res = await send(`${url}/json`, { headers: { 'content-type': 'application/json' }, body: malformed })
  t.equal(res.status, 200, 'a malformed JSON body is the upstream\'s to refuse')
  t.equal(upstream.seen.at(-1)?.body, malformed)
  t.equal(upstream.seen.length, 3)
})

t.test('a JSON list of many items under a configured name is checked and forwarded, not refused as too many', async (t) => {
  const upstream = await startUpstream(t)
  const { url, config } = await startNode(t, { upstream: upstream.url, deps: { index: indexOf(planted) } })
  const send = pooledSend(t)
  const body = JSON.stringify({ items: Array.from({ length: 200 }, (_, i) => ({ key: `settings/item-${i}`, value: i })) })
  t.ok(config.maxCredentials < 200)
  const res = await send(`${url}/bulk`, { headers: { 'content-type': 'application/json' }, body })
  t.equal(res.status, 200)
  t.equal(upstream.seen.at(-1)?.body, body)
})
