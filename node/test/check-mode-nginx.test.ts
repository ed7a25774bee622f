/**
 * A real nginx, run from the shipped deploy/nginx/leakgate-auth-request.conf (ports replaced), asks a
 * node in check mode about every request with `auth_request`: a blocked credential never reaches the
 * API and the client gets the node's own 403 problem+json; a monitored one reaches it with the node's
 * Leakgate-Verdict and Leakgate-Leak-Id; a clean one passes untouched; and the node down fails closed.
 */
import { existsSync } from 'node:fs'
import { URL } from 'node:url'
import t from 'tap'
import { indexOf, pooledGet, startUpstream } from './helpers.js'
import { NGINX, nginxRecipe, startCheckNode, startNginx, tokenMaker } from './check-mode-helpers.js'

const token = tokenMaker(0x6e67)
const BLOCKED = token('ghp_')
const MONITORED = token('ghp_')
const CLEAN = token('ghp_')

const leakgateHeaders = (headers: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(headers).filter(([name]) => name.toLowerCase().replaceAll('_', '-').startsWith('leakgate')))

const skip = existsSync(NGINX) ? false : `nginx is not installed at ${NGINX} (Debian package nginx): the nginx auth_request test cannot run`

t.test('nginx auth_request in front of the API, the node in check mode', { skip }, async (t) => {
  const api = await startUpstream(t)
  const { node, url: nodeUrl } = await startCheckNode(t, {
    deps: { index: indexOf([{ token: BLOCKED, action: 'block', leakId: 7 }, { token: MONITORED, action: 'monitor', leakId: 9 }]) },
  })
  const nginx = await startNginx(t, (listen) => nginxRecipe({ check: Number(new URL(nodeUrl).port), api: Number(new URL(api.url).port), listen }))
  t.teardown(() => {
    if (t.passing()) return
    t.comment(`nginx error log:\n${nginx.errorLog()}`)
  })
  const get = pooledGet(t)

  // The node's own 403 for this leak, asked directly: nginx must answer the client the same.
  const direct = await get(`${nodeUrl}/v1/items`, { authorization: `Bearer ${BLOCKED}` })
  t.equal(direct.status, 403)

  const blocked: Array<[string, string, Record<string, string>]> = [
    ['Authorization', '/v1/items', { authorization: `Bearer ${BLOCKED}` }],
    ['X-API-Key', '/v1/items', { 'x-api-key': BLOCKED }],
    ['query api_key', `/v1/items?page=2&api_key=${BLOCKED}`, {}],
  ]
  for (const [where, path, headers] of blocked) {
    const r = await get(`${nginx.url}${path}`, headers)
    t.equal(r.status, 403, `${where}: 403`)
    t.equal(r.headers['content-type'], 'application/problem+json', `${where}: problem+json`)
    t.equal(r.headers['leakgate-leak-id'], '7', `${where}: Leakgate-Leak-Id`)
    t.equal(r.text, direct.text, `${where}: the node's own body, byte for byte`)
    t.same(JSON.parse(r.text), { code: 'LEAKGATE_ERR_LEAKED_CREDENTIAL', status: 403, leakId: 7, type: 'https://leakgate.dev/problems/leaked-credential', title: 'Forbidden', detail: JSON.parse(direct.text).detail })
  }
  t.equal(api.seen.length, 0, 'no blocked request reached the API')

  const monitored = await get(`${nginx.url}/v1/items?q=1`, { authorization: `Bearer ${MONITORED}`, 'leakgate-verdict': 'spoofed', 'leakgate-leak-id': '1' })
  t.equal(monitored.status, 200, 'a monitored request is let through')
  const seenMonitored = api.seen.at(-1)
  t.equal(seenMonitored?.url, '/v1/items?q=1')
  t.equal(seenMonitored?.headers.authorization, `Bearer ${MONITORED}`, 'its credential reaches the API as sent')
  t.same(leakgateHeaders(seenMonitored?.headers ?? {}), { 'leakgate-verdict': 'monitor', 'leakgate-leak-id': '9' }, 'exactly the node\'s two headers, copied by auth_request_set')

  const clean = await get(`${nginx.url}/v1/items?api_key=${CLEAN}`, { authorization: `Bearer ${CLEAN}`, 'leakgate-verdict': 'monitor', 'leakgate-leak-id': '9' })
  t.equal(clean.status, 200, 'a clean request passes')
  const seenClean = api.seen.at(-1)
  t.equal(seenClean?.url, `/v1/items?api_key=${CLEAN}`, 'untouched target')
  t.equal(seenClean?.headers.authorization, `Bearer ${CLEAN}`, 'untouched credential')
  t.same(leakgateHeaders(seenClean?.headers ?? {}), {}, 'no Leakgate header the client wrote reaches the API')
  t.equal(api.seen.length, 2)

  const inQueryKey = await get(`${nginx.url}/v1/orders?key=${BLOCKED}`, {})
  t.equal(inQueryKey.status, 403, 'parameter `key` in the query, read from X-Original-URI')

  const { counters } = node.metrics
  t.equal(counters.block, 5, 'blocks counted as in proxy mode (the direct one too)')
  t.equal(counters.monitor, 1)
  t.ok(counters.pass >= 1)
  const sightings = node.sightings.take(100)
  t.same(sightings.map((s) => [s.verdict, s.leakId, s.method, s.route]), [
    ['block', 7, 'GET', '/v1/items'],
    ['block', 7, 'GET', '/v1/items'],
    ['block', 7, 'GET', '/v1/items'],
    ['block', 7, 'GET', '/v1/items'],
    ['monitor', 9, 'GET', '/v1/items'],
    ['block', 7, 'GET', '/v1/orders'],
  ], 'sightings name the original route and method')
  t.notOk(JSON.stringify(sightings).includes(BLOCKED), 'no raw token in a sighting')

  // The node gone: nginx answers 500 and forwards nothing (fail closed).
  await node.close()
  const down = await get(`${nginx.url}/v1/items`, { authorization: `Bearer ${CLEAN}` })
  t.equal(down.status, 500, 'node down: nginx fails closed')
  t.equal(api.seen.length, 2, 'and the API saw nothing more')
})
