/**
 * A node whose hash key is not the control plane's would look every credential up under the wrong hash
 * and silently miss every leak. The control plane refuses its sync instead (409 problem+json,
 * LEAKGATE_ERR_HASH_KEY_MISMATCH); the node says so in an error log line, counts it, and keeps the index
 * it had. Real control plane on an ephemeral port, real nodes.
 */
import { cpSync, readdirSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { Rng } from '../detect/corpus/random.js'
import { metricValue, startNode, startUpstream } from '../../node/test/helpers.js'
import { HASH_KEY_ID_HEADER, hashKeyId } from '../../protocol/token-hash.js'
import { newNodeKey, startPlane, tempDir, waitFor } from './harness.js'

const rng = new Rng(0x68617368)
const KEY = rng.bytes(32)
const OTHER_KEY = rng.bytes(32)
const TOKEN = `pw-${rng.chars(12, 'abcdefghijklmnopqrstuvwxyz0123456789')}`

t.test('sync answers only a node with the same hash key', async (t) => {
  const keyed = await startPlane(t, { hashKey: KEY.toString('hex') })
  const snapshot = (headers: Record<string, string>) => keyed.call('GET', '/v1/sync/snapshot', keyed.keys.node, undefined, headers)
  for (const [what, headers] of [['no hash key', {}], ['another hash key', { [HASH_KEY_ID_HEADER]: hashKeyId(OTHER_KEY) }], ['a malformed id', { [HASH_KEY_ID_HEADER]: 'x' }]] as const) {
    const res = await snapshot(headers)
    t.equal(res.statusCode, 409, what)
    t.match(res.headers['content-type'], /application\/problem\+json/)
    t.equal(res.json().code, 'LEAKGATE_ERR_HASH_KEY_MISMATCH', what)
    const changes = await keyed.call('GET', '/v1/sync/changes?since=0&wait=0', keyed.keys.node, undefined, headers)
    t.equal(changes.statusCode, 409, `changes, ${what}`)
  }
  t.equal((await snapshot({ [HASH_KEY_ID_HEADER]: hashKeyId(KEY) })).statusCode, 200, 'the same key')

  const plain = await startPlane(t)
  const refused = await plain.call('GET', '/v1/sync/snapshot', plain.keys.node, undefined, { [HASH_KEY_ID_HEADER]: hashKeyId(KEY) })
  t.equal(refused.statusCode, 409, 'a node with a key, a control plane without')
  t.equal(refused.json().code, 'LEAKGATE_ERR_HASH_KEY_MISMATCH')
  t.equal((await plain.call('GET', '/v1/sync/snapshot', plain.keys.node)).statusCode, 200, 'neither has a key')
})

t.test('a node without the key, or with another, is refused, logs it, counts it and keeps its last index', async (t) => {
  const plane = await startPlane(t, { hashKey: KEY.toString('hex') })
  await plane.app.listen({ port: 0, host: '127.0.0.1' })
  const cpUrl = `http://127.0.0.1:${(plane.app.server.address() as AddressInfo).port}`
  const upstream = await startUpstream(t)
  const env = (cacheDir: string, nodeId: string): Record<string, string> => ({
    LEAKGATE_CONTROL_PLANE: cpUrl, LEAKGATE_CACHE_DIR: cacheDir, LEAKGATE_NODE_ID: nodeId, LEAKGATE_PERSIST_DEBOUNCE_MS: '20',
  })

  // A node with the key syncs, blocks the token and caches its index.
  await plane.call('POST', '/v1/leaks', plane.keys.admin, { tokens: [{ value: TOKEN }], action: 'block' })
  const goodCache = tempDir(t, 'leakgate-node-cache-')
  const good = await startNode(t, { upstream: upstream.url, env: { ...env(goodCache, 'edge-good'), LEAKGATE_NODE_KEY: plane.keys.node, LEAKGATE_HASH_KEY: KEY.toString('hex') } })
  await waitFor('the keyed node to block the token', async () => (await fetch(`${good.url}/`, { headers: { authorization: `Bearer ${TOKEN}` } })).status === 403, 30_000)
  await waitFor('the index to be cached', () => readdirSync(goodCache).includes('index.snapshot') && readdirSync(goodCache).includes('index.changes.json'), 30_000)
  const revision = await metricValue(good.adminUrl, 'leakgate_node_index_revision')
  t.ok(revision >= 1)

  for (const [what, hashKey] of [['no hash key', undefined], ['another hash key', OTHER_KEY.toString('hex')]] as const) {
    const cacheDir = tempDir(t, 'leakgate-node-cache-')
    cpSync(goodCache, cacheDir, { recursive: true })
    const nodeKey = await newNodeKey(plane)
    const node = await startNode(t, { upstream: upstream.url, env: { ...env(cacheDir, `edge-${what.replace(/ /g, '-')}`), LEAKGATE_NODE_KEY: nodeKey, ...(hashKey === undefined ? {} : { LEAKGATE_HASH_KEY: hashKey }) } })
    await waitFor(`the refusal to be counted (${what})`, async () => (await metricValue(node.adminUrl, 'leakgate_node_hash_key_mismatches_total')) >= 1, 30_000)
    t.equal(await metricValue(node.adminUrl, 'leakgate_node_index_revision'), revision, `${what}: the cached index stays in force`)
    t.ok((await metricValue(node.adminUrl, 'leakgate_node_sync_errors_total')) >= 1)
    const line = node.logs.lines.map((l) => JSON.parse(l) as { level: number; err?: { code?: string; message?: string } }).find((l) => l.err?.code === 'LEAKGATE_ERR_HASH_KEY_MISMATCH')
    t.equal(line?.level, 50, `${what}: logged as an error`)
    t.match(line?.err?.message, /hashKey option \(LEAKGATE_HASH_KEY\)/, 'the log line says what to set')
  }
})
