/**
 * A request the node refuses at admission (a method it does not forward, a target that climbs out of
 * the upstream, a body past the limit) is answered and counted as refused, whatever credentials it
 * carries: never counted as pass, block or monitor, and never recorded as a sighting. Raw sockets, so
 * the request line is exactly these bytes; the real node in front of a recording upstream, on port 0.
 */
import t, { type Test } from 'tap'
import { Agent, request } from 'undici'
import { startNode, startUpstream, indexOf, rawRequest, type RunningNode, type Teardown } from './helpers.js'

const MONITORED = 'sk_live_RefusedButMonitored000000000000001'
const BLOCKED = 'ghp_RefusedButBlocked0000000000000000000002'
const agent = new Agent({ connections: 2 })
t.teardown(() => agent.close())

/** The value of one series in the node's /metrics text. */
async function metric(node: RunningNode, series: string): Promise<number | undefined> {
  const text = await (await request(`${node.adminUrl}/metrics`, { dispatcher: agent })).body.text()
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

async function setup(t: Teardown) {
  const upstream = await startUpstream(t)
  const node = await startNode(t, {
    upstream: upstream.url,
    env: { LEAKGATE_BODY_LIMIT: '1000' },
    deps: { index: indexOf([{ token: MONITORED, action: 'monitor', leakId: 21 }, { token: BLOCKED, action: 'block', leakId: 22 }]) },
  })
  return { upstream, node }
}

/**
 * What a refused request must leave behind: none of `verdicts` counted, `refused` requests counted
 * under `reason`, no sighting, and nothing at the upstream.
 */
async function refusedOnly(t: Test, { upstream, node }: Awaited<ReturnType<typeof setup>>, verdicts: string[], reason: string, refused: number): Promise<void> {
  for (const verdict of verdicts) t.equal(await metric(node, `leakgate_node_requests_total{verdict="${verdict}"}`), 0, `not counted as ${verdict}`)
  t.equal(await metric(node, `leakgate_node_requests_refused_total{reason="${reason}"}`), refused, 'counted as refused')
  t.equal(node.node.sightings.size, 0, 'no sighting recorded')
  t.equal(upstream.seen.length, 0, 'the upstream saw nothing')
}

t.test('TRACE carrying a monitored token: 405, counted refused, not monitor, no sighting', async (t) => {
  const judged = await setup(t)
  const { node } = judged
  const res = await rawRequest(node.url, `TRACE /a HTTP/1.1\r\nAuthorization: Bearer ${MONITORED}`)
  t.equal(res.status, 405)
  t.equal(JSON.parse(res.body).code, 'LEAKGATE_ERR_METHOD_NOT_FORWARDED')
  await refusedOnly(t, judged, ['monitor', 'pass'], 'method', 1)
})

t.test('GET /a/../b: 400, counted refused, not pass', async (t) => {
  const judged = await setup(t)
  const { node } = judged
  const clean = await rawRequest(node.url, 'GET /a/../b HTTP/1.1')
  t.equal(clean.status, 400)
  t.equal(JSON.parse(clean.body).code, 'LEAKGATE_ERR_BAD_REQUEST')
  const monitored = await rawRequest(node.url, `GET /a/%2e%2e/b HTTP/1.1\r\nX-API-Key: ${MONITORED}`)
  t.equal(monitored.status, 400, 'with a monitored token too')
  await refusedOnly(t, judged, ['pass', 'monitor'], 'target', 2)
})

t.test('a body past the limit carrying a blocked token: 413, counted refused, not block, no sighting', async (t) => {
  const judged = await setup(t)
  const { node } = judged
  const res = await rawRequest(node.url, `POST /up HTTP/1.1\r\nAuthorization: Bearer ${BLOCKED}\r\nContent-Length: 5000`)
  t.equal(res.status, 413)
  t.equal(JSON.parse(res.body).code, 'LEAKGATE_ERR_BODY_TOO_LARGE')
  await refusedOnly(t, judged, ['block'], 'body_too_large', 1)
})

t.test('admitted requests are still judged: a monitored GET is counted and recorded', async (t) => {
  const { upstream, node } = await setup(t)
  const res = await request(`${node.url}/a`, { dispatcher: agent, headers: { authorization: `Bearer ${MONITORED}` } })
  await res.body.dump()
  t.equal(res.statusCode, 200)
  t.equal(await metric(node, 'leakgate_node_requests_total{verdict="monitor"}'), 1)
  t.equal(await metric(node, 'leakgate_node_requests_refused_total{reason="method"}'), 0, 'every reason has a series from the start')
  t.equal(node.node.sightings.size, 1, 'one sighting')
  t.equal(upstream.seen[0]?.headers['leakgate-verdict'], 'monitor')
})
