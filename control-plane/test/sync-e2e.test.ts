/**
 * End to end: the real control plane (listening on port 0), a real node following it, and a small
 * upstream. Decisions made through the API are enforced by the node; the node keeps enforcing when
 * the control plane goes away, and starts from its cache when restarted without it.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { sha256Hex } from '../../protocol/token-hash.js'
import { startNode, startUpstream, type RunningNode } from '../../node/test/helpers.js'
import { startPlane, tempDir, waitFor } from './harness.js'

const RAW = 'sk_live_e2e_0123456789abcdefghijklmn'
const HASHED_ONLY = 'AKIAE2ETESTTOKEN0000001'

async function get(node: RunningNode, token: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${node.url}/v1/things`, { headers: { authorization: `Bearer ${token}` } })
  return { status: res.status, body: await res.text() }
}

t.test('decisions reach the node; it keeps enforcing without the control plane', async (t) => {
  const plane = await startPlane(t)
  await plane.app.listen({ port: 0, host: '127.0.0.1' })
  const cpUrl = `http://127.0.0.1:${(plane.app.server.address() as AddressInfo).port}`
  const upstream = await startUpstream(t)
  const cacheDir = tempDir(t, 'leakgate-node-cache-')
  const nodeEnv = {
    LEAKGATE_CONTROL_PLANE: cpUrl, LEAKGATE_NODE_KEY: plane.keys.node, LEAKGATE_CACHE_DIR: cacheDir,
    LEAKGATE_NODE_ID: 'edge-e2e', LEAKGATE_HEARTBEAT_MS: '200', LEAKGATE_PERSIST_DEBOUNCE_MS: '50', LEAKGATE_SIGHTING_FLUSH_MS: '100',
  }
  const node = await startNode(t, { upstream: upstream.url, env: nodeEnv })
  await waitFor('the node to be ready', async () => (await fetch(`${node.adminUrl}/readyz`)).status === 200, 10_000)

  const a = (await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: RAW }], action: 'block' })).json()
  const b = (await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ sha256: sha256Hex(HASHED_ONLY) }], action: 'block' })).json()
  await waitFor('the raw-value leak to be blocked', async () => (await get(node, RAW)).status === 403, 10_000)
  await waitFor('the hash-only leak to be blocked', async () => (await get(node, HASHED_ONLY)).status === 403, 10_000)
  const blocked = await fetch(`${node.url}/v1/things`, { headers: { authorization: `Bearer ${RAW}` } })
  t.equal(blocked.headers.get('leakgate-leak-id'), String(a.id))
  t.equal(((await blocked.json()) as { leakId: number }).leakId, a.id)
  const seenBefore = upstream.seen.length

  await plane.call('PATCH', `/v1/leaks/${a.id}`, plane.keys.admin, { action: 'monitor', comment: 'watch it' })
  await waitFor('monitor to pass', async () => (await get(node, RAW)).status === 200, 10_000)
  const monitored = upstream.seen.at(-1)
  t.equal(monitored?.headers['leakgate-leak-id'], String(a.id))
  t.equal(monitored?.headers['leakgate-verdict'], 'monitor')

  await plane.call('PATCH', `/v1/leaks/${a.id}`, plane.keys.admin, { status: 'closed', comment: 'rotated' })
  await waitFor('a closed leak to pass untouched', async () => {
    const before = upstream.seen.length
    await get(node, RAW)
    const last = upstream.seen.at(-1)
    return upstream.seen.length > before && last?.headers['leakgate-verdict'] === undefined
  }, 10_000)
  t.equal(upstream.seen.at(-1)?.headers['leakgate-leak-id'], undefined)

  await plane.call('PATCH', `/v1/leaks/${a.id}`, plane.keys.admin, { status: 'open', action: 'block', comment: 'reopened' })
  await waitFor('the reopened leak to be blocked again', async () => (await get(node, RAW)).status === 403, 10_000)
  t.ok(upstream.seen.length > seenBefore)

  const audit = (await plane.call('GET', `/v1/audit?leakId=${a.id}`, plane.keys.analyst)).json()
  t.same(audit.items.map((d: { comment: string | null }) => d.comment), ['reopened', 'rotated', 'watch it', null])

  // The node reports back: heartbeats with its revision, and sightings of the blocked requests.
  const revision = await plane.store.index.revision()
  await waitFor('a heartbeat at the current revision', async () => {
    const fleet = (await plane.call('GET', '/v1/nodes', plane.keys.analyst)).json()
    return fleet.items.some((n: { id: string; revision: number }) => n.id === 'edge-e2e' && n.revision === revision)
  }, 10_000)
  await waitFor('sightings to arrive', async () => (await plane.call('GET', `/v1/leaks/${b.id}`, plane.keys.analyst)).json().hits > 0, 10_000)
  const seen = (await plane.call('GET', `/v1/leaks/${b.id}`, plane.keys.analyst)).json()
  t.equal(seen.risk, 'high', 'seen in traffic at one node: high (critical takes a second node)')
  t.equal(seen.sightings[0].nodeId, 'edge-e2e')

  // Control plane gone: the node keeps blocking (fail-static).
  await plane.app.close()
  t.equal((await get(node, RAW)).status, 403)
  t.equal((await get(node, HASHED_ONLY)).status, 403)

  // Node restarted while the control plane is still down: it blocks from its cache.
  await node.node.close()
  const restarted = await startNode(t, { upstream: upstream.url, env: nodeEnv })
  await waitFor('the restarted node to be ready from its cache', async () => (await fetch(`${restarted.adminUrl}/readyz`)).status === 200, 10_000)
  t.equal((await get(restarted, RAW)).status, 403)
  t.equal((await get(restarted, HASHED_ONLY)).status, 403)
  t.equal((await get(restarted, 'a-token-nobody-leaked-000')).status, 200)
  t.match(restarted.logs.text, /started from the cached index/)
})

t.test('a corrupt cache is refused with a clear log line; the node then follows LEAKGATE_NO_INDEX', async (t) => {
  const upstream = await startUpstream(t)
  const cacheDir = tempDir(t, 'leakgate-node-cache-')
  writeFileSync(join(cacheDir, 'index.snapshot'), Buffer.from('LGIDX\r\n\x1a garbage that is not a snapshot'))
  const node = await startNode(t, {
    upstream: upstream.url,
    env: { LEAKGATE_CONTROL_PLANE: 'http://127.0.0.1:1', LEAKGATE_NODE_KEY: 'lgk_0000000000000000000000000000000000000000', LEAKGATE_CACHE_DIR: cacheDir, LEAKGATE_NO_INDEX: 'closed' },
  })
  await waitFor('the refusal in the log', () => /cached index refused/.test(node.logs.text), 10_000)
  t.equal((await fetch(`${node.adminUrl}/readyz`)).status, 503, 'not ready without an index')
  t.equal((await get(node, 'anything-at-all-123456')).status, 503, 'closed: 503 without an index')
})
