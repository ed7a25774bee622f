/**
 * The sync client on its own: retry delays, and what the node does from its cache while the control
 * plane is away. (Following a live control plane is tested with the real one in control-plane/test/.)
 */
import t from 'tap'
import { writeFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { backoffDelay } from './sync-client.js'
import { sha256Hex } from '../protocol/token-hash.js'
import { encodeSnapshot } from '../protocol/snapshot.js'
import { IndexCache } from './leakdb/cache.js'
import { pooledGet, startNode, startUpstream, tempDir, waitFor } from './test/helpers.js'
import { buildNode } from './app.js'
import { loadNodeConfig } from './config.js'

const CACHED = 'ghp_CachedLeakToken0000000000000000000A'
const JOURNALED = 'ghp_JournaledLeakToken00000000000000000B'
const get = pooledGet(t)

t.test('backoff grows exponentially, is capped, and is jittered', async (t) => {
  for (let attempt = 0; attempt < 30; attempt++) {
    const base = Math.min(30_000, 250 * 2 ** attempt)
    for (let i = 0; i < 20; i++) {
      const d = backoffDelay(attempt)
      t.ok(d >= base / 2 && d <= base, `attempt ${attempt}: ${d} within [${base / 2}, ${base}]`)
    }
  }
  const samples = new Set(Array.from({ length: 20 }, () => backoffDelay(5)))
  t.ok(samples.size > 1, 'jittered')
})

t.test('control plane away: the node starts from its cache (snapshot and journal) and enforces it', async (t) => {
  const upstream = await startUpstream(t)
  const cacheDir = tempDir(t)
  const cache = new IndexCache(cacheDir)
  await cache.saveSnapshot(encodeSnapshot([{ sha256: sha256Hex(CACHED), action: 'block', leakId: 1 }], 4))
  await cache.saveChanges([{ rev: 5, op: 'upsert', sha256: sha256Hex(JOURNALED), action: 'monitor', leakId: 2 }])
  const { url, adminUrl, node, logs } = await startNode(t, { upstream: upstream.url, env: { LEAKGATE_CACHE_DIR: cacheDir, LEAKGATE_NO_INDEX: 'closed', LEAKGATE_HEARTBEAT_MS: '100' } })
  await waitFor('readyz', async () => (await get(`${adminUrl}/readyz`)).status === 200)
  t.match(JSON.parse((await get(`${adminUrl}/readyz`)).text), { revision: 5, indexEntries: 2 })
  t.equal((await get(`${url}/a`, { authorization: `Bearer ${CACHED}` })).status, 403, 'a cached leak is blocked')
  t.equal((await get(`${url}/a`, { 'x-api-key': JOURNALED })).status, 200, 'a journaled monitor leak is forwarded')
  t.equal(upstream.seen.at(-1)?.headers['leakgate-leak-id'], '2')
  await waitFor('a sync error to be counted', () => node.metrics.counters.syncErrors >= 2)
  t.match(logs.text, /started from the cached index/)
  const warnings = logs.lines.filter((l) => l.includes('sync with the control plane failed'))
  t.equal(warnings.filter((l) => l.includes('"level":40')).length, 1, 'the outage is logged once at warn, not at every retry')
  const metrics = (await get(`${adminUrl}/metrics`)).text
  t.match(metrics, /leakgate_node_sync_errors_total [1-9]/)
  t.match(metrics, /leakgate_node_index_revision 5/)
  t.match(metrics, /leakgate_node_sync_age_seconds -1/, 'never synced with the control plane')
})

t.test('a corrupt cache is refused with a clear log line; the node acts as noIndex says', async (t) => {
  const upstream = await startUpstream(t)
  const cacheDir = tempDir(t)
  await mkdir(cacheDir, { recursive: true })
  const good = encodeSnapshot([{ sha256: sha256Hex(CACHED), action: 'block', leakId: 1 }], 4)
  const truncated = good.subarray(0, good.length - 5)
  await writeFile(join(cacheDir, 'index.snapshot'), truncated)
  const closed = await startNode(t, { upstream: upstream.url, env: { LEAKGATE_CACHE_DIR: cacheDir, LEAKGATE_NO_INDEX: 'closed' } })
  await waitFor('the refusal to be logged', () => closed.logs.text.includes('cached index refused'))
  const line = closed.logs.lines.find((l) => l.includes('cached index refused')) ?? ''
  t.match(JSON.parse(line), { level: 50, err: { code: /^LEAKGATE_ERR_SNAPSHOT_/ }, cacheDir })
  t.equal((await get(`${closed.adminUrl}/readyz`)).status, 503)
  t.equal((await get(`${closed.url}/a`)).status, 503, 'closed: 503')

  const open = await startNode(t, { upstream: upstream.url, env: { LEAKGATE_CACHE_DIR: cacheDir, LEAKGATE_NO_INDEX: 'open' } })
  await waitFor('the refusal to be logged', () => open.logs.text.includes('cached index refused'))
  t.equal((await get(`${open.url}/a`, { authorization: `Bearer ${CACHED}` })).status, 200, 'open: forwarded')
})

t.test('restarted with a cache, the node checks its first request against the cached index', async (t) => {
  const upstream = await startUpstream(t)
  const cacheDir = tempDir(t)
  await new IndexCache(cacheDir).saveSnapshot(encodeSnapshot([{ sha256: sha256Hex(CACHED), action: 'block', leakId: 1 }], 4))
  // noIndex open, control plane away: before the cache is loaded the node would forward anything.
  const { url } = await startNode(t, { upstream: upstream.url, env: { LEAKGATE_CACHE_DIR: cacheDir, LEAKGATE_NO_INDEX: 'open' } })
  t.equal((await get(`${url}/a`, { authorization: `Bearer ${CACHED}` })).status, 403, 'the first request is blocked')
  t.equal(upstream.seen.length, 0, 'nothing reached the upstream')
})

t.test('with no cache at all, the node still starts and acts as noIndex says', async (t) => {
  const upstream = await startUpstream(t)
  const cacheDir = join(tempDir(t), 'none')
  const open = await startNode(t, { upstream: upstream.url, env: { LEAKGATE_CACHE_DIR: cacheDir, LEAKGATE_NO_INDEX: 'open' } })
  t.equal((await get(`${open.url}/a`, { authorization: `Bearer ${CACHED}` })).status, 200, 'open: forwarded')
  const closed = await startNode(t, { upstream: upstream.url, env: { LEAKGATE_CACHE_DIR: cacheDir, LEAKGATE_NO_INDEX: 'closed' } })
  t.equal((await get(`${closed.url}/a`)).status, 503, 'closed: 503')
})

t.test('a corrupt journal: the cached snapshot is still enforced, and the error is logged', async (t) => {
  const upstream = await startUpstream(t)
  const cacheDir = tempDir(t)
  const cache = new IndexCache(cacheDir)
  await cache.saveSnapshot(encodeSnapshot([{ sha256: sha256Hex(CACHED), action: 'block', leakId: 1 }], 4))
  await writeFile(cache.changesPath, '{"base": 4, "changes": [')
  const { url, adminUrl, logs } = await startNode(t, { upstream: upstream.url, env: { LEAKGATE_CACHE_DIR: cacheDir, LEAKGATE_NO_INDEX: 'open' } })
  t.equal((await get(`${url}/a`, { authorization: `Bearer ${CACHED}` })).status, 403, 'the snapshot\'s leak is blocked')
  t.match(JSON.parse((await get(`${adminUrl}/readyz`)).text), { revision: 4, indexEntries: 1 })
  const line = logs.lines.find((l) => l.includes('cached change journal dropped')) ?? ''
  t.match(JSON.parse(line), { level: 50, err: { code: 'LEAKGATE_ERR_CHANGE_INVALID' }, cacheDir, revision: 4 })
})

t.test('a node closed while its cache loads does not start listening', async (t) => {
  const upstream = await startUpstream(t)
  const cacheDir = tempDir(t)
  await new IndexCache(cacheDir).saveSnapshot(encodeSnapshot([{ sha256: sha256Hex(CACHED), action: 'block', leakId: 1 }], 4))
  const config = loadNodeConfig({
    env: { LEAKGATE_CONTROL_PLANE: 'http://127.0.0.1:1', LEAKGATE_CACHE_DIR: cacheDir, LEAKGATE_LOG_LEVEL: 'error' },
    flags: { upstream: upstream.url, port: '0', host: '127.0.0.1' },
  })
  const node = buildNode(config, { logStream: { write: () => {} } })
  t.teardown(() => node.close())
  const listening = node.proxy.listen({ port: 0, host: '127.0.0.1' })
  await node.close()
  await t.rejects(listening, { code: 'LEAKGATE_ERR_SHUTTING_DOWN' })
  t.equal(node.proxy.server.listening, false)
})
