/**
 * Snapshots through a cache: a real nginx run from the shipped deploy/nginx/control-plane-cache.conf in
 * front of the real control plane, and real nodes. A node pointed at nginx for snapshots only
 * (LEAKGATE_SNAPSHOT_URL), and one pointed at nginx for everything (it follows the redirect), both
 * enforce; the control plane built and sent the snapshot once; nginx serves it with the immutable
 * headers, answers 304 to its ETag, and hands it only to a node the control plane would.
 *
 * And what a node refuses from a cache: a snapshot made with another hash key (an error, counted, no
 * index taken), or other bytes than the ones named (it fetches from the control plane instead).
 */
import { existsSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { Rng } from '../detect/corpus/random.js'
import { metricValue, startNode, startUpstream, type RunningNode } from '../../node/test/helpers.js'
import { NGINX, startNginx } from '../../node/test/check-mode-helpers.js'
import { HASH_KEY_ID_HEADER, hashKeyId } from '../../protocol/token-hash.js'
import { startPlane, tempDir, waitFor, type TestPlane, type Teardown } from './harness.js'
import { cacheRecipe } from './nginx-cache.js'

const rng = new Rng(0x63616368)
const token = (): string => `sk_live_${rng.chars(28, 'abcdefghijklmnopqrstuvwxyz0123456789')}`
const skip = existsSync(NGINX) ? false : `nginx is not installed at ${NGINX} (Debian package nginx): the snapshot cache test cannot run`

async function listen(plane: TestPlane): Promise<string> {
  await plane.app.listen({ port: 0, host: '127.0.0.1' })
  return `http://127.0.0.1:${(plane.app.server.address() as AddressInfo).port}`
}

async function status(node: RunningNode, credential: string): Promise<number> {
  const res = await fetch(`${node.url}/v1/x`, { headers: { authorization: `Bearer ${credential}` } })
  await res.arrayBuffer()
  return res.status
}

async function planeMetric(plane: TestPlane, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = (await plane.call('GET', '/metrics')).body
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`)
  let sum = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    if (want.every((w) => line.includes(w))) sum += Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return sum
}

function nodeEnv(t: Teardown, controlPlane: string, nodeKey: string, nodeId: string, extra: Record<string, string> = {}): Record<string, string> {
  return { LEAKGATE_CONTROL_PLANE: controlPlane, LEAKGATE_NODE_KEY: nodeKey, LEAKGATE_CACHE_DIR: tempDir(t, 'leakgate-node-cache-'), LEAKGATE_NODE_ID: nodeId, LEAKGATE_PERSIST_DEBOUNCE_MS: '20', ...extra }
}

t.test('nodes fetch the snapshot through nginx; the control plane builds and sends it once', { skip }, async (t) => {
  const plane = await startPlane(t)
  const cpUrl = await listen(plane)
  const nginx = await startNginx(t, (port, dir) => cacheRecipe({ controlPlane: Number(new URL(cpUrl).port), listen: port }, dir))
  t.teardown(() => {
    if (!t.passing()) t.comment(`nginx error log:\n${nginx.errorLog()}`)
  })
  const upstream = await startUpstream(t)
  const leaked = token()
  const leak = (await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: leaked }], action: 'block' })).json() as { id: number }

  // The control plane built the empty index's snapshot at start.
  const buildsBefore = await planeMetric(plane, 'leakgate_cp_snapshot_builds_total')

  // One node asks the control plane and fetches the bytes from nginx; the other goes through nginx for all.
  const viaBase = await startNode(t, { upstream: upstream.url, env: nodeEnv(t, cpUrl, plane.keys.node, 'edge-base', { LEAKGATE_SNAPSHOT_URL: nginx.url }) })
  await waitFor('the node with a snapshot URL to block', async () => (await status(viaBase, leaked)) === 403, 20_000)
  const viaNginx = await startNode(t, { upstream: upstream.url, env: nodeEnv(t, nginx.url, plane.keys.node, 'edge-nginx') })
  await waitFor('the node behind nginx to block', async () => (await status(viaNginx, leaked)) === 403, 20_000)

  const immutable = { method: 'GET', route: '/v1/sync/snapshot/:revision' }
  t.equal(await planeMetric(plane, 'leakgate_cp_snapshot_builds_total'), buildsBefore + 1, 'one build for both nodes')
  t.equal(await planeMetric(plane, 'leakgate_cp_http_requests_total', { ...immutable, status_code: '200' }), 1, 'the bytes left the control plane once')
  t.equal(await planeMetric(plane, 'leakgate_cp_http_requests_total', { method: 'HEAD', route: immutable.route, status_code: '200' }), 2, 'each node was authorized by the control plane (HEAD, no bytes)')
  for (const node of [viaBase, viaNginx]) {
    t.notOk(node.logs.text.includes('immutable URL failed'), 'no fallback to the control plane')
  }

  // What nginx answers a node (here, by hand): the control plane's headers, from the cache.
  const redirect = await fetch(`${nginx.url}/v1/sync/snapshot?redirect=true`, { headers: { authorization: `Bearer ${plane.keys.node}` }, redirect: 'manual' })
  t.equal(redirect.status, 307)
  const location = new URL(String(redirect.headers.get('location')), `${nginx.url}/v1/sync/snapshot`).href
  const hit = await fetch(location, { headers: { authorization: `Bearer ${plane.keys.node}` } })
  const bytes = Buffer.from(await hit.arrayBuffer())
  t.equal(hit.status, 200)
  t.equal(hit.headers.get('leakgate-cache'), 'HIT')
  t.equal(hit.headers.get('cache-control'), 'public, max-age=31536000, immutable')
  const etag = String(hit.headers.get('etag'))
  t.match(etag, /^"r1-[0-9a-f]{32}"$/)
  t.same(bytes, (await plane.call('GET', '/v1/sync/snapshot', plane.keys.node)).rawPayload, 'the control plane\'s bytes')
  const notModified = await fetch(location, { headers: { authorization: `Bearer ${plane.keys.node}`, 'if-none-match': etag } })
  t.equal(notModified.status, 304, 'If-None-Match: 304 from the cache')
  t.equal(notModified.headers.get('etag'), etag)
  // The cache hands the snapshot only to whom the control plane would.
  t.equal((await fetch(location)).status, 401, 'no key: refused')
  t.equal((await fetch(location, { headers: { authorization: `Bearer ${plane.keys.analyst}` } })).status, 403, 'a key without the node role: refused')
  t.equal(await planeMetric(plane, 'leakgate_cp_http_requests_total', { ...immutable, status_code: '200' }), 1, 'still sent once')

  // The changes still reach both nodes (the long-poll passes through nginx, uncached).
  await plane.call('PATCH', `/v1/leaks/${leak.id}`, plane.keys.admin, { action: 'monitor' })
  await waitFor('both nodes to let it through', async () => (await status(viaBase, leaked)) === 200 && (await status(viaNginx, leaked)) === 200, 20_000)
})

/** A cache that answers every GET with one recorded answer, whatever was asked: a broken or foreign one. */
async function replayingCache(t: Teardown, answer: { headers: Record<string, string>; body: Buffer }): Promise<string> {
  const server = createServer((req, res) => {
    res.writeHead(200, answer.headers)
    res.end(answer.body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

async function immutableAnswer(plane: TestPlane, headers: Record<string, string> = {}): Promise<{ headers: Record<string, string>; body: Buffer }> {
  const redirect = await plane.call('GET', '/v1/sync/snapshot?redirect=true', plane.keys.node, undefined, headers)
  const res = await plane.call('GET', `/v1/sync/snapshot/${String(redirect.headers.location).slice('snapshot/'.length)}`, plane.keys.node, undefined, headers)
  if (res.statusCode !== 200) throw new Error(`immutable snapshot: ${res.statusCode}`)
  const keep = ['etag', 'cache-control', 'content-type', 'leakgate-revision', HASH_KEY_ID_HEADER]
  return { headers: Object.fromEntries(keep.flatMap((h) => (res.headers[h] === undefined ? [] : [[h, String(res.headers[h])]]))), body: res.rawPayload }
}

t.test('a snapshot made with another hash key, served by a cache, is refused', async (t) => {
  const key = rng.bytes(32)
  const foreignKey = rng.bytes(32)
  // Another deployment, whose snapshot a wrongly shared cache hands out.
  const foreign = await startPlane(t, { hashKey: foreignKey.toString('hex') })
  await foreign.call('POST', '/v1/leaks', foreign.keys.admin, { tokens: [{ value: token() }], action: 'block' })
  const cache = await replayingCache(t, await immutableAnswer(foreign, { [HASH_KEY_ID_HEADER]: hashKeyId(foreignKey) }))

  const plane = await startPlane(t, { hashKey: key.toString('hex') })
  const cpUrl = await listen(plane)
  const upstream = await startUpstream(t)
  await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: token() }], action: 'block' })
  const node = await startNode(t, { upstream: upstream.url, env: nodeEnv(t, cpUrl, plane.keys.node, 'edge-keyed', { LEAKGATE_SNAPSHOT_URL: cache, LEAKGATE_HASH_KEY: key.toString('hex') }) })
  await waitFor('the refusal to be counted', async () => (await metricValue(node.adminUrl, 'leakgate_node_hash_key_mismatches_total')) >= 1, 20_000)
  const line = node.logs.lines.map((l) => JSON.parse(l) as { level: number; err?: { code?: string; message?: string } }).find((l) => l.err?.code === 'LEAKGATE_ERR_HASH_KEY_MISMATCH')
  t.equal(line?.level, 50, 'logged as an error')
  t.match(line?.err?.message, new RegExp(`made with hash key id ${hashKeyId(foreignKey)}, and this node has id ${hashKeyId(key)}`))
  t.notOk(/loaded a snapshot/.test(node.logs.text), 'no index taken')
  t.equal((await fetch(`${node.adminUrl}/readyz`)).status, 503, 'the node has no index')
})

t.test('other bytes than the ones named (a stale or wrongly keyed cache): the node fetches from the control plane instead', async (t) => {
  const plane = await startPlane(t)
  const cpUrl = await listen(plane)
  const upstream = await startUpstream(t)
  await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: token() }], action: 'block' })
  const stale = await immutableAnswer(plane)
  const leaked = token()
  await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: leaked }], action: 'block' })
  const cache = await replayingCache(t, stale)
  const node = await startNode(t, { upstream: upstream.url, env: nodeEnv(t, cpUrl, plane.keys.node, 'edge-stale', { LEAKGATE_SNAPSHOT_URL: cache }) })
  await waitFor('the node to block the newer leak', async () => (await status(node, leaked)) === 403, 20_000)
  t.match(node.logs.text, /the snapshot's immutable URL failed; fetching the snapshot from the control plane directly/)
  t.match(node.logs.text, /answered the ETag \\"r1-/, 'the log says why')
})
